# %% [markdown]
# # 6 · The comparison: a BiLSTM against SmolLM2 on sentiment
#
# *What does a transformer buy me over a well-built RNN, on my task?* `hf_rnn.compare` answers it the same
# way for every task:
#
# - each model trains from its built-in recipe (`hf_rnn/configs/sentiment_rnn.yaml` with the `bilstm` variant,
#   `hf_rnn/configs/sentiment_llm.yaml`) under the **same wall-clock budget**, in its own process;
# - both read the **same token ids** (the RNN uses SmolLM2's tokenizer), and are scored on the **same test
#   sentences**;
# - the report lists quality, size, training speed, latency per example and memory, with plots:
#   learning curves, quality against parameters, and attention maps where a model has attention.
#
# The budget below is tiny, so that the notebook runs in about two minutes: the numbers show what the
# comparison measures, not how good either model can get (see the end).

# %%
import os

from hf_rnn.notebook import setup

# ---- Settings (tiny: about 2 minutes on a laptop CPU; the "quick" profile gives each model 120 s) ----
MODELS = ["bilstm", "smollm2"]   # recipe names: also lstm, gru, bigru, simplernn, or an LLM folder / Hub id
TRAIN_SECONDS = 20        # matched training budget per model (profile "quick": 120 s; "full": epochs, BiLSTM 3, LLM 1.25)
TRAIN_EXAMPLES = 800      # training sentences (all: 8,454)
VALIDATION_EXAMPLES = 32  # evaluated during training, for the learning curves ("quick": 300)
TEST_EXAMPLES = 64        # the same test sentences for every model (all: 1,057)
ZERO_SHOT = False         # True adds the untrained instruct LLM answering from a prompt as a reference row (~+20 s here)

# ---- where files go, and CPU threads (you should not need to change these) ----
# Run folders and figures go to $HF_RNN_NOTEBOOK_OUT/06_comparison (the tests set it) or a fresh temporary
# folder, never into the repository. $HF_RNN_NOTEBOOK_THREADS sets PyTorch's CPU threads (default: the
# cores other work leaves free now, all of them on an idle machine).
OUT, THREADS = setup("06_comparison")

print(f"files go to {OUT}; {THREADS} CPU thread(s)")

# %% [markdown]
# ## Run the comparison
#
# `compare` resolves each model's recipe with the profile's settings and our overrides (any recipe key,
# as on the command line: `hf-rnn compare --task sentiment training.max_seconds=20 ...`), trains each model
# with `hf_rnn.train_recipe` in a subprocess, then measures and writes `report.md`, `report.html`, `results.json`
# and the figures into one folder. A second call with the same settings would reuse the finished runs.

# %%
from hf_rnn import compare

overrides = [f"training.max_seconds={TRAIN_SECONDS}", f"task.max_train_examples={TRAIN_EXAMPLES}",
             f"task.max_validation_examples={VALIDATION_EXAMPLES}", f"task.max_test_examples={TEST_EXAMPLES}"]
comparison = compare("sentiment", MODELS, "quick", OUT, zero_shot=ZERO_SHOT, overrides=overrides)
# (comparison.budget and report.md quote the profile's budget, 120 s, not our override: see the table)
print(f"training budget: {TRAIN_SECONDS} s per model; the whole comparison took {comparison.seconds:.0f} s")
print("hardware:", comparison.hardware.get("device_name"), "|", comparison.hardware.get("torch_threads"), "thread(s)")
print("files:", sorted(os.listdir(OUT)))

# %% [markdown]
# ## The table
#
# `Comparison.table_markdown()` is the table of `report.md`: the test metrics, parameters (all, and those
# trained), training seconds, training throughput (non-padding tokens per second), latency to answer one
# sentence (batch of 1; median and 95th percentile) and the peak memory of each training process.

# %%
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

# %%
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

# %% [markdown]
# ## The figures
#
# `compare` wrote them next to the report (`comparison.figures` maps a title to a file name):

# %%
for title, name in comparison.figures.items():
    print(title)
    display(Image(filename=os.path.join(OUT, name)))

# %% [markdown]
# **How to read them at this budget.**
#
# - *Learning curves*: validation accuracy at each evaluation, against steps (left) and seconds (right). In
#   the same seconds the BiLSTM makes a couple of hundred steps and the LLM a handful (each of its steps
#   moves 135M parameters), so the LLM's curve is a single point or two. With 32 validation sentences every
#   point is noisy (one sentence = 3 points of accuracy); the BiLSTM may also stop early, when its
#   validation accuracy has not improved for a few evaluations (the notes under the table say why each run
#   stopped).
# - *Quality against parameters*: the x axis counts every weight, frozen ones included (the table's
#   *trained* column says how many each model updates: the BiLSTM recipe may keep a frozen copy of the LLM's
#   embedding table). At this budget the LLM's accuracy is not higher in proportion to its size; the two are
#   within the noise of 64 test sentences. Compare accuracy with macro-F1 too: a model that still answers
#   mostly one class can reach a fair accuracy on a balanced test set but a low macro-F1.
# - *Attention*: a figure per model that has attention. The LLM's self-attention on the lecture's *Good,
#   cheap food!* is averaged over its 30 layers and 9 heads; as in notebook 5, most of the weight sits on the
#   first token. If the RNN recipe pools its states with attention (the recipe's `attention` setting,
#   printed under the table), its map has one row: how much each token counts in the sentence's summary;
#   after seconds of training those weights are still close to uniform.
#
# The speed and size columns hardly depend on the budget: the LLM needs several times the memory, trains on
# far fewer tokens per second and answers far more slowly. The budget decides the quality columns, and the
# question *"is it worth it?"* needs the comparison run with enough time.
#
# ## Scaling up
#
# - `TRAIN_SECONDS = 120`, `TRAIN_EXAMPLES = None`, `VALIDATION_EXAMPLES = 300`, `TEST_EXAMPLES = None`
#   is the "quick" profile (`hf_rnn.compare("sentiment")` with no overrides); `profile="full"` gives each
#   model 25 minutes on all the data, and `ZERO_SHOT = True` adds the instruct model answering zero-shot.
# - From a shell: `hf-rnn compare --task sentiment --profile full` writes the same report.
# - Other tasks: `hf_rnn.compare("pos")`, `"translation"`, `"textgen"`, `"timeseries"`.
# - Finished runs (e.g. your own `hf-rnn train` runs) can be compared without training:
#   `hf_rnn.compare_runs([...folders...], output_dir)`.
