"""Write the lecture notebooks (``notebooks/NN_*.ipynb``) from the cells below.

The notebooks are generated, so that their prose and code can be reviewed as one Python file and kept
consistent (the same settings cell, the same output folder, no outputs in git)::

    python notebooks/_build.py          # rewrite every notebook
    python notebooks/_build.py --check  # exit 1 if a committed notebook differs from what this file writes

Edit the cells here, not the ``.ipynb`` files; ``tests/test_notebooks.py`` runs every notebook.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent


def md(text: str):
    return new_markdown_cell(textwrap.dedent(text).strip("\n"))


def code(text: str):
    return new_code_cell(textwrap.dedent(text).strip("\n"))


def settings(folder: str, body: str):
    """The first code cell: the notebook's small settings, then where files go and how many CPU threads."""
    head = """
    import os
    import tempfile
    import warnings
    """
    tail = f'''
    # ---- where files go, and CPU threads (you should not need to change these) ----
    # Run folders and figures go to $HF_RNN_NOTEBOOK_OUT/{folder} (the tests set it) or a fresh temporary folder:
    # never into the repository.
    OUT = (os.path.join(os.environ["HF_RNN_NOTEBOOK_OUT"], "{folder}") if os.environ.get("HF_RNN_NOTEBOOK_OUT")
           else tempfile.mkdtemp(prefix="hf_rnn_{folder}_"))
    os.makedirs(OUT, exist_ok=True)
    # PyTorch CPU threads. 1 is the fastest on a shared, busy CPU (threads waiting for each other can make every
    # step many times slower); on a machine of your own, set HF_RNN_NOTEBOOK_THREADS to its number of cores.
    THREADS = int(os.environ.get("HF_RNN_NOTEBOOK_THREADS", "1"))
    os.environ["OMP_NUM_THREADS"] = str(THREADS)  # before torch starts; also reaches subprocesses
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tqdm's "IProgress not found" in a kernel without ipywidgets
        import datasets
        import torch
        import transformers

    torch.set_num_threads(THREADS)
    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    %matplotlib inline
    print(f"files go to {{OUT}}; {{THREADS}} CPU thread(s)")
    '''
    return code("\n\n".join(textwrap.dedent(part).strip("\n") for part in (head, body, tail)))


# ============================================================================================= 01


def nb01():
    return [
        md(r"""
        # 1 · RNN forward propagation, by hand and with `hf_rnn`

        The lecture's recap of the simple RNN layer (slides *RNN Layer*, *RNN Forward Propagation*, *RNN Output*):
        one layer reads a sequence $X_0, \dots, X_{T-1}$ one element at a time and keeps an **activation** $A$
        that it passes from one step to the next. In this notebook we

        1. write the forward pass by hand in NumPy on the lecture's sentence *"I like red apples"*,
        2. run the same numbers through `hf_rnn`'s step-by-step `SimpleRNN` (the slides as a PyTorch module),
        3. check that the library's fast, fused `cell="rnn"` model computes **the same function** (to $10^{-5}$),
        4. see why we use a *recurrent* network rather than an MLP: parameters that do not grow with the
           sequence length, and inputs of any length.

        Everything here is tiny: the notebook runs in seconds.
        """),
        settings("01_rnn_forward", '''
        # ---- Settings (the lecture's toy sizes; the numbers are random, nothing is trained here) ----
        SENTENCE = "I like red apples"        # the lecture's word-labeling example
        TAGS = ["pron", "verb", "adj", "noun"]  # its tags: the output size "?" of W_Y
        D = 6              # embedding size d (real word embeddings: 50-300; hf_rnn's recipes use 128)
        UNITS = 5          # RNN units (the lecture's SimpleRNN(5); the recipes use 128-256)
        SEED = 0           # random embeddings and weights
        MAX_T = 50         # longest sequence in the RNN-vs-MLP parameter plot (any value works)
        PLOT_D, PLOT_UNITS = 128, 128  # layer sizes for that plot (the recipes' sizes)
        '''),
        md(r"""
        ## The layer, its parameters and their shapes

        For every step $t = 0, \dots, T-1$ (the slides' loop):

        $$A_t = g\left(X_t \cdot W_X + A_{t-1} \cdot W_A + b_A\right), \qquad A_{-1} = [[0\ 0\ \dots\ 0]], \qquad g = \tanh$$

        $$y_t = g_y\left(A_t \cdot W_Y + b_Y\right), \qquad g_y \in \{\text{sigmoid}, \text{softmax}, \text{linear}\}$$

        | parameter | shape | what it does |
        |---|---|---|
        | $W_X$ | $(d, \text{units})$ | maps the input $X_t$ (a $d$-dimensional word embedding) to the units |
        | $W_A$ | $(\text{units}, \text{units})$ | maps the previous activation to the units: the *recurrence* |
        | $b_A$ | $(\text{units},)$ | bias of the units |
        | $A$ | $(1, \text{units})$ | the activation, starting at zeros (not a parameter) |
        | $W_Y$ | $(\text{units}, ?)$ | maps the activation to the output; `?` = number of outputs |
        | $b_Y$ | $(?,)$ | bias of the output |

        The **same** $W_X, W_A, b_A$ are used at every step: that is what makes the layer recurrent. For word
        labeling ("I like red apples" → pron verb adj noun) `?` is the number of tags and $g_y$ is a softmax; for
        sentiment classification `?` is 1 (sigmoid) and only the last $y$ is used.
        """),
        md(r"""
        ## 1. By hand, in NumPy

        The lecture's *Word Embedding* slide shows each word as a column of numbers. Ours are random (a trained
        model learns them), $d = 6$ numbers per word:
        """),
        code('''
        import numpy as np

        rng = np.random.default_rng(SEED)
        words = SENTENCE.split()
        T = len(words)
        X = rng.normal(0.0, 1.0, size=(T, D)).astype(np.float32)  # row t = embedding of word t

        bound = 1 / np.sqrt(UNITS)  # the usual uniform initialisation range
        W_X = rng.uniform(-bound, bound, size=(D, UNITS)).astype(np.float32)
        W_A = rng.uniform(-bound, bound, size=(UNITS, UNITS)).astype(np.float32)
        b_A = rng.uniform(-bound, bound, size=(UNITS,)).astype(np.float32)
        W_Y = rng.uniform(-bound, bound, size=(UNITS, len(TAGS))).astype(np.float32)
        b_Y = rng.uniform(-bound, bound, size=(len(TAGS),)).astype(np.float32)

        for name, value in [("X", X), ("W_X", W_X), ("W_A", W_A), ("b_A", b_A), ("W_Y", W_Y), ("b_Y", b_Y)]:
            print(f"{name:4s} shape {str(value.shape):8s}")
        '''),
        md(r"""
        The forward pass is the slides' loop, line for line. The output activation is a softmax over the four
        tags, so each $y_t$ is a probability distribution (the weights are random, so the tags it picks mean
        nothing yet).
        """),
        code('''
        def softmax(z):
            e = np.exp(z - z.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)

        A = np.zeros((1, UNITS), dtype=np.float32)  # A = [[0 0 ... 0]]
        A_by_hand, y_by_hand = [], []
        for t in range(T):
            A = np.tanh(X[t : t + 1] @ W_X + A @ W_A + b_A)  # (1,d)(d,units) + (1,units)(units,units) + (units,)
            y_t = softmax(A @ W_Y + b_Y)                      # (1,units)(units,?) + (?,)
            A_by_hand.append(A[0])
            y_by_hand.append(y_t[0])
            print(f"t={t} {words[t]:7s} A_t = {np.round(A[0], 3)}   y_t = {np.round(y_t[0], 3)} -> {TAGS[y_t.argmax()]}")
        A_by_hand, y_by_hand = np.stack(A_by_hand), np.stack(y_by_hand)
        '''),
        code('''
        import matplotlib.pyplot as plt

        fig, (ax_a, ax_y) = plt.subplots(1, 2, figsize=(10, 3.2), layout="constrained")
        image = ax_a.imshow(A_by_hand, cmap="RdBu_r", vmin=-1, vmax=1)
        ax_a.set(title="activations $A_t$ (tanh: between -1 and 1)", xlabel="unit", ylabel="step t")
        ax_a.set_yticks(range(T), [f"{t}: {w}" for t, w in enumerate(words)])
        fig.colorbar(image, ax=ax_a)
        image = ax_y.imshow(y_by_hand, cmap="viridis", vmin=0, vmax=1)
        ax_y.set(title="outputs $y_t$ (softmax over the tags)", xlabel="tag")
        ax_y.set_xticks(range(len(TAGS)), TAGS)
        ax_y.set_yticks(range(T), words)
        fig.colorbar(image, ax=ax_y)
        plt.show()
        '''),
        md(r"""
        Each row of the left panel is one $A_t$: the layer's whole memory of the words so far, squeezed into
        `UNITS` numbers between −1 and 1. Each row of the right panel sums to 1.

        ## 2. The same numbers through `hf_rnn.models.SimpleRNN`

        `SimpleRNN` is the slides as a PyTorch module: its parameters are called `W_X`, `W_A`, `b_A`, `W_Y`, `b_Y`
        and have exactly the shapes of the table. We copy our NumPy weights into it and feed it the same $X$
        (with a batch dimension in front: `(1, T, d)`).
        """),
        code('''
        from hf_rnn.models import SimpleRNN

        layer = SimpleRNN(D, UNITS, len(TAGS), output_activation="softmax")
        for name, parameter in layer.named_parameters():
            print(f"{name:4s} {tuple(parameter.shape)}")
        with torch.no_grad():
            for name, value in {"W_X": W_X, "W_A": W_A, "b_A": b_A, "W_Y": W_Y, "b_Y": b_Y}.items():
                getattr(layer, name).copy_(torch.from_numpy(value))
            y_lib, A_lib = layer(torch.from_numpy(X)[None])  # y: (1, T, ?), A: (1, T, units)

        same = np.allclose(y_lib[0].numpy(), y_by_hand, atol=1e-6) and np.allclose(A_lib[0].numpy(), A_by_hand, atol=1e-6)
        print("SimpleRNN equals the NumPy loop:", same)
        '''),
        md(r"""
        ## 3. The fused model computes the same function

        `SimpleRNN` loops over the steps in Python: clear, but slow. The models that `hf_rnn` trains
        (`RNNForTokenClassification`, `RNNForSequenceClassification`, ...) run PyTorch's fused `nn.RNN` kernel,
        which does all the steps in one call. `RNNConfig(cell="rnn")` is the lecture's tanh layer. PyTorch stores
        the weights transposed, `weight_ih_l0` $= W_X^\top$ of shape (units, d) and `weight_hh_l0` $= W_A^\top$, and
        the classifier's last `Linear` holds $W_Y^\top$ and $b_Y$. `keras_bias=True` keeps one bias per layer,
        $b_A$, as Keras does (PyTorch otherwise keeps two, `bias_ih` and `bias_hh`, which only ever act through
        their sum).
        """),
        code('''
        from hf_rnn import RNNConfig, RNNForTokenClassification

        vocab = {"[PAD]": 0, **{w: i + 1 for i, w in enumerate(words)}}  # a 4-word vocabulary (+ padding)
        config = RNNConfig(vocab_size=len(vocab), embedding_size=D, hidden_size=UNITS, cell="rnn",
                           num_labels=len(TAGS), id2label=dict(enumerate(TAGS)),
                           label2id={t: i for i, t in enumerate(TAGS)}, keras_bias=True)
        torch.manual_seed(SEED)
        model = RNNForTokenClassification(config).eval()
        for name, parameter in model.named_parameters():
            print(f"{name:28s} {tuple(parameter.shape)}")
        '''),
        md(r"""
        `SimpleRNN.from_model` copies the fused model's weights into the slides' shapes. The model starts from
        token ids: its embedding table turns "I like red apples" into $X$ (`(1, T, d)`), and both compute from
        there.
        """),
        code('''
        twin = SimpleRNN.from_model(model, output_activation="softmax")
        ids = torch.tensor([[vocab[w] for w in words]])
        with torch.no_grad():
            X_model = model.get_input_embeddings()(ids)      # (1, T, d)
            y_equations, A_equations = twin(X_model)          # the slides' loop
            probabilities = model(input_ids=ids).logits.softmax(-1)  # the fused kernel (+ softmax: the loss applies it in training)
        difference = (y_equations - probabilities).abs().max().item()
        print(f"shapes: W_X {tuple(twin.W_X.shape)}, W_A {tuple(twin.W_A.shape)}, b_A {tuple(twin.b_A.shape)}, "
              f"W_Y {tuple(twin.W_Y.shape)}, b_Y {tuple(twin.b_Y.shape)}")
        print(f"largest difference between the equations and the fused model: {difference:.1e}")
        print("equations == fused model, to 1e-5:", difference < 1e-5)
        '''),
        md(r"""
        **Sentiment classification** uses the same layer with a non-sequence output: only the last activation
        $A_{T-1}$ goes through the output layer (`?` = 1 and a sigmoid for a positive/negative score).
        `RNNForSequenceClassification` with `num_labels=1` is exactly that, and its output is the last $y_t$ of
        the step-by-step twin:
        """),
        code('''
        from hf_rnn import RNNForSequenceClassification

        review = "Neat plot . Great acting .".split()  # the lecture's example, punctuation as words
        review_vocab = {"[PAD]": 0, **{w: i + 1 for i, w in enumerate(dict.fromkeys(review))}}
        torch.manual_seed(SEED)
        classifier = RNNForSequenceClassification(RNNConfig(
            vocab_size=len(review_vocab), embedding_size=D, hidden_size=UNITS, cell="rnn", num_labels=1,
            keras_bias=True)).eval()
        review_twin = SimpleRNN.from_model(classifier, output_activation="sigmoid")
        review_ids = torch.tensor([[review_vocab[w] for w in review]])
        with torch.no_grad():
            y_all, _ = review_twin(classifier.get_input_embeddings()(review_ids))
            score = classifier(input_ids=review_ids).logits.sigmoid()
        print("y_t at every step:", np.round(y_all[0, :, 0].numpy(), 4))
        print("classifier output:", round(score.item(), 4), "= the last y_t:",
              abs(score.item() - y_all[0, -1, 0].item()) < 1e-5)
        '''),
        md(r"""
        ## 4. Why a *recurrent* network rather than an MLP?

        The lecture's reasons: an RNN (like a CNN) **reuses what it learned** about one part of the input on the
        other parts, it has **fewer parameters per layer**, it takes **inputs (and outputs) of any length**, and it
        follows the **sequential nature** of the data.

        *Parameters.* An MLP that reads a whole sentence at once needs the $T$ embeddings side by side, one input
        vector of $T \cdot d$ numbers, so its first layer has $T \cdot d \cdot \text{units} + \text{units}$ weights and
        they grow with $T$. The RNN layer has $d \cdot \text{units} + \text{units}^2 + \text{units}$ whatever
        $T$ is. We check that count on a real `hf_rnn` layer, then plot both:
        """),
        code('''
        from hf_rnn.models import RNNModel, count_parameters, keras_dense_params, keras_rnn_params

        rnn_layer = RNNModel(RNNConfig(vocab_size=10, embedding_size=PLOT_D, hidden_size=PLOT_UNITS, cell="rnn",
                                       keras_bias=True))
        rnn_count = count_parameters(rnn_layer, include_embeddings=False)
        formula = PLOT_D * PLOT_UNITS + PLOT_UNITS**2 + PLOT_UNITS
        print(f"RNN layer (d={PLOT_D}, units={PLOT_UNITS}): {rnn_count:,} parameters; d*u + u^2 + u = {formula:,}:",
              rnn_count == formula == keras_rnn_params("rnn", PLOT_UNITS, PLOT_D))

        lengths = np.arange(1, MAX_T + 1)
        mlp_counts = np.array([keras_dense_params(T_ * PLOT_D, PLOT_UNITS) for T_ in lengths])
        fig, ax = plt.subplots(figsize=(7.5, 4), layout="constrained")
        ax.plot(lengths, mlp_counts, label="MLP: first Dense layer on the T·d concatenated embeddings")
        ax.plot(lengths, np.full(len(lengths), rnn_count), label="RNN layer (the same for every T)")
        ax.set(xlabel="sequence length T (words)", ylabel="parameters",
               title=f"Parameters of one layer of {PLOT_UNITS} units, d = {PLOT_D}")
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v / 1e3:,.0f}k"))
        ax.grid(alpha=0.3)
        ax.legend()
        plt.show()
        print(f"at T = {MAX_T}: MLP {mlp_counts[-1]:,} vs RNN {rnn_count:,} parameters "
              f"({mlp_counts[-1] / rnn_count:.0f}x)")
        '''),
        md(r"""
        The two lines meet at $T = 2$ for these sizes ($d = \text{units}$); beyond that the MLP's first layer
        grows by $d \cdot \text{units}$ weights per extra word, and it still could not read a sentence longer
        than the $T$ it was built for.

        *Any length.* The same `model` (same parameters) labels sentences of any length, one output per word. A
        batch of sentences of different lengths is padded to the longest, and `attention_mask` tells the model
        which positions are real: `hf_rnn` packs the sequences, so the padding changes nothing.
        """),
        code('''
        sentences = ["I like apples", "I like red apples", "red apples", "I like red red red apples"]
        alone = []
        with torch.no_grad():
            for sentence in sentences:
                sentence_ids = torch.tensor([[vocab[w] for w in sentence.split()]])
                logits = model(input_ids=sentence_ids).logits
                alone.append(logits[0])
                print(f"{sentence!r:30s} input {tuple(sentence_ids.shape)} -> output {tuple(logits.shape)}")
            longest = max(len(s.split()) for s in sentences)
            batch = torch.zeros(len(sentences), longest, dtype=torch.long)   # 0 = [PAD]
            mask = torch.zeros(len(sentences), longest, dtype=torch.long)
            for row, sentence in enumerate(sentences):
                n = len(sentence.split())
                batch[row, :n] = torch.tensor([vocab[w] for w in sentence.split()])
                mask[row, :n] = 1
            batched = model(input_ids=batch, attention_mask=mask).logits
        same = all(torch.allclose(batched[row, : len(a)], a, atol=1e-6) for row, a in enumerate(alone))
        print("padded batch == each sentence alone:", same)
        '''),
        md(r"""
        ## What we saw

        - The forward pass is a loop of one matrix formula; its parameters have the shapes of the lecture's table
          and are shared by every step.
        - `hf_rnn.models.SimpleRNN` is that loop; the fused `RNNConfig(cell="rnn")` models compute the same
          function (to $10^{-5}$), only faster. Word labeling reads every $y_t$, sentiment only the last one.
        - The RNN layer's size does not depend on the sequence length, and one model reads sequences of any length.

        Next: notebook 2 (GRU and LSTM) replaces the tanh unit by gated ones, because of what happens to the
        gradient over long sequences.
        """),
    ]


# ============================================================================================= 02


def nb02():
    return [
        md(r"""
        # 2 · GRUs, LSTMs and vanishing gradients

        The lecture: *for deeper networks, it can be difficult for the gradient (error) at the end to propagate
        back to affect earlier layers*. An RNN unrolled over $T$ steps is a $T$-layer-deep network, so the
        training signal from a loss at the end of a sentence hardly reaches its first words. **GRUs** (2 gates) and
        **LSTMs** (3 gates) add gates that let a unit pass along what it received, which helps the gradient survive
        and lets the model capture longer-range dependencies, like the agreement in *"The **students** who take
        CS344 at Wellesley College **are** having a deep learning experience."*

        In this notebook: the gate equations, the parameter counts (Keras' formulas against `hf_rnn`'s models),
        and a measurement of the vanishing gradient with `hf_rnn.analyses`.
        """),
        settings("02_gru_lstm", '''
        # ---- Settings (small: the notebook runs in well under a minute) ----
        D = 16                  # input features per step for the parameter counts (the lecture's stacks read d-dim inputs)
        UNITS = 64              # units per layer for the counts (the lecture's LSTM(64))
        GRAD_LENGTH = 60        # sequence length for the gradient measurement (try 200: the RNN curves keep falling)
        GRAD_BATCH = 4          # sequences per run (more: smoother curves, slower)
        GRAD_SEEDS = (0, 1, 2)  # one run per seed (initialisation and inputs), averaged; more seeds: tighter bands
        GRAD_HIDDEN = 64        # width of every model in the measurement (the recipes use 128-256)
        '''),
        md(r"""
        ## The gates

        With $\sigma$ the sigmoid (values in $(0, 1)$: a gate is a soft switch) and $\odot$ element-wise product:

        **GRU** (update gate $z$, reset gate $r$):
        $$z_t = \sigma(X_t W_z + A_{t-1} U_z + b_z), \qquad r_t = \sigma(X_t W_r + A_{t-1} U_r + b_r)$$
        $$\tilde A_t = \tanh\big(X_t W_h + r_t \odot (A_{t-1} U_h + b'_h) + b_h\big), \qquad
          A_t = z_t \odot A_{t-1} + (1 - z_t) \odot \tilde A_t$$

        **LSTM** (input gate $i$, forget gate $f$, output gate $o$, and a cell state $c$):
        $$i_t, f_t, o_t = \sigma(X_t W_{i,f,o} + A_{t-1} U_{i,f,o} + b_{i,f,o}), \qquad
          \tilde c_t = \tanh(X_t W_c + A_{t-1} U_c + b_c)$$
        $$c_t = f_t \odot c_{t-1} + i_t \odot \tilde c_t, \qquad A_t = o_t \odot \tanh(c_t)$$

        When $z_t \approx 1$ (GRU) or $f_t \approx 1$ (LSTM), the unit copies its memory forward almost
        unchanged: $\partial A_t / \partial A_{t-1}$ (or $\partial c_t / \partial c_{t-1} = f_t$) stays close to 1
        instead of shrinking at every step, as the simple RNN's $\tanh'(\cdot)\, W_A$ does.

        ## Parameter counts

        Each gate (and the candidate) is a small simple-RNN layer of its own. Per layer, with input size $d$,
        Keras counts:

        | layer | Keras formula | why |
        |---|---|---|
        | `SimpleRNN(units)` | $\text{units}\,(d + \text{units} + 1)$ | $W_X$, $W_A$, $b_A$ |
        | `GRU(units)` | $3\,\text{units}\,(d + \text{units} + 2)$ | 2 gates + candidate; `reset_after=True` keeps 2 biases each |
        | `LSTM(units)` | $4\,\text{units}\,(d + \text{units} + 1)$ | 3 gates + candidate |

        PyTorch's kernels keep two biases per gate for every cell (`bias_ih`, `bias_hh`): $+\text{units}$ per
        gate for the RNN and the LSTM. `RNNConfig(keras_bias=True)` keeps one, so the counts equal Keras' (it
        changes nothing for the GRU, which has two in Keras too):
        """),
        code('''
        from IPython.display import Markdown, display

        from hf_rnn import RNNConfig
        from hf_rnn.models import RNNModel, count_parameters, keras_rnn_params

        formulas = {"rnn": "u(d+u+1)", "gru": "3u(d+u+2)", "lstm": "4u(d+u+1)"}
        lines = ["| cell | Keras formula | Keras count | hf_rnn, `keras_bias=True` | hf_rnn, PyTorch's two biases |",
                 "|---|---|---|---|---|"]
        all_match = True
        for cell in ("rnn", "gru", "lstm"):
            counts = [count_parameters(RNNModel(RNNConfig(vocab_size=10, embedding_size=D, hidden_size=UNITS,
                                                          cell=cell, keras_bias=keras_bias)),
                                       include_embeddings=False)
                      for keras_bias in (True, False)]
            keras = keras_rnn_params(cell, UNITS, D)
            all_match &= counts[0] == keras
            lines.append(f"| {cell} | {formulas[cell]} | {keras:,} | {counts[0]:,} | {counts[1]:,} |")
        display(Markdown("\\n".join(lines) + f"\\n\\n(d = {D}, u = {UNITS}; embeddings not counted)"))
        print("hf_rnn with keras_bias=True matches Keras for every cell:", all_match)
        '''),
        md(r"""
        The lecture's two Keras stacks are built by `hf_rnn.models.build_keras_stack` as `hf_rnn` models;
        their counts (without the embedding table, which Keras' stacks do not have: they read $d$-dimensional
        vectors) equal what Keras' `model.summary()` reports:

        ```
        SimpleRNN(5)                                       Bidirectional(LSTM(64, return_sequences=True))
        Dense(3, activation='softmax')                     Bidirectional(LSTM(64, return_sequences=True))
                                                           Dense(64, activation='relu')
                                                           Dense(1, activation='sigmoid')
        ```
        """),
        code('''
        from hf_rnn.models import build_keras_stack, keras_stack_params

        for name in ("simple_rnn", "bilstm_tagger"):
            stack = build_keras_stack(name, input_dim=D, vocab_size=100)
            ours, keras = count_parameters(stack, include_embeddings=False), keras_stack_params(name, D)
            print(f"{name:14s} {type(stack).__name__:28s} hf_rnn {ours:>8,}  Keras {keras:>8,}  equal: {ours == keras}")
        '''),
        md(r"""
        ## Measuring the vanishing gradient

        `hf_rnn.analyses.gradient_norms_over_time` builds untrained models of the same width (a simple RNN, a GRU,
        an LSTM with PyTorch's initialisation, an LSTM whose forget-gate bias starts at 1 as Keras' `LSTM` does,
        and for contrast a one-layer transformer), feeds them random sequences, puts a loss on the **last**
        position only, and measures how much each input embedding $x_t$ affects it:

        $$\left\| \frac{\partial\, \text{loss}}{\partial x_t} \right\| \quad \text{for } t = 0, \dots, T-1$$

        If the curve falls steeply to the left, early words barely influence the loss, so training barely
        changes how the model reads them: the vanishing gradient.
        """),
        code('''
        from hf_rnn.analyses import gradient_norms_over_time, plot_gradient_norms

        norms = gradient_norms_over_time(length=GRAD_LENGTH, batch_size=GRAD_BATCH, seeds=GRAD_SEEDS,
                                         hidden_size=GRAD_HIDDEN)
        figure = plot_gradient_norms(norms)
        figure.savefig(os.path.join(OUT, "gradient_norms.png"), dpi=120)
        display(figure)
        '''),
        code('''
        summary = norms.summary()
        lines = ["| model | at the last position | at the first | first / last | factor per step back |",
                 "|---|---|---|---|---|"]
        for row in summary:
            lines.append(f"| {row['model']} | {row['last']:.2e} | {row['first']:.2e} | {row['first_over_last']:.1e} "
                         f"| {row['factor_per_step_back']:.2f} |")
        display(Markdown("\\n".join(lines)))
        factor = {row["model"]: row["factor_per_step_back"] for row in summary}
        '''),
        md(r"""
        **Reading the plot** (log scale: every grid line is a factor of 1000):

        - The **simple RNN**'s curve is a straight line on a log scale: the gradient shrinks by a constant factor
          at every step back (the *factor per step back* column), so after a few dozen words it is many orders of
          magnitude smaller than at the last word.
        - The **GRU** and the **LSTM** as PyTorch initialises them shrink more slowly, but they still shrink
          geometrically: at initialisation their gates are about half open ($\sigma(0) = 0.5$ for the near-zero
          inputs of small random weights), so much of the memory is forgotten at every step.
        - The **LSTM with a forget-gate bias of 1** (Keras' default, `unit_forget_bias=True`) starts with its
          forget gates mostly open ($\sigma(1) \approx 0.73$) and keeps far more of the gradient: its curve is much
          flatter. This is the gate's point: training can push $f_t$ towards 1 wherever something must be
          remembered.
        - The **transformer** is flat: self-attention connects every position to the last one directly, in one
          step, whatever the distance (the last position is higher because it also has its own direct path).

        These are untrained models: the plot shows the plumbing that training has to work with, not what a
        trained model has learned. What does it mean for the lecture's sentence? Between *students* and *are*
        there are 7 steps back; the fraction of the gradient that survives them:
        """),
        code('''
        sentence = "The students who take CS344 at Wellesley College are having a deep learning experience."
        words = sentence.split()
        distance = words.index("are") - words.index("students")
        print(f"{distance} steps from 'are' back to 'students'")
        for name, per_step in factor.items():
            print(f"  {name:34s} {per_step:.2f} ** {distance} = {per_step ** distance:.1e}")
        '''),
        md(r"""
        ## What we saw

        - GRU and LSTM units are gated versions of the simple RNN unit: 3 and 4 times its weights
          (Keras' formulas; `keras_bias=True` makes `hf_rnn`'s counts equal them).
        - Backpropagated through time, the simple RNN's gradient falls geometrically with distance; gates,
          especially an LSTM forget gate that starts open, slow that decay down; attention removes it.

        Next: notebook 3 reads the sentence in both directions.
        """),
    ]


# ============================================================================================= 03


def nb03():
    return [
        md(r"""
        # 3 · Bidirectional RNNs: "Pass me the orange …"

        A unidirectional RNN labels word $t$ from words $0 \dots t$ only. The lecture's examples show why that
        is not enough for word labeling:

        | sentence | the word | its tag | what decides it |
        |---|---|---|---|
        | Pass me the **orange** | orange | NOUN | nothing follows |
        | Pass me the **orange** marker | orange | ADJ | the *next* word, "marker" |
        | **Rest** before your next class | Rest | VERB | the words *after* it |
        | **Rest** and relaxation are healthy | Rest | NOUN | the words *after* it |

        A **bidirectional** RNN runs a second RNN from right to left and concatenates both activations, so every
        output sees the whole sentence:

        $$\overrightarrow{A}_t = g(X_t \overrightarrow{W}_X + \overrightarrow{A}_{t-1} \overrightarrow{W}_A + \overrightarrow{b}_A), \qquad
          \overleftarrow{A}_t = g(X_t \overleftarrow{W}_X + \overleftarrow{A}_{t+1} \overleftarrow{W}_A + \overleftarrow{b}_A)$$
        $$y_t = g_y\big([\overrightarrow{A}_t ; \overleftarrow{A}_t] \cdot W_Y + b_Y\big)$$

        We train a unidirectional LSTM tagger and a bidirectional one (same data, same batches, same steps) on
        the Brown corpus with `hf_rnn.analyses.train_quick_taggers`, then tag the lecture's sentences.
        """),
        settings("03_bidirectional", '''
        # ---- Settings (small: about a minute on a laptop CPU; the taggers reach ~85-90% token accuracy) ----
        STEPS = 300               # training steps per tagger (library default 600; 2000+ for ~95% accuracy)
        MAX_SECONDS = None        # None: train exactly STEPS steps (same result on any machine); a number caps each tagger's time
        TRAIN_SENTENCES = 5000    # Brown training sentences sampled (library default 20,000; the corpus has 45,872)
        HIDDEN = 64               # units per direction and embedding size (library default 128)
        SENTENCES = [             # the lecture's sentences (+ its "Rest and relaxation are healthy")
            "Pass me the orange",
            "Pass me the orange marker",
            "Rest before your next class",
            "Rest and relaxation are healthy",
        ]
        '''),
        md(r"""
        ## The data and the two taggers

        The `pos` task is the whole Brown corpus with the 12 universal tags. Both taggers read SmolLM2's
        tokenizer's sub-tokens (so the LLM of notebook 5 would see the same ids) and are trained with a plain
        PyTorch loop, seeing the same batches in the same order.
        """),
        code('''
        from IPython.display import Markdown, display

        from hf_rnn import load_task
        from hf_rnn.analyses import train_quick_taggers

        pos = load_task("pos")
        print(pos)
        print("tags:", pos.label_names)
        example = pos.dataset["train"][0]
        print(list(zip(example["tokens"], [pos.label_names[t] for t in example["tags"]]))[:10])

        taggers = train_quick_taggers(STEPS, task=pos, max_seconds=MAX_SECONDS, max_train_sentences=TRAIN_SENTENCES,
                                      max_validation_sentences=500, hidden_size=HIDDEN, embedding_size=HIDDEN,
                                      num_threads=THREADS)
        for name, (model, _) in taggers.items():
            info = model.quick_training
            print(f"{name:24s} {info['steps']} steps in {info['seconds']} s, "
                  f"validation token accuracy {info['validation_accuracy']:.1%}")
        '''),
        md(r"""
        ## The lecture's sentences

        `bidirectional_effect` tags each word with both taggers (the tag of a word is read at its first
        sub-token). In the table and the figure, words on which the two taggers disagree are in bold / framed in
        red; the figure also shows each tag's probability.
        """),
        code('''
        from hf_rnn.analyses import bidirectional_effect, bidirectional_table_markdown, plot_bidirectional_effect

        table = bidirectional_effect(taggers, SENTENCES)
        display(Markdown(bidirectional_table_markdown(table)))
        figure = plot_bidirectional_effect(table)
        figure.savefig(os.path.join(OUT, "bidirectional_effect.png"), dpi=120)
        display(figure)
        '''),
        md(r"""
        ## What each tagger can know

        The unidirectional tagger's output for *Rest* depends only on *Rest*: it is the first word in both
        sentences, so the tagger **must** give it the same tag with the same probability in both, whatever it
        learned. The same holds for *orange* in the two *Pass me the orange* sentences, whose first four words are
        identical. The bidirectional tagger is free to tell them apart. Let us look at the full tag distributions:
        """),
        code('''
        import textwrap

        import matplotlib.pyplot as plt
        import numpy as np

        from hf_rnn.tokenization import encode_words


        def tag_distribution(model, tokenizer, sentence, word):
            """P(tag) for `word` of `sentence`, read at the word's first sub-token (as the tagger was trained)."""
            words = sentence.split()
            encoded = encode_words(tokenizer, words)
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([encoded["input_ids"]])).logits[0]
            return logits[encoded["word_ids"].index(words.index(word))].softmax(-1).numpy()


        cases = [("Rest", SENTENCES[2], SENTENCES[3]), ("orange", SENTENCES[0], SENTENCES[1])]
        shown_tags = ["NOUN", "VERB", "ADJ", "ADV"]
        label_names = pos.label_names
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained", sharey=True)
        verdicts = []
        for ax, (word, first, second) in zip(axes, cases):
            bars, labels = [], []
            for name, (model, tokenizer) in taggers.items():
                p_first, p_second = (tag_distribution(model, tokenizer, s, word) for s in (first, second))
                same = np.allclose(p_first, p_second, atol=1e-6)
                verdicts.append(f"{name:24s} '{word}': {label_names[p_first.argmax()]} ({p_first.max():.2f}) in "
                                f"'{first}', {label_names[p_second.argmax()]} ({p_second.max():.2f}) in '{second}' "
                                f"-> {'identical distributions' if same else 'different distributions'}; "
                                f"P(NOUN) {p_first[label_names.index('NOUN')]:.2f} vs {p_second[label_names.index('NOUN')]:.2f}, "
                                f"P(VERB) {p_first[label_names.index('VERB')]:.2f} vs {p_second[label_names.index('VERB')]:.2f}")
                for sentence, p in ((first, p_first), (second, p_second)):
                    bars.append([p[label_names.index(tag)] for tag in shown_tags])
                    labels.append(name.split()[0] + "\\n" + textwrap.fill(f"“{sentence}”", 18))
            bars = np.array(bars)
            x = np.arange(len(bars))
            for k, tag in enumerate(shown_tags):
                ax.bar(x + (k - 1.5) * 0.2, bars[:, k], width=0.2, label=tag)
            ax.set_xticks(x, labels, fontsize=7.5)
            ax.set_title(f"P(tag) of “{word}”")
            ax.grid(axis="y", alpha=0.3)
        axes[0].set_ylabel("probability")
        axes[1].legend()
        fig.savefig(os.path.join(OUT, "tag_distributions.png"), dpi=120)
        plt.show()
        print("\\n".join(verdicts))
        '''),
        md(r"""
        **What the figures show, honestly.** The pairs of bars of the unidirectional tagger are identical, as they
        must be: it tags *Rest* and *orange* before it has seen what follows. The bidirectional tagger's bars
        differ between the two sentences, because it reads the words after them. For *Rest* they move the
        slide's way: P(VERB) is higher in *Rest before your next class* and P(NOUN) higher in *Rest and relaxation
        are healthy* (the printed lines give the numbers), even though this small tagger's top tag for the
        first sentence is not VERB. Its tags can change with the seed and the training length.

        Two things the small taggers do **not** reproduce from the slide:

        - With these settings *orange* stays **NOUN** in *Pass me the orange marker* for both taggers. In the
          Brown training split "orange" occurs 16 times (9 NOUN, 7 ADJ), and the taggers see only 5,000 of its
          45,872 sentences; a noun before a noun ("orange marker" like "school bus") is common, so they have
          little reason to call it ADJ; only its probabilities move.
        - *rest* is a NOUN 108 times and a VERB 20 times in the training split, and no sentence starts with it.
          The bidirectional tagger can separate the two *Rest* sentences (see the printed lines) but may still
          pick a wrong tag for one of them with a small training budget; the unidirectional one cannot separate
          them at all. That structural difference, not any single tag, is the lecture's point.

        Note also the *first* word in general: the unidirectional tagger sees nothing but the word itself there
        (compare the two taggers on *Pass*).

        ## Which tasks can be bidirectional?

        Only those where the whole input is available before the output is needed (the lecture's
        *Unidirectional and Bidirectional* slide):

        | task | bidirectional? | why |
        |---|---|---|
        | word labeling | yes | the sentence is complete before it is tagged |
        | machine translation | yes (the encoder) | the source is complete; the decoder generates left to right |
        | sentiment classification | yes | one label for the whole text |
        | speech recognition (live) | no | the words after the current one have not been spoken yet |
        | time series prediction | no | the future is what we predict |
        | text generation | no | a model that saw the next word would just copy it |

        The lecture's Keras tagger, `Bidirectional(LSTM(64, return_sequences=True))` ×2 → `Dense(64, relu)` →
        `Dense(1, sigmoid)`, as an `hf_rnn` model: `return_sequences=True` means one output per token.
        """),
        code('''
        from hf_rnn.models import build_keras_stack, count_parameters

        stack = build_keras_stack("bilstm_tagger", input_dim=32, vocab_size=1000).eval()
        with torch.no_grad():
            output = stack(input_ids=torch.randint(0, 1000, (2, 7)))
        print(type(stack).__name__, "| bidirectional:", stack.config.bidirectional, "| layers:", stack.config.num_layers,
              "| per-token outputs:", tuple(output.logits.shape), "(batch, tokens, 1 sigmoid each)")
        print(f"{count_parameters(stack, include_embeddings=False):,} parameters without the embedding table")
        '''),
        md(r"""
        ## What we saw

        - A unidirectional tagger labels a word from the words before it only: ambiguous words at the start of a
          sentence (*Rest*) or whose meaning depends on the next word (*orange marker*) get the same answer
          whatever follows.
        - The bidirectional tagger reads both sides; it is usually also the more accurate one on the validation set
          (compare the accuracies printed after training).
        - Real data has its own conventions (Brown's "orange" is a noun): a model learns the corpus, not the slide.

        To reproduce the lecture's table more closely, train longer (`STEPS = 2000`, `TRAIN_SENTENCES = 45872`,
        `HIDDEN = 128`) or run `hf-rnn train --task pos --model bilstm` for the full recipe.
        Next: notebook 4, attention.
        """),
    ]


# ============================================================================================= 04


def nb04():
    return [
        md(r"""
        # 4 · Attention: translation with an encoder-decoder RNN

        Translation maps a sequence to a sequence of a **different length** (*Do you have a pet?* →
        *¿Tienes una mascota?*). The lecture's architecture: an **encoder** RNN reads the source, a **decoder**
        RNN writes the target one word at a time. Without attention the decoder sees the source only through the
        encoder's final state, one vector for the whole sentence. With **attention**, at every output step the
        decoder looks back at *all* encoder states $h_1 \dots h_S$ and takes a weighted average of them:

        $$e_{t,s} = v^\top \tanh(W_q\, s_{t-1} + W_k\, h_s) \quad \text{(additive, Bahdanau)} \qquad\text{or}\qquad
          e_{t,s} = s_t \cdot h_s \quad \text{(dot, Luong)}$$
        $$\alpha_{t,s} = \frac{\exp e_{t,s}}{\sum_{s'} \exp e_{t,s'}}, \qquad c_t = \sum_s \alpha_{t,s}\, h_s$$

        where $s_{t-1}$ is the decoder's state before it writes word $t$; the context $c_t$ is fed to the decoder
        with the previous word. The weights $\alpha_{t,s}$ of one sentence form the lecture's *heatmap of attention
        weights*: which source words the decoder read while writing each target word.

        We train two `RNNForSeq2SeqLM` models on `hf_rnn`'s English → Spanish task (Bible verses: World English
        Bible → Reina-Valera 1909), one **without** attention and one **with** additive attention, for the same
        number of steps, and compare BLEU and chrF and the alignments. With the small settings below each model
        trains for well under a minute on a CPU: expect low scores (see the end for how to scale up).
        """),
        settings("04_attention_translation", '''
        # ---- Settings (small: about 1.5 minutes on a laptop CPU; scores are low at this size) ----
        MAX_WORDS = 10            # keep verse pairs of at most 10 words per side: 1,058 training pairs (task default 30: 18,225)
        STEPS = 300               # training steps per model, ~9 epochs here (the translation recipe: 4 epochs of the full data)
        ATTENTIONS = ["none", "additive"]  # one model per entry; "dot" / "general" (Luong) are faster but need more training
        VOCAB_SIZE = 4000         # word-level vocabulary trained on the training pairs (SmolLM2's 49k BPE: ~20x slower per step)
        EMBEDDING_SIZE = 64       # recipe: 128
        HIDDEN_SIZE = 128         # recipe: 256
        BATCH_SIZE = 32           # recipe: 32
        LEARNING_RATE = 3e-3      # recipe: 2e-3 with warm-up and linear decay
        VALIDATION_EXAMPLES = 40  # validation pairs, scored after every epoch (generation is slow; recipe: 300)
        TEST_EXAMPLES = 80        # test pairs for BLEU / chrF (all: 151 at MAX_WORDS = 10, 2,257 at 30)
        MAX_NEW_TOKENS = 30       # generation length cap (the task's default: 96)
        SEED = 0                  # weights and data order
        '''),
        md(r"""
        ## Data and vocabulary

        Short verses are easier to learn in a few seconds, and the Bible has many formulaic ones ("*X lived N
        years, and became the father of Y*"). An RNN with SmolLM2's 49,152-token vocabulary spends most of its time
        in the output layer, so here it uses a word-level vocabulary trained on the training pairs
        (`hf_rnn.train_word_tokenizer`; case kept, so that the scores compare with the cased references).
        """),
        code('''
        from hf_rnn import load_task, train_word_tokenizer

        task = load_task("translation", max_words=MAX_WORDS).subset({"validation": VALIDATION_EXAMPLES,
                                                                     "test": TEST_EXAMPLES})
        print(task)
        for row in task.dataset["train"].select(range(3)):
            print(f"  {row['source']}\\n  -> {row['target']}")
        texts = list(task.dataset["train"]["source"]) + list(task.dataset["train"]["target"])
        tokenizer = train_word_tokenizer(texts, vocab_size=VOCAB_SIZE, lowercase=False)
        print(f"vocabulary: {len(tokenizer):,} words; e.g.",
              tokenizer.convert_ids_to_tokens(tokenizer("Noah lived thirty years.")["input_ids"]))
        '''),
        md(r"""
        ## Training: without and with attention

        Both models have a bidirectional GRU encoder and a GRU decoder started from the encoder's final state
        (through a small "bridge" layer); they differ only in `attention`. `hf_rnn.train` is the same Accelerate
        loop used for every model of the package: it evaluates on the validation pairs at the end of every
        epoch, keeps the best model (by chrF), scores the test pairs and writes a run folder.
        """),
        code('''
        import hf_rnn
        from hf_rnn import RNNConfig, RNNForSeq2SeqLM, TrainConfig

        train_config = TrainConfig(epochs=None, max_steps=STEPS, batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE,
                                   lr_scheduler="constant", max_new_tokens=MAX_NEW_TOKENS, seed=SEED,
                                   progress_bar=False, log_with=None)
        results, run_dirs = {}, {}
        for attention in ATTENTIONS:
            torch.manual_seed(SEED)
            config = RNNConfig(vocab_size=len(tokenizer), embedding_size=EMBEDDING_SIZE, hidden_size=HIDDEN_SIZE,
                               cell="gru", bidirectional=True, attention=attention,
                               pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                               eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.bos_token_id)
            run_dirs[attention] = os.path.join(OUT, f"translation-{attention}")
            metrics = hf_rnn.train(RNNForSeq2SeqLM(config), task, train_config, tokenizer, run_dirs[attention])
            results[attention] = metrics
            print(f"attention={attention:9s} {metrics['training']['steps']} steps "
                  f"({metrics['training']['epochs']:.1f} epochs) in {metrics['training']['train_seconds']:.0f} s: "
                  f"test BLEU {metrics['test']['bleu']:.1f}, chrF {metrics['test']['chrf']:.1f}")
        '''),
        md(r"""
        ## BLEU and chrF, with and without attention

        Both compare the greedy translations with the reference translations of the test pairs (sacrebleu,
        corpus level, 0 to 100):

        - **BLEU** $= \text{BP} \cdot \exp\big(\tfrac14 \sum_{n=1}^{4} \log p_n\big)$, where $p_n$ is the share of
          the output's word $n$-grams that appear in the reference and BP penalises outputs shorter than it. It
          needs whole matching words and word sequences, so it is harsh on a small model.
        - **chrF** is an F-score (recall weighted twice as much as precision) over character $n$-grams up to 6,
          so a partly right word still counts.
        """),
        code('''
        import matplotlib.pyplot as plt
        import numpy as np
        from IPython.display import Markdown, display

        from hf_rnn.plots import plot_learning_curves
        from hf_rnn.runs import read_run

        lines = ["| attention | test BLEU | test chrF | steps | epochs | training s | parameters |",
                 "|---|---|---|---|---|---|---|"]
        for attention, m in results.items():
            lines.append(f"| {attention} | {m['test']['bleu']:.2f} | {m['test']['chrf']:.2f} | {m['training']['steps']} | "
                         f"{m['training']['epochs']:.1f} | {m['training']['train_seconds']:.0f} | {m['parameters']['total']:,} |")
        display(Markdown("\\n".join(lines) + f"\\n\\n{TEST_EXAMPLES} test pairs, greedy decoding."))

        fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
        x = np.arange(2)
        for k, (attention, m) in enumerate(results.items()):
            values = [m["test"]["bleu"], m["test"]["chrf"]]
            ax.bar(x + (k - (len(results) - 1) / 2) * 0.35, values, width=0.35, label=f"attention = {attention}")
        ax.set_xticks(x, ["BLEU", "chrF"])
        ax.set(ylabel="score (0-100)", title=f"English → Spanish test pairs, {STEPS} steps per model")
        ax.grid(axis="y", alpha=0.3)
        ax.legend()
        plt.show()

        curves = {f"attention = {a}": read_run(d).curve() for a, d in run_dirs.items()}
        display(plot_learning_curves(curves, "validation chrF", title="validation chrF after each epoch"))
        '''),
        md(r"""
        Attention wins clearly here, on both scores and along the whole validation curve: after a few epochs
        the model without attention has levelled off (it mostly writes the commonest verse openings), while the
        one with attention is still improving. Both scores are still low in absolute terms: a thousand short
        verses, 300 steps, and 80 test sentences, so a few points either way are noise. Attention has a cost too
        (right panel): additive attention steps through the target one word at a time in Python, so each step
        takes about twice as long. And it gives us a picture of *where the decoder looks*.

        ## The alignment heatmaps

        `hf_rnn.attention_maps` returns the decoder-over-encoder weights $\alpha_{t,s}$ of one sentence: rows are
        target tokens, columns source tokens. With `target_text` the reference translation is fed to the decoder
        (teacher forcing), so the rows are the reference's words; without it they are the model's own greedy
        output. First two verses from the training pairs, chosen because they show the alignment well (the
        numbers after them say how typical they are):
        """),
        code('''
        from hf_rnn import attention_maps
        from hf_rnn.models import load_rnn
        from hf_rnn.plots import plot_attention, plot_side_by_side

        attentive = load_rnn(run_dirs[ATTENTIONS[-1]]).eval()   # the saved (best) model of the last entry
        train_pairs = task.dataset["train"]
        verses = [next(row for row in train_pairs if row["source"].startswith(start))
                  for start in ("Hadoram", "They traveled from Elim")]
        seen = [attention_maps(attentive, tokenizer, v["source"], target_text=v["target"]) for v in verses]
        figure = plot_side_by_side(*seen)
        figure.savefig(os.path.join(OUT, "alignment_training_verses.png"), dpi=120)
        display(figure)


        def strongest_links(maps):
            """Each target word with the source word it attends to most (and that weight)."""
            weights = maps.average()  # [target, source]
            return ", ".join(f"{q}→{maps.key_tokens[j]} ({weights[i, j]:.2f})"
                             for i, (q, j) in enumerate(zip(maps.query_tokens, weights.argmax(1))))


        for maps in seen:
            print(maps.text, "\\n ", strongest_links(maps))
        '''),
        md(r"""
        **Reading them.** The bright cells run down a diagonal: while it writes *Hadoram*, *Uzal* and *Dicla*
        the decoder reads *Hadoram*, *Uzal* and *Diklah* in turn. In the second verse the first words spread
        their attention over the start of the source, the comma is read at the comma, and from *asentaron* on the
        attention moves through *encamped by the Red Sea* to the full stop (`[UNK]` marks words outside the small
        vocabulary; the printed lines list every target word's strongest source word). The alignment is soft,
        often spread over neighbouring words, and it was learned from the translation loss alone: nobody told the
        model which words correspond. How typical is that? Over many verses, two numbers: how peaked each row is
        (its largest weight against the uniform $1/S$), and whether the strongest source position moves forward
        as the target advances (the correlation between the two positions: 1 for a perfect diagonal, 0 for none):
        """),
        code('''
        def alignment_stats(rows):
            peaks, correlations = [], []
            for row in rows:
                weights = attention_maps(attentive, tokenizer, row["source"], target_text=row["target"]).average()
                peaks.append(weights.max(axis=1).mean() * weights.shape[1])
                strongest = weights.argmax(axis=1)
                if strongest.std() > 0:
                    correlations.append(np.corrcoef(np.arange(len(strongest)), strongest)[0, 1])
            return np.mean(peaks), np.mean(correlations)


        for split, rows in (("training", train_pairs.select(range(100))), ("test", task.dataset["test"])):
            peak, correlation = alignment_stats(rows)
            print(f"{len(rows)} {split} verses: the strongest source word gets {peak:.1f}x the uniform weight; "
                  f"position correlation {correlation:.2f}")
        train_sources = set(train_pairs["source"])
        repeated = sum(s in train_sources for s in task.dataset["test"]["source"])
        print(f"{repeated} of the {len(task.dataset['test'])} test verses also occur, word for word, among the training pairs")
        '''),
        md(r"""
        The diagonal tendency holds on average, on the training verses and on test verses the model never
        saw: it has learned *where* to look. (The Bible repeats itself, e.g. the offerings of Numbers 7, so a
        few test verses are also training verses; the printed count says how many.) A test verse, teacher-forced
        with its reference, and what the model itself writes for it:
        """),
        code('''
        unseen = task.dataset["test"][0]
        unseen_maps = attention_maps(attentive, tokenizer, unseen["source"], target_text=unseen["target"])
        greedy = attention_maps(attentive, tokenizer, unseen["source"], max_new_tokens=MAX_NEW_TOKENS)
        print("source:   ", unseen["source"])
        print("reference:", unseen["target"])
        print("greedy:   ", " ".join(t for t in greedy.query_tokens if t != "[EOS]"))
        display(plot_attention(unseen_maps))
        print(strongest_links(unseen_maps))
        '''),
        md(r"""
        On a new verse the model gets the frame right more often than the content: it follows the source from
        left to right, but `[UNK]` (a word outside the small vocabulary) and wrong numbers or names show that it
        has not learned to translate much yet, as the BLEU score said.

        The model without attention has nothing to show: it reads the source only through the final state.
        """),
        code('''
        try:
            attention_maps(load_rnn(run_dirs["none"]), tokenizer, verses[0]["source"])
        except (ValueError, KeyError) as error:
            print(str(error).splitlines()[0][:150], "...")
        '''),
        md(r"""
        A few test translations from each model (greedy decoding), next to the reference:
        """),
        code('''
        models = {attention: load_rnn(folder).eval() for attention, folder in run_dirs.items()}
        for row in task.dataset["test"].select(range(4)):
            source = tokenizer(row["source"], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
            source = torch.tensor([source])  # source + end of sentence, as the task encodes it
            print(f"EN   {row['source']}\\nREF  {row['target']}")
            for attention, model in models.items():
                with torch.no_grad():
                    out = model.generate(input_ids=source, attention_mask=torch.ones_like(source),
                                         max_new_tokens=MAX_NEW_TOKENS, do_sample=False)
                print(f"{attention[:4]:4s} {tokenizer.decode(out[0], skip_special_tokens=True)}")
            print()
        '''),
        md(r"""
        A perfect translation here is most likely a verse the model saw in training (see the count of repeated
        verses above), and the model without attention writes the same few openings for many verses.

        ## Scaling up

        The low scores are a matter of budget, not of the code path. For real numbers:

        - use the task's default `MAX_WORDS = 30` (18,225 training pairs), the whole test split
          (`TEST_EXAMPLES = None`), `HIDDEN_SIZE = 256`, `EMBEDDING_SIZE = 128`, and train for several epochs
          (`TrainConfig(epochs=4, lr_scheduler="linear", warmup_steps=100, ...)` instead of `max_steps`);
        - or run the built-in recipe, `hf-rnn train --task translation --model rnn` (a bidirectional GRU with
          additive attention and SmolLM2's tokenizer, 4 epochs): hours on a CPU, much less on a GPU;
        - compare with the LLM on the same pairs: `hf-rnn compare --task translation` (notebook 6 does this
          for sentiment).

        Next: notebook 5, where attention is all there is: transformers and a small LLM.
        """),
    ]


# ============================================================================================= 05


def nb05():
    return [
        md(r"""
        # 5 · Transformers and a small LLM: SmolLM2-135M-Instruct

        The lecture's last step: drop the recurrence and keep only attention. A transformer layer computes, for
        every token at once,

        $$\text{Attention}(Q, K, V) = \text{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}} + M\right) V,
          \qquad Q = X W_Q,\; K = X W_K,\; V = X W_V$$

        - **Self-attention**: every token's new representation is a weighted average over the other tokens'
          values, with weights from query-key similarity: a context-dependent embedding instead of a fixed one.
        - **Multi-head attention**: $h$ such maps in parallel with their own $W_Q, W_K, W_V$ (each can follow a
          different relation), concatenated and mixed by $W_O$.
        - **Positions**: attention alone ignores word order, so positions are encoded; SmolLM2 uses rotary
          embeddings (RoPE), which rotate $Q$ and $K$ by angles that depend on the position.
        - **Parallelization**: no step depends on the previous one (unlike an RNN): all positions at once.
        - An **LLM** uses the decoder part: the mask $M$ is $-\infty$ above the diagonal, so a token attends only to
          itself and the tokens before it (it predicts the next one).

        In this notebook: a self-attention by hand, the built-in LLM's configuration and attention maps on a
        lecture sentence, then a brief fine-tuning on sentiment compared with the same model answering zero-shot
        from a prompt.
        """),
        settings("05_transformers_llm", '''
        # ---- Settings (small: about 1.5 minutes on a laptop CPU) ----
        ATTENTION_SENTENCE = "The animal didn't cross the street because it was too tired."  # the lecture's example
        TRAIN_EXAMPLES = 640      # sentiment training sentences used (all: 8,454)
        STEPS = 20                # fine-tuning steps (the sentiment_llm recipe: one epoch = 529 steps of 16)
        BATCH_SIZE = 16           # sentences per step (the recipe's)
        FREEZE_LAYERS = 28        # freeze the embeddings and the lower 28 of 30 layers: only the top 2 + the new head train
                                  # (0 = full fine-tuning, as the recipe does; or use mode="lora")
        LEARNING_RATE = 1e-3      # high, for a few steps of a mostly frozen model (full fine-tuning: ~3e-5)
        VALIDATION_EXAMPLES = 32  # scored once at the end (recipe: 500)
        TEST_EXAMPLES = 64        # the same test sentences for the fine-tuned and the zero-shot model (all: 1,057)
        SEED = 0                  # the new head's weights and the data order
        '''),
        md(r"""
        ## Self-attention by hand

        Four tokens, $d = 8$, one head, the causal mask of a decoder:
        """),
        code('''
        import matplotlib.pyplot as plt
        import numpy as np

        torch.manual_seed(SEED)
        tokens = ["Good", ",", "cheap", "food"]
        T, d = len(tokens), 8
        X = torch.randn(T, d)                                  # the tokens' embeddings (+ positions)
        W_Q, W_K, W_V = (torch.randn(d, d) / d**0.5 for _ in range(3))
        Q, K, V = X @ W_Q, X @ W_K, X @ W_V
        scores = Q @ K.T / d**0.5                               # (T, T): query i against key j
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        weights = scores.masked_fill(mask, float("-inf")).softmax(dim=-1)
        output = weights @ V                                    # (T, d): a new, context-dependent vector per token
        print(np.round(weights.numpy(), 2))
        print("each row sums to 1:", torch.allclose(weights.sum(-1), torch.ones(T)), "| output", tuple(output.shape))
        '''),
        md(r"""
        Row $i$ is how token $i$ spreads its attention over tokens $0 \dots i$; the first token can only attend to
        itself. An LLM does this in every layer and every head, with learned $W$'s.

        ## The built-in LLM

        `hf_rnn.load_llm` loads SmolLM2-135M-Instruct from the offline cache (with `output_attentions=True` it uses
        the "eager" attention implementation, the only one that returns the weights).
        """),
        code('''
        from IPython.display import Markdown, display

        from hf_rnn import load_llm
        from hf_rnn.models.llm import count_parameters, decoder_layers

        llm, llm_tokenizer = load_llm(None, "causal-lm", output_attentions=True)
        llm.eval()
        c = llm.config
        total, _ = count_parameters(llm)
        embedding = llm.get_input_embeddings().weight.numel()
        per_layer = sum(p.numel() for p in decoder_layers(llm)[0].parameters())
        rows = [("architecture", c.architectures[0]), ("layers", c.num_hidden_layers),
                ("attention heads (query)", c.num_attention_heads),
                ("key/value heads (grouped-query attention)", c.num_key_value_heads), ("head size d_k", c.head_dim),
                ("hidden size", c.hidden_size), ("MLP size", c.intermediate_size), ("vocabulary", f"{c.vocab_size:,}"),
                ("context (max positions)", f"{c.max_position_embeddings:,}"), ("positions", "rotary (RoPE)"),
                ("parameters", f"{total:,}"),
                ("  of which token embeddings (tied with the output layer)", f"{embedding:,}"),
                ("  per transformer layer", f"{per_layer:,}")]
        display(Markdown("| | |\\n|---|---|\\n" + "\\n".join(f"| {k} | {v} |" for k, v in rows)))
        '''),
        md(r"""
        135 million parameters is small for an LLM (the lecture: *trillions*, for the largest), yet more than a
        hundred times the translation RNNs of notebook 4. About a fifth of them are the embedding table, shared
        with the output layer. Each of the 30 layers has 9 query heads that share 3 key/value heads
        (*grouped-query attention*, which shrinks the cache kept during generation).

        ## Attention maps on a lecture sentence

        The lecture's example: in *"The animal didn't cross the street because **it** was too tired"* the word
        *it* refers to *animal* (with *too wide* it would be the street). `attention_maps` returns every layer's
        and head's weights in one array `[layer, head, query, key]`.
        """),
        code('''
        from hf_rnn import attention_maps
        from hf_rnn.plots import plot_attention

        maps = attention_maps(llm, llm_tokenizer, ATTENTION_SENTENCE)
        print("weights:", maps.weights.shape, "(layers, heads, query tokens, key tokens)")
        print("tokens:", maps.query_tokens)
        figure = plot_attention(maps, vmax=0.3)   # the mean over all layers and heads
        figure.savefig(os.path.join(OUT, "llm_attention_mean.png"), dpi=120)
        display(figure)
        '''),
        md(r"""
        Averaged over all layers and heads, most of the weight goes to the **first token** (the bright first
        column; the colour scale is capped at 0.3 so the rest stays visible). This "attention sink" is typical of
        LLMs: a head that has nothing useful to read parks its attention there. The average hides what single
        heads do, so let us ask which heads link *it* to *animal*:
        """),
        code('''
        it, animal, street = (maps.query_tokens.index(w) for w in ("it", "animal", "street"))
        to_animal = maps.weights[:, :, it, animal]            # [layer, head]
        to_street = maps.weights[:, :, it, street]
        layer, head = np.unravel_index(to_animal.argmax(), to_animal.shape)
        print(f"'it' -> 'animal', averaged over all heads: {to_animal.mean():.3f}; 'it' -> 'street': {to_street.mean():.3f}")
        print(f"strongest head: layer {layer}, head {head}: 'it' -> 'animal' {to_animal[layer, head]:.2f}, "
              f"-> 'street' {to_street[layer, head]:.2f}")

        fig, axes = plt.subplots(1, 2, figsize=(14, 5.2), layout="constrained", width_ratios=[1, 1.15])
        image = axes[0].imshow(to_animal, aspect="auto", cmap="viridis")
        axes[0].set(title="weight of 'it' on 'animal', per layer and head", xlabel="head", ylabel="layer")
        fig.colorbar(image, ax=axes[0])
        plot_attention(maps, layer=int(layer), head=int(head), ax=axes[1])
        fig.savefig(os.path.join(OUT, "llm_attention_heads.png"), dpi=120)
        plt.show()
        '''),
        md(r"""
        Averaged over all 270 heads, *it* gives *animal* no more weight than *street* (the first printed line).
        Most heads give *animal* little weight from *it* (left panel), but a few concentrate on it, and the
        strongest, layer 13 head 8 (right panel), puts three quarters of the weight of *it* on *animal*. Look at
        the whole column of *animal* in that head, though: *didn't*, *cross*, *was*, *too*, *tired* also read
        *animal*. This head seems to fetch the subject of the sentence for many tokens, not to resolve *it*
        specifically.

        There is a better reason not to expect the answer at *it*: the model is causal. When it computes *it*
        it has not read *tired* yet, and the lecture's point is that *too tired* makes *it* the animal while *too
        wide* makes it the street. The place where a decoder-only model can use that is the adjective itself.
        So compare the two sentences there, head by head:
        """),
        code('''
        def adjective_attention(adjective):
            sentence = f"The animal didn't cross the street because it was too {adjective}."
            adjective_maps = attention_maps(llm, llm_tokenizer, sentence)
            tokens = adjective_maps.query_tokens
            row = adjective_maps.weights[:, :, tokens.index(adjective)]   # [layer, head, key]
            return row[:, :, tokens.index("animal")], row[:, :, tokens.index("street")]


        (tired_animal, tired_street), (wide_animal, wide_street) = adjective_attention("tired"), adjective_attention("wide")
        follows = (tired_animal - tired_street > 0.05) & (wide_street - wide_animal > 0.05)
        print(f"heads whose adjective reads 'animal' more for 'tired' and 'street' more for 'wide' (by > 0.05): "
              f"{follows.sum()} of {follows.size}")
        print(f"all heads, mean: 'tired' -> animal {tired_animal.mean():.3f}, street {tired_street.mean():.3f}; "
              f"'wide' -> animal {wide_animal.mean():.3f}, street {wide_street.mean():.3f}")
        score = (tired_animal - tired_street) + (wide_street - wide_animal)
        layer2, head2 = np.unravel_index(score.argmax(), score.shape)

        fig, ax = plt.subplots(figsize=(6.5, 3.4), layout="constrained")
        groups = ["too tired", "too wide"]
        x = np.arange(2)
        ax.bar(x - 0.18, [tired_animal[layer2, head2], wide_animal[layer2, head2]], width=0.36, label="→ animal")
        ax.bar(x + 0.18, [tired_street[layer2, head2], wide_street[layer2, head2]], width=0.36, label="→ street")
        ax.set_xticks(x, [f"“…because it was {g}.”" for g in groups])
        ax.set(ylabel="attention weight", title=f"Where the adjective looks: layer {layer2}, head {head2}")
        ax.grid(axis="y", alpha=0.3)
        ax.legend()
        fig.savefig(os.path.join(OUT, "llm_attention_tired_wide.png"), dpi=120)
        plt.show()
        '''),
        md(r"""
        In that head the adjective's attention follows the meaning: with *tired* it reads *animal* more than
        *street*, with *wide* it reads *street* far more. But only a couple of the 270 heads do this clearly, and
        we picked the one that does it most: attention maps are a partial, selective view of what a model
        computes, and the decision is spread over many heads and the layers' other parts. Still, nobody trained
        these heads for it: they come from predicting the next word on a lot of text.

        ## Fine-tuning vs zero-shot on sentiment

        The same pretrained model can be used two ways on the lecture's sentiment task (*Good, cheap food!*):

        - **zero-shot**: the instruct model is *asked*, in its chat template, which label fits the text (the
          prompt is printed below), and we compare the probabilities of the label words as its answer;
        - **fine-tuned**: `load_llm(..., task)` puts a new 2-way linear head on the last token's hidden state, and
          `hf_rnn.train` trains it with the layers we leave unfrozen.

        Both are scored on the same test sentences.
        """),
        code('''
        import hf_rnn
        from hf_rnn import TrainConfig, load_task

        sentiment = load_task("sentiment").subset({"train": TRAIN_EXAMPLES, "validation": VALIDATION_EXAMPLES,
                                                   "test": TEST_EXAMPLES})
        print(sentiment)
        torch.manual_seed(SEED)  # the new classification head starts from random weights
        classifier, tokenizer = load_llm(None, sentiment, mode="full", freeze_layers=FREEZE_LAYERS)
        total, trainable = count_parameters(classifier)
        print(f"{type(classifier).__name__}: {trainable:,} of {total:,} parameters train ({trainable / total:.1%})")

        run_dir = os.path.join(OUT, "sentiment-smollm2")
        fine_tuned = hf_rnn.train(classifier, sentiment,
                                  TrainConfig(epochs=None, max_steps=STEPS, batch_size=BATCH_SIZE,
                                              learning_rate=LEARNING_RATE, warmup_steps=2, logging_steps=2, seed=SEED,
                                              progress_bar=False, log_with=None),
                                  tokenizer, run_dir)
        print(f"fine-tuned: {fine_tuned['training']['steps']} steps in {fine_tuned['training']['train_seconds']:.0f} s; "
              f"test {fine_tuned['test']}")
        '''),
        code('''
        from hf_rnn.models.llm_zero_shot import ZeroShotClassifier, zero_shot

        asker = ZeroShotClassifier(llm, llm_tokenizer, sentiment.label_names)
        print("the zero-shot prompt, for one test sentence:\\n---")
        print(llm_tokenizer.decode(asker.prompt_ids(sentiment.dataset["test"][0]["text"])))
        print("---")
        zero = zero_shot(sentiment, model=llm, tokenizer=llm_tokenizer)
        print("zero-shot: test", zero)
        '''),
        code('''
        import json

        losses = [(e["step"], e["loss"]) for e in map(json.loads, open(os.path.join(run_dir, "metrics.jsonl")))
                  if e.get("event") == "train"]
        fig, (ax_loss, ax_score) = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained")
        ax_loss.plot(*zip(*losses), marker="o")
        ax_loss.set(xlabel="step", ylabel="training loss (cross-entropy)", title="fine-tuning")
        ax_loss.grid(alpha=0.3)
        names = ["accuracy", "macro_f1"]
        x = np.arange(len(names))
        for k, (label, scores) in enumerate((("zero-shot (prompt)", zero), (f"fine-tuned, {STEPS} steps", fine_tuned["test"]))):
            ax_score.bar(x + (k - 0.5) * 0.35, [scores[n] for n in names], width=0.35, label=label)
        ax_score.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="chance")
        ax_score.set_xticks(x, names)
        ax_score.set(ylim=(0, 1), title=f"SmolLM2 on {TEST_EXAMPLES} test sentences")
        ax_score.legend(fontsize=8, loc="lower right")
        fig.savefig(os.path.join(OUT, "fine_tuned_vs_zero_shot.png"), dpi=120)
        plt.show()

        error = (0.25 / TEST_EXAMPLES) ** 0.5
        gap = fine_tuned["test"]["accuracy"] - zero["accuracy"]
        print(f"accuracy: fine-tuned {fine_tuned['test']['accuracy']:.1%}, zero-shot {zero['accuracy']:.1%} "
              f"(difference {gap:+.1%}); with {TEST_EXAMPLES} test sentences one standard error is up to {error:.1%}")
        '''),
        md(r"""
        **What to make of it.** Both are above chance. The instruct model already knows what a positive
        review is and answers zero-shot without any training. The fine-tuned head starts from random weights and
        gets 20 steps on 320 sentences, updating only the top two layers: its loss falls, noisily, and is far
        from converged. At this budget the zero-shot answer is as good as the fine-tuned one or better, and the
        fine-tuned accuracy moves by several points with the seed; on 64 test sentences one standard error is
        about 6 points, so only a gap well beyond that means anything.

        To scale up: `FREEZE_LAYERS = 0` and `LEARNING_RATE = 3e-5` (full fine-tuning) or LoRA
        (`load_llm(None, task, mode="lora")`), all 8,454 training sentences for an epoch or more, and the whole
        test split; on a CPU that takes a long time (one step of the full model is seconds), on a GPU minutes.
        The built-in recipe is `hf-rnn train --task sentiment --model smollm2`. Notebook 6 trains the LLM and a
        BiLSTM on the same task under the same time budget.
        """),
    ]


# ============================================================================================= 06


def nb06():
    return [
        md(r"""
        # 6 · The comparison: a BiLSTM against SmolLM2 on sentiment

        *What does a transformer buy me over a well-built RNN, on my task?* `hf_rnn.compare` answers it the same
        way for every task:

        - each model trains from its built-in recipe (`configs/sentiment_rnn.yaml` with the `bilstm` variant,
          `configs/sentiment_llm.yaml`) under the **same wall-clock budget**, in its own process;
        - both read the **same token ids** (the RNN uses SmolLM2's tokenizer), and are scored on the **same test
          sentences**;
        - the report lists quality, size, training speed, latency per example and memory, with plots:
          learning curves, quality against parameters, and attention maps where a model has attention.

        The budget below is tiny, so that the notebook runs in about two minutes: the numbers show what the
        comparison measures, not how good either model can get (see the end).
        """),
        settings("06_comparison", '''
        # ---- Settings (tiny: about 2 minutes on a laptop CPU; the "quick" profile gives each model 120 s) ----
        MODELS = ["bilstm", "smollm2"]   # recipe names: also lstm, gru, bigru, simplernn, or an LLM folder / Hub id
        TRAIN_SECONDS = 20        # matched training budget per model (profile "quick": 120 s; "full": 2 epochs)
        TRAIN_EXAMPLES = 800      # training sentences (all: 8,454)
        VALIDATION_EXAMPLES = 32  # evaluated during training, for the learning curves ("quick": 300)
        TEST_EXAMPLES = 64        # the same test sentences for every model (all: 1,057)
        ZERO_SHOT = False         # True adds the untrained instruct LLM answering from a prompt as a reference row (~+20 s here)
        '''),
        md(r"""
        ## Run the comparison

        `compare` resolves each model's recipe with the profile's settings and our overrides (any recipe key,
        as on the command line: `hf-rnn compare --task sentiment training.max_seconds=20 ...`), trains each model
        with `hf-rnn train` in a subprocess, then measures and writes `report.md`, `report.html`, `results.json`
        and the figures into one folder. A second call with the same settings would reuse the finished runs.
        """),
        code('''
        from hf_rnn import compare

        overrides = [f"training.max_seconds={TRAIN_SECONDS}", f"task.max_train_examples={TRAIN_EXAMPLES}",
                     f"task.max_validation_examples={VALIDATION_EXAMPLES}", f"task.max_test_examples={TEST_EXAMPLES}"]
        comparison = compare("sentiment", MODELS, "quick", OUT, zero_shot=ZERO_SHOT, overrides=overrides)
        # (comparison.budget and report.md quote the profile's budget, 120 s, not our override: see the table)
        print(f"training budget: {TRAIN_SECONDS} s per model; the whole comparison took {comparison.seconds:.0f} s")
        print("hardware:", comparison.hardware.get("device_name"), "|", comparison.hardware.get("torch_threads"), "thread(s)")
        print("files:", sorted(os.listdir(OUT)))
        '''),
        md(r"""
        ## The table

        `Comparison.table_markdown()` is the table of `report.md`: the test metrics, parameters (all, and those
        trained), training seconds, training throughput (non-padding tokens per second), latency to answer one
        sentence (batch of 1; median and 95th percentile) and the peak memory of each training process.
        """),
        code('''
        import yaml
        from IPython.display import Image, Markdown, display

        display(Markdown(comparison.table_markdown()))
        for row in comparison.rows:
            if row.run_dir is None:  # a reference row (majority class, zero-shot): nothing was trained
                print(f"{row.name} ({row.family}): {row.note}")
                continue
            model = yaml.safe_load(open(os.path.join(row.run_dir, "config.yaml")))["model"]  # the run's resolved recipe
            shown = {k: model[k] for k in ("cell", "bidirectional", "embedding_size", "init_embeddings",
                                           "freeze_embeddings", "hidden_size", "attention", "mode", "freeze_layers")
                     if k in model}
            print(f"{row.name}: {row.note}; recipe: {shown}")
        '''),
        code('''
        rows = {row.name: row for row in comparison.rows}
        rnn, llm = rows[MODELS[0]], rows[MODELS[1]]
        error = (0.25 / TEST_EXAMPLES) ** 0.5
        print(f"accuracy: {rnn.name} {rnn.metrics['accuracy']:.1%}, {llm.name} {llm.metrics['accuracy']:.1%} "
              f"(one standard error with {TEST_EXAMPLES} test sentences: up to {error:.1%})")
        print(f"{llm.name} has {llm.parameters_total / rnn.parameters_total:.0f}x the parameters "
              f"({llm.parameters_trainable / rnn.parameters_trainable:.0f}x the trained ones), "
              f"processes {rnn.tokens_per_second / llm.tokens_per_second:.0f}x fewer tokens per second in training "
              f"({llm.steps} steps against {rnn.steps} in the same budget), "
              f"and answers {llm.latency_ms_p50 / rnn.latency_ms_p50:.0f}x slower")
        '''),
        md(r"""
        ## The figures

        `compare` wrote them next to the report (`comparison.figures` maps a title to a file name):
        """),
        code('''
        for title, name in comparison.figures.items():
            print(title)
            display(Image(filename=os.path.join(OUT, name)))
        '''),
        md(r"""
        **How to read them at this budget.**

        - *Learning curves*: validation accuracy at each evaluation, against steps (left) and seconds (right). In
          the same seconds the BiLSTM makes a couple of hundred steps and the LLM a handful (each of its steps
          moves 135M parameters), so the LLM's curve is a single point or two. With 32 validation sentences every
          point is noisy (one sentence = 3 points of accuracy); the BiLSTM may also stop early, when its
          validation accuracy has not improved for a few evaluations (the notes under the table say why each run
          stopped).
        - *Quality against parameters*: the x axis counts every weight, frozen ones included (the table's
          *trained* column says how many each model updates: the BiLSTM recipe may keep a frozen copy of the LLM's
          embedding table). At this budget the LLM's accuracy is not higher in proportion to its size; the two are
          within the noise of 64 test sentences. Compare accuracy with macro-F1 too: a model that still answers
          mostly one class can reach a fair accuracy on a balanced test set but a low macro-F1.
        - *Attention*: a figure per model that has attention. The LLM's self-attention on the lecture's *Good,
          cheap food!* is averaged over its 30 layers and 9 heads; as in notebook 5, most of the weight sits on the
          first token. If the RNN recipe pools its states with attention (the recipe's `attention` setting,
          printed under the table), its map has one row: how much each token counts in the sentence's summary;
          after seconds of training those weights are still close to uniform.

        The speed and size columns hardly depend on the budget: the LLM needs several times the memory, trains on
        far fewer tokens per second and answers far more slowly. The budget decides the quality columns, and the
        question *"is it worth it?"* needs the comparison run with enough time.

        ## Scaling up

        - `TRAIN_SECONDS = 120`, `TRAIN_EXAMPLES = None`, `VALIDATION_EXAMPLES = 300`, `TEST_EXAMPLES = None`
          is the "quick" profile (`hf_rnn.compare("sentiment")` with no overrides); `profile="full"` gives each
          model 25 minutes on all the data, and `ZERO_SHOT = True` adds the instruct model answering zero-shot.
        - From a shell: `hf-rnn compare --task sentiment --profile full` writes the same report.
        - Other tasks: `hf_rnn.compare("pos")`, `"translation"`, `"textgen"`, `"timeseries"`.
        - Finished runs (e.g. your own `hf-rnn train` runs) can be compared without training:
          `hf_rnn.compare_runs([...folders...], output_dir)`.
        """),
    ]


# ============================================================================================= writing

NOTEBOOKS = {
    "01_rnn_forward.ipynb": nb01,
    "02_gru_lstm.ipynb": nb02,
    "03_bidirectional.ipynb": nb03,
    "04_attention_translation.ipynb": nb04,
    "05_transformers_llm.ipynb": nb05,
    "06_comparison.ipynb": nb06,
}


def build(name: str) -> nbformat.NotebookNode:
    nb = new_notebook(cells=NOTEBOOKS[name]())
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python", "pygments_lexer": "ipython3"},
    }
    for index, cell in enumerate(nb.cells):  # stable ids: regenerating gives identical files
        cell.id = f"{Path(name).stem[:2]}-{index:02d}"
    return nb


def render(name: str) -> str:
    return nbformat.writes(build(name)) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name in NOTEBOOKS:
        path = HERE / name
        text = render(name)
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print("out of date (run python notebooks/_build.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
