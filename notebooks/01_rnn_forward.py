# %% [markdown]
# # 1 · RNN forward propagation, by hand and with `hf_rnn`
#
# The lecture's recap of the simple RNN layer (slides *RNN Layer*, *RNN Forward Propagation*, *RNN Output*):
# one layer reads a sequence $X_0, \dots, X_{T-1}$ one element at a time and keeps an **activation** $A$
# that it passes from one step to the next. In this notebook we
#
# 1. write the forward pass by hand in NumPy on the lecture's sentence *"I like red apples"*,
# 2. run the same numbers through `hf_rnn`'s step-by-step `SimpleRNN` (the slides as a PyTorch module),
# 3. check that the library's fast, fused `cell="rnn"` model computes **the same function** (to $10^{-5}$),
# 4. see why we use a *recurrent* network rather than an MLP: parameters that do not grow with the
#    sequence length, and inputs of any length.
#
# Everything here is tiny: the notebook runs in seconds.

# %%
from hf_rnn.notebook import setup

# ---- Settings (the lecture's toy sizes; the numbers are random, nothing is trained here) ----
SENTENCE = "I like red apples"        # the lecture's word-labeling example
TAGS = ["pron", "verb", "adj", "noun"]  # its tags: the output size "?" of W_Y
D = 6              # embedding size d (real word embeddings: 50-300; hf_rnn's recipes use 128)
UNITS = 5          # RNN units (the lecture's SimpleRNN(5); the recipes use 128-256)
SEED = 0           # random embeddings and weights
MAX_T = 50         # longest sequence in the RNN-vs-MLP parameter plot (any value works)
PLOT_D, PLOT_UNITS = 128, 128  # layer sizes for that plot (the recipes' sizes)

# ---- where files go, and CPU threads (you should not need to change these) ----
# Run folders and figures go to $HF_RNN_NOTEBOOK_OUT/01_rnn_forward (the tests set it) or a fresh temporary
# folder, never into the repository. $HF_RNN_NOTEBOOK_THREADS sets PyTorch's CPU threads (default: the
# cores other work leaves free now, all of them on an idle machine).
OUT, THREADS = setup("01_rnn_forward")
import torch  # after setup(), which sets OMP_NUM_THREADS first

print(f"files go to {OUT}; {THREADS} CPU thread(s)")

# %% [markdown]
# ## The layer, its parameters and their shapes
#
# For every step $t = 0, \dots, T-1$ (the slides' loop):
#
# $$A_t = g\left(X_t \cdot W_X + A_{t-1} \cdot W_A + b_A\right), \qquad A_{-1} = [[0\ 0\ \dots\ 0]], \qquad g = \tanh$$
#
# $$y_t = g_y\left(A_t \cdot W_Y + b_Y\right), \qquad g_y \in \{\text{sigmoid}, \text{softmax}, \text{linear}\}$$
#
# | parameter | shape | what it does |
# |---|---|---|
# | $W_X$ | $(d, \text{units})$ | maps the input $X_t$ (a $d$-dimensional word embedding) to the units |
# | $W_A$ | $(\text{units}, \text{units})$ | maps the previous activation to the units: the *recurrence* |
# | $b_A$ | $(\text{units},)$ | bias of the units |
# | $A$ | $(1, \text{units})$ | the activation, starting at zeros (not a parameter) |
# | $W_Y$ | $(\text{units}, ?)$ | maps the activation to the output; `?` = number of outputs |
# | $b_Y$ | $(?,)$ | bias of the output |
#
# The **same** $W_X, W_A, b_A$ are used at every step: that is what makes the layer recurrent. For word
# labeling ("I like red apples" → pron verb adj noun) `?` is the number of tags and $g_y$ is a softmax; for
# sentiment classification `?` is 1 (sigmoid) and only the last $y$ is used.

# %% [markdown]
# ## 1. By hand, in NumPy
#
# The lecture's *Word Embedding* slide shows each word as a column of numbers. Ours are random (a trained
# model learns them), $d = 6$ numbers per word:

# %%
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


# %% [markdown]
# The forward pass is the slides' loop, line for line. The output activation is a softmax over the four
# tags, so each $y_t$ is a probability distribution (the weights are random, so the tags it picks mean
# nothing yet).

# %%
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

# %%
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

# %% [markdown]
# Each row of the left panel is one $A_t$: the layer's whole memory of the words so far, squeezed into
# `UNITS` numbers between −1 and 1. Each row of the right panel sums to 1.
#
# ## 2. The same numbers through `hf_rnn.models.SimpleRNN`
#
# `SimpleRNN` is the slides as a PyTorch module: its parameters are called `W_X`, `W_A`, `b_A`, `W_Y`, `b_Y`
# and have exactly the shapes of the table. We copy our NumPy weights into it and feed it the same $X$
# (with a batch dimension in front: `(1, T, d)`).

# %%
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

# %% [markdown]
# ## 3. The fused model computes the same function
#
# `SimpleRNN` loops over the steps in Python: clear, but slow. The models that `hf_rnn` trains
# (`RNNForTokenClassification`, `RNNForSequenceClassification`, ...) run PyTorch's fused `nn.RNN` kernel,
# which does all the steps in one call. `RNNConfig(cell="rnn")` is the lecture's tanh layer. PyTorch stores
# the weights transposed, `weight_ih_l0` $= W_X^\top$ of shape (units, d) and `weight_hh_l0` $= W_A^\top$, and
# the classifier's last `Linear` holds $W_Y^\top$ and $b_Y$. `keras_bias=True` keeps one bias per layer,
# $b_A$, as Keras does (PyTorch otherwise keeps two, `bias_ih` and `bias_hh`, which only ever act through
# their sum).

# %%
from hf_rnn import RNNConfig, RNNForTokenClassification

vocab = {"[PAD]": 0, **{w: i + 1 for i, w in enumerate(words)}}  # a 4-word vocabulary (+ padding)
config = RNNConfig(vocab_size=len(vocab), embedding_size=D, hidden_size=UNITS, cell="rnn",
                   num_labels=len(TAGS), id2label=dict(enumerate(TAGS)),
                   label2id={t: i for i, t in enumerate(TAGS)}, keras_bias=True)
torch.manual_seed(SEED)
model = RNNForTokenClassification(config).eval()
for name, parameter in model.named_parameters():
    print(f"{name:28s} {tuple(parameter.shape)}")

# %% [markdown]
# `SimpleRNN.from_model` copies the fused model's weights into the slides' shapes. The model starts from
# token ids: its embedding table turns "I like red apples" into $X$ (`(1, T, d)`), and both compute from
# there.

# %%
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

# %% [markdown]
# **Sentiment classification** uses the same layer with a non-sequence output: only the last activation
# $A_{T-1}$ goes through the output layer (`?` = 1 and a sigmoid for a positive/negative score).
# `RNNForSequenceClassification` with `num_labels=1` is exactly that, and its output is the last $y_t$ of
# the step-by-step twin:

# %%
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

# %% [markdown]
# ## 4. Why a *recurrent* network rather than an MLP?
#
# The lecture's reasons: an RNN (like a CNN) **reuses what it learned** about one part of the input on the
# other parts, it has **fewer parameters per layer**, it takes **inputs (and outputs) of any length**, and it
# follows the **sequential nature** of the data.
#
# *Parameters.* An MLP that reads a whole sentence at once needs the $T$ embeddings side by side, one input
# vector of $T \cdot d$ numbers, so its first layer has $T \cdot d \cdot \text{units} + \text{units}$ weights and
# they grow with $T$. The RNN layer has $d \cdot \text{units} + \text{units}^2 + \text{units}$ whatever
# $T$ is. We check that count on a real `hf_rnn` layer, then plot both:

# %%
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

# %% [markdown]
# The two lines meet at $T = 2$ for these sizes ($d = \text{units}$); beyond that the MLP's first layer
# grows by $d \cdot \text{units}$ weights per extra word, and it still could not read a sentence longer
# than the $T$ it was built for.
#
# *Any length.* The same `model` (same parameters) labels sentences of any length, one output per word. A
# batch of sentences of different lengths is padded to the longest, and `attention_mask` tells the model
# which positions are real: `hf_rnn` packs the sequences, so the padding changes nothing.

# %%
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

# %% [markdown]
# ## What we saw
#
# - The forward pass is a loop of one matrix formula; its parameters have the shapes of the lecture's table
#   and are shared by every step.
# - `hf_rnn.models.SimpleRNN` is that loop; the fused `RNNConfig(cell="rnn")` models compute the same
#   function (to $10^{-5}$), only faster. Word labeling reads every $y_t$, sentiment only the last one.
# - The RNN layer's size does not depend on the sequence length, and one model reads sequences of any length.
#
# Next: notebook 2 (GRU and LSTM) replaces the tanh unit by gated ones, because of what happens to the
# gradient over long sequences.
