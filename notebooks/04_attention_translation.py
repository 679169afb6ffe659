# %% [markdown]
# # 4 · Attention: translation with an encoder-decoder RNN
#
# Translation maps a sequence to a sequence of a **different length** (*Do you have a pet?* →
# *¿Tienes una mascota?*). The lecture's architecture: an **encoder** RNN reads the source, a **decoder**
# RNN writes the target one word at a time. Without attention the decoder sees the source only through the
# encoder's final state, one vector for the whole sentence. With **attention**, at every output step the
# decoder looks back at *all* encoder states $h_1 \dots h_S$ and takes a weighted average of them:
#
# $$e_{t,s} = v^\top \tanh(W_q\, s_{t-1} + W_k\, h_s) \quad \text{(additive, Bahdanau)} \qquad\text{or}\qquad
#   e_{t,s} = s_t \cdot h_s \quad \text{(dot, Luong)}$$
# $$\alpha_{t,s} = \frac{\exp e_{t,s}}{\sum_{s'} \exp e_{t,s'}}, \qquad c_t = \sum_s \alpha_{t,s}\, h_s$$
#
# where $s_{t-1}$ is the decoder's state before it writes word $t$; the context $c_t$ is fed to the decoder
# with the previous word. The weights $\alpha_{t,s}$ of one sentence form the lecture's *heatmap of attention
# weights*: which source words the decoder read while writing each target word.
#
# We train two `RNNForSeq2SeqLM` models on `hf_rnn`'s English → Spanish task (Bible verses: World English
# Bible → Reina-Valera 1909), one **without** attention and one **with** additive attention, for the same
# number of steps, and compare BLEU and chrF and the alignments. With the small settings below each model
# trains for well under a minute on a CPU: expect low scores (see the end for how to scale up).

# %%
import os

from hf_rnn.notebook import setup

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

# ---- where files go, and CPU threads (you should not need to change these) ----
# Run folders and figures go to $HF_RNN_NOTEBOOK_OUT/04_attention_translation (the tests set it) or a fresh temporary
# folder, never into the repository. $HF_RNN_NOTEBOOK_THREADS sets PyTorch's CPU threads (default: the
# cores other work leaves free now, all of them on an idle machine).
OUT, THREADS = setup("04_attention_translation")
import torch  # after setup(), which sets OMP_NUM_THREADS first

print(f"files go to {OUT}; {THREADS} CPU thread(s)")

# %% [markdown]
# ## Data and vocabulary
#
# Short verses are easier to learn in a few seconds, and the Bible has many formulaic ones ("*X lived N
# years, and became the father of Y*"). An RNN with SmolLM2's 49,152-token vocabulary spends most of its time
# in the output layer, so here it uses a word-level vocabulary trained on the training pairs
# (`hf_rnn.train_word_tokenizer`; case kept, so that the scores compare with the cased references).

# %%
from hf_rnn import load_task, train_word_tokenizer

task = load_task("translation", max_words=MAX_WORDS).subset({"validation": VALIDATION_EXAMPLES,
                                                             "test": TEST_EXAMPLES})
print(task)
for row in task.dataset["train"].select(range(3)):
    print(f"  {row['source']}\n  -> {row['target']}")
texts = list(task.dataset["train"]["source"]) + list(task.dataset["train"]["target"])
tokenizer = train_word_tokenizer(texts, vocab_size=VOCAB_SIZE, lowercase=False)
print(f"vocabulary: {len(tokenizer):,} words; e.g.",
      tokenizer.convert_ids_to_tokens(tokenizer("Noah lived thirty years.")["input_ids"]))

# %% [markdown]
# ## Training: without and with attention
#
# Both models have a bidirectional GRU encoder and a GRU decoder started from the encoder's final state
# (through a small "bridge" layer); they differ only in `attention`. `hf_rnn.train` is the same Accelerate
# loop used for every model of the package: it evaluates on the validation pairs at the end of every
# epoch, keeps the best model (by chrF), scores the test pairs and writes a run folder. It returns the run's
# `metrics.json`, typed (`hf_rnn.runs.schema.RunMetrics`: `metrics.test["bleu"]`, `metrics.training.steps`).

# %%
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
    print(f"attention={attention:9s} {metrics.training.steps} steps "
          f"({metrics.training.epochs:.1f} epochs) in {metrics.training.train_seconds:.0f} s: "
          f"test BLEU {metrics.test['bleu']:.1f}, chrF {metrics.test['chrf']:.1f}")

# %% [markdown]
# ## BLEU and chrF, with and without attention
#
# Both compare the greedy translations with the reference translations of the test pairs (sacrebleu,
# corpus level, 0 to 100):
#
# - **BLEU** $= \text{BP} \cdot \exp\big(\tfrac14 \sum_{n=1}^{4} \log p_n\big)$, where $p_n$ is the share of
#   the output's word $n$-grams that appear in the reference and BP penalises outputs shorter than it. It
#   needs whole matching words and word sequences, so it is harsh on a small model.
# - **chrF** is an F-score (recall weighted twice as much as precision) over character $n$-grams up to 6,
#   so a partly right word still counts.

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from hf_rnn.report.plots import plot_learning_curves
from hf_rnn.runs.run import read_run

lines = ["| attention | test BLEU | test chrF | steps | epochs | training s | parameters |",
         "|---|---|---|---|---|---|---|"]
for attention, m in results.items():
    lines.append(f"| {attention} | {m.test['bleu']:.2f} | {m.test['chrf']:.2f} | {m.training.steps} | "
                 f"{m.training.epochs:.1f} | {m.training.train_seconds:.0f} | {m.parameters.total:,} |")
display(Markdown("\n".join(lines) + f"\n\n{TEST_EXAMPLES} test pairs, greedy decoding."))

fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
x = np.arange(2)
for k, (attention, m) in enumerate(results.items()):
    values = [m.test["bleu"], m.test["chrf"]]
    ax.bar(x + (k - (len(results) - 1) / 2) * 0.35, values, width=0.35, label=f"attention = {attention}")
ax.set_xticks(x, ["BLEU", "chrF"])
ax.set(ylabel="score (0-100)", title=f"English → Spanish test pairs, {STEPS} steps per model")
ax.grid(axis="y", alpha=0.3)
ax.legend()
plt.show()

curves = {f"attention = {a}": read_run(d).curve() for a, d in run_dirs.items()}
display(plot_learning_curves(curves, "validation chrF", title="validation chrF after each epoch"))

# %% [markdown]
# Attention wins clearly here, on both scores and along the whole validation curve: after a few epochs
# the model without attention has levelled off (it mostly writes the commonest verse openings), while the
# one with attention is still improving. Both scores are still low in absolute terms: a thousand short
# verses, 300 steps, and 80 test sentences, so a few points either way are noise. Attention has a cost too
# (right panel): additive attention steps through the target one word at a time in Python, so each step
# takes about twice as long. And it gives us a picture of *where the decoder looks*.
#
# ## The alignment heatmaps
#
# `hf_rnn.attention_maps` returns the decoder-over-encoder weights $\alpha_{t,s}$ of one sentence: rows are
# target tokens, columns source tokens. With `target_text` the reference translation is fed to the decoder
# (teacher forcing), so the rows are the reference's words; without it they are the model's own greedy
# output. First two verses from the training pairs, chosen because they show the alignment well (the
# numbers after them say how typical they are):

# %%
from hf_rnn import attention_maps
from hf_rnn.models import load_rnn
from hf_rnn.report.plots import plot_attention, plot_side_by_side

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
    print(maps.text, "\n ", strongest_links(maps))


# %% [markdown]
# **Reading them.** The bright cells run down a diagonal: while it writes *Hadoram*, *Uzal* and *Dicla*
# the decoder reads *Hadoram*, *Uzal* and *Diklah* in turn. In the second verse the first words spread
# their attention over the start of the source, the comma is read at the comma, and from *asentaron* on the
# attention moves through *encamped by the Red Sea* to the full stop (`[UNK]` marks words outside the small
# vocabulary; the printed lines list every target word's strongest source word). The alignment is soft,
# often spread over neighbouring words, and it was learned from the translation loss alone: nobody told the
# model which words correspond. How typical is that? Over many verses, two numbers: how peaked each row is
# (its largest weight against the uniform $1/S$), and whether the strongest source position moves forward
# as the target advances (the correlation between the two positions: 1 for a perfect diagonal, 0 for none):

# %%
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

# %% [markdown]
# The diagonal tendency holds on average, on the training verses and on test verses the model never
# saw: it has learned *where* to look. (The Bible repeats itself, e.g. the offerings of Numbers 7, so a
# few test verses are also training verses; the printed count says how many.) A test verse, teacher-forced
# with its reference, and what the model itself writes for it:

# %%
unseen = task.dataset["test"][0]
unseen_maps = attention_maps(attentive, tokenizer, unseen["source"], target_text=unseen["target"])
greedy = attention_maps(attentive, tokenizer, unseen["source"], max_new_tokens=MAX_NEW_TOKENS)
print("source:   ", unseen["source"])
print("reference:", unseen["target"])
print("greedy:   ", " ".join(t for t in greedy.query_tokens if t != "[EOS]"))
display(plot_attention(unseen_maps))
print(strongest_links(unseen_maps))

# %% [markdown]
# On a new verse the model gets the frame right more often than the content: it follows the source from
# left to right, but `[UNK]` (a word outside the small vocabulary) and wrong numbers or names show that it
# has not learned to translate much yet, as the BLEU score said.
#
# The model without attention has nothing to show: it reads the source only through the final state.

# %%
try:
    attention_maps(load_rnn(run_dirs["none"]), tokenizer, verses[0]["source"])
except (ValueError, KeyError) as error:
    print(str(error).splitlines()[0][:150], "...")

# %% [markdown]
# A few test translations from each model (greedy decoding), next to the reference:

# %%
models = {attention: load_rnn(folder).eval() for attention, folder in run_dirs.items()}
for row in task.dataset["test"].select(range(4)):
    source = tokenizer(row["source"], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    source = torch.tensor([source])  # source + end of sentence, as the task encodes it
    print(f"EN   {row['source']}\nREF  {row['target']}")
    for attention, model in models.items():
        with torch.no_grad():
            out = model.generate(input_ids=source, attention_mask=torch.ones_like(source),
                                 max_new_tokens=MAX_NEW_TOKENS, do_sample=False)
        print(f"{attention[:4]:4s} {tokenizer.decode(out[0], skip_special_tokens=True)}")
    print()

# %% [markdown]
# A perfect translation here is most likely a verse the model saw in training (see the count of repeated
# verses above), and the model without attention writes the same few openings for many verses.
#
# ## Scaling up
#
# The low scores are a matter of budget, not of the code path. For real numbers:
#
# - use the task's default `MAX_WORDS = 30` (18,225 training pairs), the whole test split
#   (`TEST_EXAMPLES = None`), `HIDDEN_SIZE = 256`, `EMBEDDING_SIZE = 128`, and train for several epochs
#   (`TrainConfig(epochs=4, lr_scheduler="linear", warmup_steps=100, ...)` instead of `max_steps`);
# - or train the built-in recipe, `hf_rnn.train_recipe(load_recipe("translation", "rnn"))` (`load_recipe` from
#   `hf_rnn.training.recipes`; `hf-rnn train --task translation --model rnn` from a shell: a bidirectional GRU with
#   Luong's "general" attention and a word-level vocabulary, 4 epochs): hours on a CPU, much less on a GPU.
#   The recipe uses Luong's attention rather than this notebook's additive one because Luong's reads the
#   decoder's states after its RNN, so training runs the decoder over the whole target at once: about twice
#   the steps per second, which decides a comparison matched in seconds;
# - compare with the LLM on the same pairs: `hf-rnn compare --task translation` (notebook 6 does this
#   for sentiment).
#
# Next: notebook 5, where attention is all there is: transformers and a small LLM.
