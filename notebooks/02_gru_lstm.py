# %% [markdown]
# # 2 · GRUs, LSTMs and vanishing gradients
#
# The lecture: *for deeper networks, it can be difficult for the gradient (error) at the end to propagate
# back to affect earlier layers*. An RNN unrolled over $T$ steps is a $T$-layer-deep network, so the
# training signal from a loss at the end of a sentence hardly reaches its first words. **GRUs** (2 gates) and
# **LSTMs** (3 gates) add gates that let a unit pass along what it received, which helps the gradient survive
# and lets the model capture longer-range dependencies, like the agreement in *"The **students** who take
# CS344 at Wellesley College **are** having a deep learning experience."*
#
# In this notebook: the gate equations, the parameter counts (Keras' formulas against `hf_rnn`'s models),
# and a measurement of the vanishing gradient with `hf_rnn.analyses`.

# %%
import os

from hf_rnn.notebook import setup

# ---- Settings (small: the notebook runs in well under a minute) ----
D = 16                  # input features per step for the parameter counts (the lecture's stacks read d-dim inputs)
UNITS = 64              # units per layer for the counts (the lecture's LSTM(64))
GRAD_LENGTH = 60        # sequence length for the gradient measurement (try 200: the RNN curves keep falling)
GRAD_BATCH = 4          # sequences per run (more: smoother curves, slower)
GRAD_SEEDS = (0, 1, 2)  # one run per seed (initialisation and inputs), averaged; more seeds: tighter bands
GRAD_HIDDEN = 64        # width of every model in the measurement (the recipes use 128-256)

# ---- where files go, and CPU threads (you should not need to change these) ----
# Run folders and figures go to $HF_RNN_NOTEBOOK_OUT/02_gru_lstm (the tests set it) or a fresh temporary
# folder, never into the repository. $HF_RNN_NOTEBOOK_THREADS sets PyTorch's CPU threads (default: the
# cores other work leaves free now, all of them on an idle machine).
OUT, THREADS = setup("02_gru_lstm")

print(f"files go to {OUT}; {THREADS} CPU thread(s)")

# %% [markdown]
# ## The gates
#
# With $\sigma$ the sigmoid (values in $(0, 1)$: a gate is a soft switch) and $\odot$ element-wise product:
#
# **GRU** (update gate $z$, reset gate $r$):
# $$z_t = \sigma(X_t W_z + A_{t-1} U_z + b_z), \qquad r_t = \sigma(X_t W_r + A_{t-1} U_r + b_r)$$
# $$\tilde A_t = \tanh\big(X_t W_h + r_t \odot (A_{t-1} U_h + b'_h) + b_h\big), \qquad
#   A_t = z_t \odot A_{t-1} + (1 - z_t) \odot \tilde A_t$$
#
# **LSTM** (input gate $i$, forget gate $f$, output gate $o$, and a cell state $c$):
# $$i_t, f_t, o_t = \sigma(X_t W_{i,f,o} + A_{t-1} U_{i,f,o} + b_{i,f,o}), \qquad
#   \tilde c_t = \tanh(X_t W_c + A_{t-1} U_c + b_c)$$
# $$c_t = f_t \odot c_{t-1} + i_t \odot \tilde c_t, \qquad A_t = o_t \odot \tanh(c_t)$$
#
# When $z_t \approx 1$ (GRU) or $f_t \approx 1$ (LSTM), the unit copies its memory forward almost
# unchanged: $\partial A_t / \partial A_{t-1}$ (or $\partial c_t / \partial c_{t-1} = f_t$) stays close to 1
# instead of shrinking at every step, as the simple RNN's $\tanh'(\cdot)\, W_A$ does.
#
# ## Parameter counts
#
# Each gate (and the candidate) is a small simple-RNN layer of its own. Per layer, with input size $d$,
# Keras counts:
#
# | layer | Keras formula | why |
# |---|---|---|
# | `SimpleRNN(units)` | $\text{units}\,(d + \text{units} + 1)$ | $W_X$, $W_A$, $b_A$ |
# | `GRU(units)` | $3\,\text{units}\,(d + \text{units} + 2)$ | 2 gates + candidate; `reset_after=True` keeps 2 biases each |
# | `LSTM(units)` | $4\,\text{units}\,(d + \text{units} + 1)$ | 3 gates + candidate |
#
# PyTorch's kernels keep two biases per gate for every cell (`bias_ih`, `bias_hh`): $+\text{units}$ per
# gate for the RNN and the LSTM. `RNNConfig(keras_bias=True)` keeps one, so the counts equal Keras' (it
# changes nothing for the GRU, which has two in Keras too):

# %%
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
display(Markdown("\n".join(lines) + f"\n\n(d = {D}, u = {UNITS}; embeddings not counted)"))
print("hf_rnn with keras_bias=True matches Keras for every cell:", all_match)

# %% [markdown]
# The lecture's two Keras stacks are built by `hf_rnn.models.build_keras_stack` as `hf_rnn` models;
# their counts (without the embedding table, which Keras' stacks do not have: they read $d$-dimensional
# vectors) equal what Keras' `model.summary()` reports:
#
# ```
# SimpleRNN(5)                                       Bidirectional(LSTM(64, return_sequences=True))
# Dense(3, activation='softmax')                     Bidirectional(LSTM(64, return_sequences=True))
#                                                    Dense(64, activation='relu')
#                                                    Dense(1, activation='sigmoid')
# ```

# %%
from hf_rnn.models import build_keras_stack, keras_stack_params

for name in ("simple_rnn", "bilstm_tagger"):
    stack = build_keras_stack(name, input_dim=D, vocab_size=100)
    ours, keras = count_parameters(stack, include_embeddings=False), keras_stack_params(name, D)
    print(f"{name:14s} {type(stack).__name__:28s} hf_rnn {ours:>8,}  Keras {keras:>8,}  equal: {ours == keras}")

# %% [markdown]
# ## Measuring the vanishing gradient
#
# `hf_rnn.analyses.gradient_norms_over_time` builds untrained models of the same width (a simple RNN, a GRU,
# an LSTM with PyTorch's initialisation, an LSTM whose forget-gate bias starts at 1 as Keras' `LSTM` does,
# and for contrast a one-layer transformer), feeds them random sequences, puts a loss on the **last**
# position only, and measures how much each input embedding $x_t$ affects it:
#
# $$\left\| \frac{\partial\, \text{loss}}{\partial x_t} \right\| \quad \text{for } t = 0, \dots, T-1$$
#
# If the curve falls steeply to the left, early words barely influence the loss, so training barely
# changes how the model reads them: the vanishing gradient.

# %%
from hf_rnn.analyses import gradient_norms_over_time, plot_gradient_norms

norms = gradient_norms_over_time(length=GRAD_LENGTH, batch_size=GRAD_BATCH, seeds=GRAD_SEEDS,
                                 hidden_size=GRAD_HIDDEN)
figure = plot_gradient_norms(norms)
figure.savefig(os.path.join(OUT, "gradient_norms.png"), dpi=120)
display(figure)

# %%
summary = norms.summary()
lines = ["| model | at the last position | at the first | first / last | factor per step back |",
         "|---|---|---|---|---|"]
for row in summary:
    lines.append(f"| {row['model']} | {row['last']:.2e} | {row['first']:.2e} | {row['first_over_last']:.1e} "
                 f"| {row['factor_per_step_back']:.2f} |")
display(Markdown("\n".join(lines)))
factor = {row["model"]: row["factor_per_step_back"] for row in summary}

# %% [markdown]
# **Reading the plot** (log scale: every grid line is a factor of 1000):
#
# - The **simple RNN**'s curve is a straight line on a log scale: the gradient shrinks by a constant factor
#   at every step back (the *factor per step back* column), so after a few dozen words it is many orders of
#   magnitude smaller than at the last word.
# - The **GRU** and the **LSTM** as PyTorch initialises them shrink more slowly, but they still shrink
#   geometrically: at initialisation their gates are about half open ($\sigma(0) = 0.5$ for the near-zero
#   inputs of small random weights), so much of the memory is forgotten at every step.
# - The **LSTM with a forget-gate bias of 1** (Keras' default, `unit_forget_bias=True`) starts with its
#   forget gates mostly open ($\sigma(1) \approx 0.73$) and keeps far more of the gradient: its curve is much
#   flatter. This is the gate's point: training can push $f_t$ towards 1 wherever something must be
#   remembered.
# - The **transformer** is flat: self-attention connects every position to the last one directly, in one
#   step, whatever the distance (the last position is higher because it also has its own direct path).
#
# These are untrained models: the plot shows the plumbing that training has to work with, not what a
# trained model has learned. What does it mean for the lecture's sentence? Between *students* and *are*
# there are 7 steps back; the fraction of the gradient that survives them:

# %%
sentence = "The students who take CS344 at Wellesley College are having a deep learning experience."
words = sentence.split()
distance = words.index("are") - words.index("students")
print(f"{distance} steps from 'are' back to 'students'")
for name, per_step in factor.items():
    print(f"  {name:34s} {per_step:.2f} ** {distance} = {per_step ** distance:.1e}")

# %% [markdown]
# ## What we saw
#
# - GRU and LSTM units are gated versions of the simple RNN unit: 3 and 4 times its weights
#   (Keras' formulas; `keras_bias=True` makes `hf_rnn`'s counts equal them).
# - Backpropagated through time, the simple RNN's gradient falls geometrically with distance; gates,
#   especially an LSTM forget gate that starts open, slow that decay down; attention removes it.
#
# Next: notebook 3 reads the sentence in both directions.
