# %% [markdown]
# # 5 · Transformers and a small LLM: SmolLM2-135M-Instruct
#
# The lecture's last step: drop the recurrence and keep only attention. A transformer layer computes, for
# every token at once,
#
# $$\text{Attention}(Q, K, V) = \text{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}} + M\right) V,
#   \qquad Q = X W_Q,\; K = X W_K,\; V = X W_V$$
#
# - **Self-attention**: every token's new representation is a weighted average over the other tokens'
#   values, with weights from query-key similarity: a context-dependent embedding instead of a fixed one.
# - **Multi-head attention**: $h$ such maps in parallel with their own $W_Q, W_K, W_V$ (each can follow a
#   different relation), concatenated and mixed by $W_O$.
# - **Positions**: attention alone ignores word order, so positions are encoded; SmolLM2 uses rotary
#   embeddings (RoPE), which rotate $Q$ and $K$ by angles that depend on the position.
# - **Parallelization**: no step depends on the previous one (unlike an RNN): all positions at once.
# - An **LLM** uses the decoder part: the mask $M$ is $-\infty$ above the diagonal, so a token attends only to
#   itself and the tokens before it (it predicts the next one).
#
# In this notebook: a self-attention by hand, the built-in LLM's configuration and attention maps on a
# lecture sentence, then a brief fine-tuning on sentiment compared with the same model answering zero-shot
# from a prompt.

# %%
import os

from hf_rnn.notebook import setup

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

# ---- where files go, and CPU threads (you should not need to change these) ----
# Run folders and figures go to $HF_RNN_NOTEBOOK_OUT/05_transformers_llm (the tests set it) or a fresh temporary
# folder, never into the repository. $HF_RNN_NOTEBOOK_THREADS sets PyTorch's CPU threads (default: the
# cores other work leaves free now, all of them on an idle machine).
OUT, THREADS = setup("05_transformers_llm")
import torch  # after setup(), which sets OMP_NUM_THREADS first

print(f"files go to {OUT}; {THREADS} CPU thread(s)")

# %% [markdown]
# ## Self-attention by hand
#
# Four tokens, $d = 8$, one head, the causal mask of a decoder:

# %%
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

# %% [markdown]
# Row $i$ is how token $i$ spreads its attention over tokens $0 \dots i$; the first token can only attend to
# itself. An LLM does this in every layer and every head, with learned $W$'s.
#
# ## The built-in LLM
#
# `hf_rnn.load_llm` loads SmolLM2-135M-Instruct from the offline cache (with `output_attentions=True` it uses
# the "eager" attention implementation, the only one that returns the weights).

# %%
from IPython.display import Markdown, display

from hf_rnn import load_llm
from hf_rnn.families.llm.llm import count_parameters, decoder_layers

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
display(Markdown("| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)))

# %% [markdown]
# 135 million parameters is small for an LLM (the lecture: *trillions*, for the largest), yet more than a
# hundred times the translation RNNs of notebook 4. About a fifth of them are the embedding table, shared
# with the output layer. Each of the 30 layers has 9 query heads that share 3 key/value heads
# (*grouped-query attention*, which shrinks the cache kept during generation).
#
# ## Attention maps on a lecture sentence
#
# The lecture's example: in *"The animal didn't cross the street because **it** was too tired"* the word
# *it* refers to *animal* (with *too wide* it would be the street). `attention_maps` returns every layer's
# and head's weights in one array `[layer, head, query, key]`.

# %%
from hf_rnn import attention_maps
from hf_rnn.report.plots import plot_attention

maps = attention_maps(llm, llm_tokenizer, ATTENTION_SENTENCE)
print("weights:", maps.weights.shape, "(layers, heads, query tokens, key tokens)")
print("tokens:", maps.query_tokens)
figure = plot_attention(maps, vmax=0.3)   # the mean over all layers and heads
figure.savefig(os.path.join(OUT, "llm_attention_mean.png"), dpi=120)
display(figure)

# %% [markdown]
# Averaged over all layers and heads, most of the weight goes to the **first token** (the bright first
# column; the colour scale is capped at 0.3 so the rest stays visible). This "attention sink" is typical of
# LLMs: a head that has nothing useful to read parks its attention there. The average hides what single
# heads do, so let us ask which heads link *it* to *animal*:

# %%
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


# %% [markdown]
# Averaged over all 270 heads, *it* gives *animal* no more weight than *street* (the first printed line).
# Most heads give *animal* little weight from *it* (left panel), but a few concentrate on it, and the
# strongest, layer 13 head 8 (right panel), puts three quarters of the weight of *it* on *animal*. Look at
# the whole column of *animal* in that head, though: *didn't*, *cross*, *was*, *too*, *tired* also read
# *animal*. This head seems to fetch the subject of the sentence for many tokens, not to resolve *it*
# specifically.
#
# There is a better reason not to expect the answer at *it*: the model is causal. When it computes *it*
# it has not read *tired* yet, and the lecture's point is that *too tired* makes *it* the animal while *too
# wide* makes it the street. The place where a decoder-only model can use that is the adjective itself.
# So compare the two sentences there, head by head:

# %%
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

# %% [markdown]
# In that head the adjective's attention follows the meaning: with *tired* it reads *animal* more than
# *street*, with *wide* it reads *street* far more. But only a couple of the 270 heads do this clearly, and
# we picked the one that does it most: attention maps are a partial, selective view of what a model
# computes, and the decision is spread over many heads and the layers' other parts. Still, nobody trained
# these heads for it: they come from predicting the next word on a lot of text.
#
# ## Fine-tuning vs zero-shot on sentiment
#
# The same pretrained model can be used two ways on the lecture's sentiment task (*Good, cheap food!*):
#
# - **zero-shot**: the instruct model is *asked*, in its chat template, which label fits the text (the
#   prompt is printed below), and we compare the probabilities of the label words as its answer;
# - **fine-tuned**: `load_llm(..., task)` puts a new 2-way linear head on the last token's hidden state, and
#   `hf_rnn.train` trains it with the layers we leave unfrozen.
#
# Both are scored on the same test sentences.

# %%
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
print(f"fine-tuned: {fine_tuned.training.steps} steps in {fine_tuned.training.train_seconds:.0f} s; "
      f"test {fine_tuned.test}")

# %%
from hf_rnn.families.llm.llm_zero_shot import ZeroShotClassifier, zero_shot

asker = ZeroShotClassifier(llm, llm_tokenizer, sentiment.label_names)
print("the zero-shot prompt, for one test sentence:\n---")
print(llm_tokenizer.decode(asker.prompt_ids(sentiment.dataset["test"][0]["text"])))
print("---")
zero = zero_shot(sentiment, model=llm, tokenizer=llm_tokenizer)
print("zero-shot: test", zero)

# %%
import json

losses = [(e["step"], e["loss"]) for e in map(json.loads, open(os.path.join(run_dir, "metrics.jsonl")))
          if e.get("event") == "train"]
fig, (ax_loss, ax_score) = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained")
ax_loss.plot(*zip(*losses), marker="o")
ax_loss.set(xlabel="step", ylabel="training loss (cross-entropy)", title="fine-tuning")
ax_loss.grid(alpha=0.3)
names = ["accuracy", "macro_f1"]
x = np.arange(len(names))
for k, (label, scores) in enumerate((("zero-shot (prompt)", zero), (f"fine-tuned, {STEPS} steps", fine_tuned.test))):
    ax_score.bar(x + (k - 0.5) * 0.35, [scores[n] for n in names], width=0.35, label=label)
ax_score.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="chance")
ax_score.set_xticks(x, names)
ax_score.set(ylim=(0, 1), title=f"SmolLM2 on {TEST_EXAMPLES} test sentences")
ax_score.legend(fontsize=8, loc="lower right")
fig.savefig(os.path.join(OUT, "fine_tuned_vs_zero_shot.png"), dpi=120)
plt.show()

error = (0.25 / TEST_EXAMPLES) ** 0.5
gap = fine_tuned.test["accuracy"] - zero["accuracy"]
print(f"accuracy: fine-tuned {fine_tuned.test['accuracy']:.1%}, zero-shot {zero['accuracy']:.1%} "
      f"(difference {gap:+.1%}); with {TEST_EXAMPLES} test sentences one standard error is up to {error:.1%}")

# %% [markdown]
# **What to make of it.** Both are above chance. The instruct model already knows what a positive
# review is and answers zero-shot without any training. The fine-tuned head starts from random weights and
# gets 20 steps on 320 sentences, updating only the top two layers: its loss falls, noisily, and is far
# from converged. At this budget the zero-shot answer is as good as the fine-tuned one or better, and the
# fine-tuned accuracy moves by several points with the seed; on 64 test sentences one standard error is
# about 6 points, so only a gap well beyond that means anything.
#
# To scale up: `FREEZE_LAYERS = 0` and `LEARNING_RATE = 3e-5` (full fine-tuning) or LoRA
# (`load_llm(None, task, mode="lora")`), all 8,454 training sentences for an epoch or more, and the whole
# test split; on a CPU that takes a long time (one step of the full model is seconds), on a GPU minutes.
# The built-in recipe is `hf_rnn.train_recipe(load_recipe("sentiment", "smollm2"))` (`load_recipe` from
# `hf_rnn.training.recipes`), or `hf-rnn train --task sentiment --model smollm2` from a shell. Notebook 6 trains the
# LLM and a BiLSTM on the same task under the same time budget.
