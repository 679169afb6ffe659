# %% [markdown]
# # 3 · Bidirectional RNNs: "Pass me the orange …"
#
# A unidirectional RNN labels word $t$ from words $0 \dots t$ only. The lecture's examples show why that
# is not enough for word labeling:
#
# | sentence | the word | its tag | what decides it |
# |---|---|---|---|
# | Pass me the **orange** | orange | NOUN | nothing follows |
# | Pass me the **orange** marker | orange | ADJ | the *next* word, "marker" |
# | **Rest** before your next class | Rest | VERB | the words *after* it |
# | **Rest** and relaxation are healthy | Rest | NOUN | the words *after* it |
#
# A **bidirectional** RNN runs a second RNN from right to left and concatenates both activations, so every
# output sees the whole sentence:
#
# $$\overrightarrow{A}_t = g(X_t \overrightarrow{W}_X + \overrightarrow{A}_{t-1} \overrightarrow{W}_A + \overrightarrow{b}_A), \qquad
#   \overleftarrow{A}_t = g(X_t \overleftarrow{W}_X + \overleftarrow{A}_{t+1} \overleftarrow{W}_A + \overleftarrow{b}_A)$$
# $$y_t = g_y\big([\overrightarrow{A}_t ; \overleftarrow{A}_t] \cdot W_Y + b_Y\big)$$
#
# We train a unidirectional LSTM tagger and a bidirectional one (same data, same batches, same steps) on
# the Brown corpus with `hf_rnn.analyses.train_quick_taggers`, then tag the lecture's sentences.

# %%
import os

from hf_rnn.notebook import setup

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

# ---- where files go, and CPU threads (you should not need to change these) ----
# Run folders and figures go to $HF_RNN_NOTEBOOK_OUT/03_bidirectional (the tests set it) or a fresh temporary
# folder, never into the repository. $HF_RNN_NOTEBOOK_THREADS sets PyTorch's CPU threads (default: the
# cores other work leaves free now, all of them on an idle machine).
OUT, THREADS = setup("03_bidirectional")
import torch  # after setup(), which sets OMP_NUM_THREADS first

print(f"files go to {OUT}; {THREADS} CPU thread(s)")

# %% [markdown]
# ## The data and the two taggers
#
# The `pos` task is the whole Brown corpus with the 12 universal tags. Both taggers read SmolLM2's
# tokenizer's sub-tokens (so the LLM of notebook 5 would see the same ids) and are trained by the package's one
# training loop (`hf_rnn.training.loop.train`, as `hf-rnn train` does), seeing the same batches in the same order;
# their run folders go to `OUT/taggers`.

# %%
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
                              num_threads=THREADS, output_dir=os.path.join(OUT, "taggers"))
for name, (model, _) in taggers.items():
    info = model.quick_training
    print(f"{name:24s} {info['steps']} steps in {info['seconds']} s, "
          f"validation token accuracy {info['validation_accuracy']:.1%}")

# %% [markdown]
# ## The lecture's sentences
#
# `bidirectional_effect` tags each word with both taggers (the tag of a word is read at its first
# sub-token). In the table and the figure, words on which the two taggers disagree are in bold / framed in
# red; the figure also shows each tag's probability.

# %%
from hf_rnn.analyses import bidirectional_effect, bidirectional_table_markdown, plot_bidirectional_effect

table = bidirectional_effect(taggers, SENTENCES)
display(Markdown(bidirectional_table_markdown(table)))
figure = plot_bidirectional_effect(table)
figure.savefig(os.path.join(OUT, "bidirectional_effect.png"), dpi=120)
display(figure)

# %% [markdown]
# ## What each tagger can know
#
# The unidirectional tagger's output for *Rest* depends only on *Rest*: it is the first word in both
# sentences, so the tagger **must** give it the same tag with the same probability in both, whatever it
# learned. The same holds for *orange* in the two *Pass me the orange* sentences, whose first four words are
# identical. The bidirectional tagger is free to tell them apart. Let us look at the full tag distributions:

# %%
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
            labels.append(name.split()[0] + "\n" + textwrap.fill(f"“{sentence}”", 18))
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
print("\n".join(verdicts))

# %% [markdown]
# **What the figures show, honestly.** The pairs of bars of the unidirectional tagger are identical, as they
# must be: it tags *Rest* and *orange* before it has seen what follows. The bidirectional tagger's bars
# differ between the two sentences, because it reads the words after them. For *Rest* they move the
# slide's way: P(VERB) is higher in *Rest before your next class* and P(NOUN) higher in *Rest and relaxation
# are healthy* (the printed lines give the numbers), even though this small tagger's top tag for the
# first sentence is not VERB. Its tags can change with the seed and the training length.
#
# Two things the small taggers do **not** reproduce from the slide:
#
# - With these settings *orange* stays **NOUN** in *Pass me the orange marker* for both taggers. In the
#   Brown training split "orange" occurs 16 times (9 NOUN, 7 ADJ), and the taggers see only 5,000 of its
#   45,872 sentences; a noun before a noun ("orange marker" like "school bus") is common, so they have
#   little reason to call it ADJ; only its probabilities move.
# - *rest* is a NOUN 108 times and a VERB 20 times in the training split, and no sentence starts with it.
#   The bidirectional tagger can separate the two *Rest* sentences (see the printed lines) but may still
#   pick a wrong tag for one of them with a small training budget; the unidirectional one cannot separate
#   them at all. That structural difference, not any single tag, is the lecture's point.
#
# Note also the *first* word in general: the unidirectional tagger sees nothing but the word itself there
# (compare the two taggers on *Pass*).
#
# ## Which tasks can be bidirectional?
#
# Only those where the whole input is available before the output is needed (the lecture's
# *Unidirectional and Bidirectional* slide):
#
# | task | bidirectional? | why |
# |---|---|---|
# | word labeling | yes | the sentence is complete before it is tagged |
# | machine translation | yes (the encoder) | the source is complete; the decoder generates left to right |
# | sentiment classification | yes | one label for the whole text |
# | speech recognition (live) | no | the words after the current one have not been spoken yet |
# | time series prediction | no | the future is what we predict |
# | text generation | no | a model that saw the next word would just copy it |
#
# The lecture's Keras tagger, `Bidirectional(LSTM(64, return_sequences=True))` ×2 → `Dense(64, relu)` →
# `Dense(1, sigmoid)`, as an `hf_rnn` model: `return_sequences=True` means one output per token.

# %%
from hf_rnn.models import build_keras_stack, count_parameters

stack = build_keras_stack("bilstm_tagger", input_dim=32, vocab_size=1000).eval()
with torch.no_grad():
    output = stack(input_ids=torch.randint(0, 1000, (2, 7)))
print(type(stack).__name__, "| bidirectional:", stack.config.bidirectional, "| layers:", stack.config.num_layers,
      "| per-token outputs:", tuple(output.logits.shape), "(batch, tokens, 1 sigmoid each)")
print(f"{count_parameters(stack, include_embeddings=False):,} parameters without the embedding table")

# %% [markdown]
# ## What we saw
#
# - A unidirectional tagger labels a word from the words before it only: ambiguous words at the start of a
#   sentence (*Rest*) or whose meaning depends on the next word (*orange marker*) get the same answer
#   whatever follows.
# - The bidirectional tagger reads both sides; it is usually also the more accurate one on the validation set
#   (compare the accuracies printed after training).
# - Real data has its own conventions (Brown's "orange" is a noun): a model learns the corpus, not the slide.
#
# To reproduce the lecture's table more closely, train longer (`STEPS = 2000`, `TRAIN_SENTENCES = 45872`,
# `HIDDEN = 128`) or train the full recipe: `hf_rnn.train_recipe(load_recipe("pos", "bilstm"))` (`load_recipe`
# from `hf_rnn.training.recipes`), or `hf-rnn train --task pos --model bilstm` from a shell.
# Next: notebook 4, attention.
