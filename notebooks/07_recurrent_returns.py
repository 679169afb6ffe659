# %% [markdown]
# # 7 · Epilogue: the recurrence returns (minGRU and Mamba-2)
#
# The lecture ended with transformers replacing RNNs. Their decisive advantage was training: an RNN's state
# $A_t$ needs $A_{t-1}$, so its $T$ steps run one after the other, while self-attention handles all
# positions at once. Generation is the other way round: an RNN carries a state of fixed size from token to
# token, a transformer re-reads a key/value cache that grows with every token.
#
# Recent models keep the recurrence and remove its training cost. The trick is the same in all of them:
# **let the gates depend on the input only**, not on the previous state. The recurrence becomes *linear* in
# the state, and a linear recurrence can be computed for all positions at once (a *scan*), like attention.
#
# In this notebook:
#
# 1. **minGRU** (Feng et al. 2024, *Were RNNs all we needed?*): the lecture's GRU with its gates cut down to
#    functions of $X_t$, written as a loop and as a parallel scan, which give the same outputs; both timed.
# 2. **Mamba-2** (Dao & Gu 2024): a linear recurrence whose scan is exactly a masked matrix, a *hidden
#    attention*, drawn beside the LLM's self-attention on one of the lecture's sentences.

# %%
from hf_rnn.notebook import setup

# ---- Settings (small: about 1 minute on a laptop CPU) ----
SEQ_LEN = 1024            # longest sequence of the minGRU timing (try 4096: the loop's time grows 4×)
BATCH = 16                # sequences per batch for the minGRU timing
INPUT_SIZE = 32           # d, the size of X_t
UNITS = 64                # minGRU units
REPEATS = 3               # timings per variant and length (the fastest counts)
SENTENCE = "The animal didn't cross the street because it was too tired."  # the lecture's example (notebook 5)
MAMBA_TRAIN_SECONDS = 15  # how long the tiny Mamba-2 trains on sentiment sentences (0 = untrained; try 300)
MAMBA_HIDDEN = 64         # its width (the built-in textgen recipe: 192)
MAMBA_LAYERS = 2          # its Mamba-2 layers (recipe: 4)
TRAIN_EXAMPLES = 2000     # sentiment sentences it reads (all: 8,454)
SEED = 0                  # weights and batches

# ---- where files go, and CPU threads (you should not need to change these) ----
# Figures go to $HF_RNN_NOTEBOOK_OUT/07_recurrent_returns (the tests set it) or a fresh temporary folder, never
# into the repository. $HF_RNN_NOTEBOOK_THREADS sets PyTorch's CPU threads (default: the cores other work
# leaves free now, all of them on an idle machine).
OUT, THREADS = setup("07_recurrent_returns")
import torch  # after setup(), which sets OMP_NUM_THREADS first

print(f"files go to {OUT}; {THREADS} CPU thread(s)")

# %% [markdown]
# ## From the GRU to minGRU
#
# The lecture's GRU (notebook 2), with update gate $z$ and reset gate $r$:
#
# $$z_t = \sigma(X_t W_z + A_{t-1} U_z + b_z), \qquad r_t = \sigma(X_t W_r + A_{t-1} U_r + b_r)$$
# $$\tilde A_t = \tanh\big(X_t W_h + r_t \odot (A_{t-1} U_h + b'_h) + b_h\big), \qquad
#   A_t = z_t \odot A_{t-1} + (1 - z_t) \odot \tilde A_t$$
#
# Every gate reads $A_{t-1}$: nothing about step $t$ is known before step $t-1$ is done. **minGRU** drops
# every $A_{t-1}$ from the gates and the candidate (and with it the reset gate, which only acted on
# $A_{t-1} U_h + b'_h$), and the $\tanh$:
#
# $$z_t = \sigma(X_t W_z + b_z), \qquad \tilde A_t = g(X_t W_h + b_h), \qquad
#   A_t = z_t \odot A_{t-1} + (1 - z_t) \odot \tilde A_t$$
#
# ($g$ keeps $\tilde A_t$ positive, for the log-space scan below: $g(x) = x + 0.5$ for $x \ge 0$, $\sigma(x)$
# otherwise.) Now $z_t$ and $\tilde A_t$ come from the input alone, for all $t$ at once, and what remains is
# a linear recurrence $A_t = a_t \odot A_{t-1} + b_t$ with $a_t = z_t$, $b_t = (1 - z_t) \odot \tilde A_t$.
# Unrolled:
#
# $$A_t = \Big(\prod_{k \le t} a_k\Big) \odot \Big(A_0 + \sum_{s \le t} \frac{b_s}{\prod_{k \le s} a_k}\Big)$$
#
# Products and sums over all prefixes are cumulative products and sums, which PyTorch computes for a whole
# sequence in one call (a parallel *scan*: $\log_2 T$ rounds on parallel hardware). The products of many
# gates below 1 underflow, so the scan works with logarithms: $\log A_t = a^*_t + \log\sum_{s \le t}
# \exp(\log b_s - a^*_s)$ with $a^*_t = \sum_{k \le t} \log a_k$: a `cumsum` and a `logcumsumexp`.

# %%
import time

import numpy as np
import torch.nn.functional as F
from torch import nn


def log_g(x):
    """log g(x): g(x) = x + 0.5 for x >= 0, sigmoid(x) below (positive, continuous)."""
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


class MinGRU(nn.Module):
    """The lecture's GRU with gates that read X_t only. Input [B, T, d] -> states [B, T, units]."""

    def __init__(self, input_size, units):
        super().__init__()
        self.gate = nn.Linear(input_size, units)        # W_z, b_z
        self.candidate = nn.Linear(input_size, units)   # W_h, b_h

    def forward_loop(self, x, a0):
        """Step by step, as the lecture's RNNs run: A_t needs A_{t-1}."""
        z = torch.sigmoid(self.gate(x))                 # every z_t at once: it reads only X_t
        candidate = log_g(self.candidate(x)).exp()      # every Ã_t at once
        a, states = a0, []
        for z_t, candidate_t in zip(z.unbind(1), candidate.unbind(1)):  # t = 1 ... T
            a = z_t * a + (1 - z_t) * candidate_t
            states.append(a)
        return torch.stack(states, dim=1)

    def forward_scan(self, x, a0):
        """All steps at once, in log space: A_t = exp(a*_t + logcumsumexp_s(log b_s - a*_s))."""
        k = self.gate(x)
        log_z, log_one_minus_z = -F.softplus(-k), -F.softplus(k)   # log sigmoid(k), log (1 - sigmoid(k))
        log_b = log_one_minus_z + log_g(self.candidate(x))         # [B, T, units]
        log_b = torch.cat([torch.log(a0)[:, None], log_b], dim=1)  # A_0 as the first term of the sum
        a_star = F.pad(log_z.cumsum(dim=1), (0, 0, 1, 0))          # a*_0 = 0, then cumulative sums
        return (a_star + torch.logcumsumexp(log_b - a_star, dim=1))[:, 1:].exp()


torch.manual_seed(SEED)
min_gru = MinGRU(INPUT_SIZE, UNITS)
x = torch.randn(BATCH, SEQ_LEN, INPUT_SIZE)
a0 = torch.full((BATCH, UNITS), 0.5)  # the initial state (positive, as g's outputs are)


def largest_relative_difference(dtype):
    model = MinGRU(INPUT_SIZE, UNITS).to(dtype)
    model.load_state_dict(min_gru.state_dict())
    with torch.no_grad():
        loop, scan = model.forward_loop(x.to(dtype), a0.to(dtype)), model.forward_scan(x.to(dtype), a0.to(dtype))
    return ((loop - scan).abs() / loop.abs()).max().item(), tuple(scan.shape)


exact, shape = largest_relative_difference(torch.float64)
single, _ = largest_relative_difference(torch.float32)
print(f"states {shape}; largest relative difference between loop and scan:")
print(f"  float64: {exact:.1e} -> loop == scan in float64, to a relative 1e-10: {exact < 1e-10}")
print(f"  float32: {single:.1e} -> loop == scan in float32, to a relative 1e-3: {single < 1e-3}")

gru_params = sum(p.numel() for p in nn.GRU(INPUT_SIZE, UNITS).parameters())
print(f"parameters: minGRU {sum(p.numel() for p in min_gru.parameters()):,}, GRU {gru_params:,} "
      f"(d = {INPUT_SIZE}, {UNITS} units: no U matrices, no reset gate)")

# %% [markdown]
# In float64 the two agree to rounding: the scan is not an approximation, only another order of the same
# arithmetic. In float32 they differ more, and more so the longer the sequence: the cumulative sum $a^*_t$ of
# the log gates grows with $t$, and float32 keeps about 7 significant digits of it, so the rounding of
# $a^*_t$ becomes a relative error of $A_t$. (Mamba-2 avoids this by scanning in chunks of a few dozen
# tokens.) Now time them, in training (forward and backward through all $T$ steps, float32):

# %%
import matplotlib.pyplot as plt


def train_seconds(forward, batch, length):
    xs, start = torch.randn(batch, length, INPUT_SIZE), torch.full((batch, UNITS), 0.5)
    times = []
    for _ in range(REPEATS):  # the fastest of a few: other work on the machine only ever adds time
        began = time.perf_counter()
        forward(xs, start).pow(2).mean().backward()
        times.append(time.perf_counter() - began)
    return min(times)


lengths = sorted({max(1, SEQ_LEN // 8), max(1, SEQ_LEN // 4), max(1, SEQ_LEN // 2), SEQ_LEN})
fig, ax = plt.subplots(figsize=(6.5, 3.6), layout="constrained")
for batch, style in ((1, "--"), (BATCH, "-")):
    loop_s = [train_seconds(min_gru.forward_loop, batch, n) for n in lengths]
    scan_s = [train_seconds(min_gru.forward_scan, batch, n) for n in lengths]
    for n, t_loop, t_scan in zip(lengths, loop_s, scan_s):
        print(f"batch {batch:2d}, T = {n:4d}: loop {1000 * t_loop:6.1f} ms, scan {1000 * t_scan:6.1f} ms per "
              f"training step (the scan {t_loop / t_scan:.1f}× as fast)")
    ax.plot(lengths, [1000 * s for s in loop_s], style, marker="o", color="tab:blue", label=f"loop, batch {batch}")
    ax.plot(lengths, [1000 * s for s in scan_s], style, marker="s", color="tab:orange", label=f"scan, batch {batch}")
ax.set(xlabel="sequence length T", ylabel="ms per training step", yscale="log",
       title=f"minGRU training step ({UNITS} units, {THREADS} CPU thread(s))")
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
fig.savefig(f"{OUT}/min_gru_loop_vs_scan.png", dpi=120)
plt.show()

# %% [markdown]
# Both grow in proportion to $T$ here, but for different reasons. The loop pays a fixed overhead for each of
# its $T$ dependent steps (a few small operations each, forward and backward), whatever their size; the
# scan pays for its arithmetic only, in a dozen large operations over the whole sequence, but more of it (a
# log and an exp per number). With one sequence a loop step is almost all overhead, and the scan wins
# clearly. With a batch each loop step does more useful work for the same overhead, while the scan's extra
# arithmetic grows with the batch: on one CPU core the two come close, and the loop can even win. The
# scan's real advantage is parallel hardware: its work splits over thousands of GPU cores in $\log T$
# rounds, while the loop's $T$ steps must run one after another however many cores there are (Feng et al.
# measure minGRU training steps over a hundred times faster than a GRU's at a few hundred tokens, on a GPU).
#
# The price of minGRU is expressiveness: a gate cannot look at the state to decide what to keep. Stacking
# layers gives some of it back (a layer's gates read the states of the layer below), and Feng et al. report
# minGRU and minLSTM close to Mamba and to transformers on their benchmarks.
#
# ## Mamba-2: the scan as a hidden attention matrix
#
# A Mamba-2 layer (`hf_rnn.models.HfMamba2ForCausalLM`, on transformers' `Mamba2Model`) is a linear
# recurrence of the same kind, per head, with a matrix state $S_t$ ($N$ state entries × $P$ channels):
#
# $$S_t = e^{\Delta_t A}\, S_{t-1} + \Delta_t\, B_t\, x_t^\top, \qquad y_t = S_t^\top C_t + D\, x_t$$
#
# where the step $\Delta_t$, the input projection $B_t$ and the output projection $C_t$ are computed from the
# input at step $t$ only (the "selective" part), and $A < 0$ is learned: $e^{\Delta_t A}$ is a forget gate.
# Unrolled, $y_t = \sum_{s \le t} (C_t \cdot B_s)\, e^{\Delta_{s+1} A + \dots + \Delta_t A}\, \Delta_s\, x_s +
# D x_t$: a weighted sum over the earlier tokens' inputs, like attention, with the matrix
#
# $$M = L \circ (C B^\top)\, \mathrm{diag}(\Delta), \qquad L_{ts} = e^{\sum_{k=s+1}^{t} \Delta_k A}
#   \text{ for } s \le t, \text{ else } 0$$
#
# Dao & Gu call this *state-space duality*: the same layer can run as a recurrence (generation: one state
# update per token, constant memory) or as this masked matrix (training: a few large matrix products, computed
# chunk by chunk). Unlike softmax attention, $M$ has no softmax (entries can be negative, rows need not sum to
# 1), and the decay $L$ makes distant tokens fade unless $\Delta$ stays small over the span.
#
# A tiny Mamba-2 language model, with the LLM's tokenizer so that both read the same tokens, trained for
# `MAMBA_TRAIN_SECONDS` on sentiment sentences (next-token prediction):

# %%
from hf_rnn import load_llm, load_task
from hf_rnn.models import HfMamba2Config, HfMamba2ForCausalLM

llm, tokenizer = load_llm(None, "causal-lm", output_attentions=True)
llm.eval()
torch.manual_seed(SEED)
mamba = HfMamba2ForCausalLM(HfMamba2Config(
    vocab_size=len(tokenizer), hidden_size=MAMBA_HIDDEN, num_hidden_layers=MAMBA_LAYERS, expand=2,
    num_heads=2 * MAMBA_HIDDEN // 32, head_dim=32, state_size=16, chunk_size=32, tie_word_embeddings=True,
    pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id))
print(f"Mamba-2: {MAMBA_LAYERS} layers, {mamba.config.num_heads} heads each, "
      f"{sum(p.numel() for p in mamba.parameters()):,} parameters (most in the {len(tokenizer):,}-token embedding)")

sentences = load_task("sentiment").subset({"train": TRAIN_EXAMPLES}).dataset["train"]["text"]
stream = [i for s in sentences for i in tokenizer(s)["input_ids"] + [tokenizer.eos_token_id]]
blocks = torch.tensor(stream[: len(stream) // 64 * 64]).view(-1, 64)  # [blocks, 64 tokens]
optimizer = torch.optim.AdamW(mamba.parameters(), lr=3e-3)
generator = torch.Generator().manual_seed(SEED)
mamba.train()
losses, began = [], time.perf_counter()
while time.perf_counter() - began < MAMBA_TRAIN_SECONDS:
    batch = blocks[torch.randint(len(blocks), (16,), generator=generator)]
    loss = mamba(input_ids=batch, labels=batch).loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
mamba.eval()
if losses:
    print(f"{len(losses)} steps of 16 × 64 tokens in {time.perf_counter() - began:.0f} s: loss {losses[0]:.2f} -> "
          f"{np.mean(losses[-5:]):.2f} (a uniform guess over the vocabulary: {np.log(len(tokenizer)):.2f})")
else:
    print("untrained (MAMBA_TRAIN_SECONDS = 0)")

# %% [markdown]
# First, that $M$ really is the layer: `hf_rnn.families.mamba2.hidden_attention` records what each mixer reads during a
# forward pass, rebuilds $x$, $B$, $C$, $\Delta$ from the layer's own weights, forms $M$ and applies it,
# $y = M x + D x$, next to the scan output the layer computed itself (chunk by chunk):

# %%
from hf_rnn.families.mamba2.hidden_attention import MixerRecorder, apply_matrices, mixer_inputs, ssd_matrices

ids = tokenizer(SENTENCE, return_tensors="pt")["input_ids"]
with MixerRecorder(mamba) as recorder, torch.no_grad():
    mamba(input_ids=ids)
mixers = dict(recorder.mixers)
for name, (hidden, mask) in recorder.inputs.items():
    inputs = mixer_inputs(mixers[name], hidden, mask)
    matrices = ssd_matrices(inputs)                         # [batch, heads, T, T]
    scan_output = recorder.scan_outputs[name]
    error = ((apply_matrices(matrices, inputs) - scan_output).abs().max() / scan_output.abs().max()).item()
    print(f"{name}: M {tuple(matrices.shape)}, upper triangle all 0: {bool((matrices.triu(1) == 0).all())}, "
          f"M x + D x vs the scan: relative {error:.1e} -> equal to 1e-4: {error < 1e-4}")

# %% [markdown]
# ## Hidden attention beside self-attention
#
# `hf_rnn.attention_maps` gives both models' maps in the same format (`[layer, head, query, key]`). For
# Mamba-2 the map is $|M|$ with each row scaled to sum to 1: how much of a token's output each earlier
# token's input makes up, whatever its sign. Left the Mamba-2, right SmolLM2, each averaged over its layers
# and heads:

# %%
from IPython.display import display

from hf_rnn import attention_maps
from hf_rnn.report.plots import plot_side_by_side

mamba_maps = attention_maps(mamba, tokenizer, SENTENCE)
llm_maps = attention_maps(llm, tokenizer, SENTENCE)
print("Mamba-2 hidden attention:", mamba_maps.weights.shape, "| SmolLM2 self-attention:", llm_maps.weights.shape)
print("same tokens:", mamba_maps.query_tokens == llm_maps.query_tokens)
figure = plot_side_by_side(mamba_maps, llm_maps, path=f"{OUT}/hidden_vs_self_attention.png")
display(figure)

# %% [markdown]
# How far back does each model read? The share of a token's weight on the token $k$ positions before it,
# averaged over the sentence's tokens, layers and heads. The first token is left out (each row's other
# weights scaled to sum to 1): SmolLM2 parks most of its attention there whatever the distance (the
# "attention sink" of notebook 5), which would hide the rest.

# %%
def weight_by_distance(maps):
    """[k] mean share of a token's weight on the token k positions back, among the keys after the first."""
    weights = maps.weights.mean(axis=(0, 1))[1:, 1:]             # [T - 1, T - 1]: the first token left out
    weights = weights / weights.sum(-1, keepdims=True)
    T = weights.shape[0]
    return np.array([np.mean([weights[t, t - k] for t in range(k, T)]) for k in range(T)])


it, animal = mamba_maps.query_tokens.index("it"), mamba_maps.query_tokens.index("animal")
for label, maps in (("Mamba-2 (hidden attention)", mamba_maps), ("SmolLM2 (self-attention)", llm_maps)):
    mean = maps.weights.mean(axis=(0, 1))
    print(f"{label}: on itself {np.mean(np.diag(mean)):.2f}, on the first token {mean[1:, 0].mean():.2f}, "
          f"'it' -> 'animal' {mean[it, animal]:.3f}")
fig, ax = plt.subplots(figsize=(6.5, 3.4), layout="constrained")
for label, maps in (("Mamba-2 (hidden attention)", mamba_maps), ("SmolLM2 (self-attention)", llm_maps)):
    ax.plot(weight_by_distance(maps), marker="o", label=label)
ax.set(xlabel="distance k (tokens back)", ylabel="share of the weight (first token out)", title=f"“{SENTENCE}”")
ax.title.set_fontsize(9)
ax.grid(alpha=0.3)
ax.legend()
fig.savefig(f"{OUT}/weight_by_distance.png", dpi=120)
plt.show()

# %% [markdown]
# **What to make of it.** The tiny Mamba-2 has read sentiment sentences for a few seconds (its loss is far
# above what a trained model reaches), so its map shows the *mechanism* more than language: each token's
# output is built mostly from itself and the last few tokens, and the share of earlier tokens shrinks with
# distance, as the forget factor $e^{\Delta A}$ in $L$ makes it. (The $x_s$ that $M$ mixes have already
# passed a short causal convolution over the last 4 tokens, which the map does not show.) SmolLM2, trained on
# trillions of tokens, puts most of its attention on the first token, the "attention sink" of notebook 5.
# Beyond it, averaged over its 270 heads, it too reads mostly the nearest tokens: the two curves look alike.
# The difference is where the recency comes from. In Mamba-2 it is built in: the decay multiplies every
# path through the state, and a token far back can only matter if $\Delta$ stays small all the way. In a
# transformer it is learned: any head can read any earlier token at full strength, and a few do (notebook
# 5's head that links *it* to *animal*). The comparison is of mechanisms, not of quality: to see what a
# trained Mamba-2 reads, train it longer (`MAMBA_TRAIN_SECONDS = 300`, or `hf-rnn train --task textgen
# --model mamba2`; the app draws the same maps for any trained run).
#
# The trade that brought recurrence back: a transformer reads every earlier token at every step, exactly,
# at a cost that grows with the context; a Mamba-2 or minGRU compresses the past into a fixed-size state,
# which makes each generated token cost the same however long the text, and (thanks to the input-only gates)
# still trains in parallel. `benchmarks/recurrent_speed.py` measures both sides at the same width: training
# tokens/s and the time per generated token as the context grows, for a Mamba-2, an LSTM and a Llama
# (the numbers are on the documentation's Performance page).
