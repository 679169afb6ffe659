"""Run folders: find them, check them, and load the model a run trained.

A run folder is what ``hf_rnn.train`` writes: ``config.yaml`` (the recipe), ``metrics.json``,
``metrics.jsonl``, the model and tokenizer (``save_pretrained``) and a model card. The
comparison and the app read runs only through this module; ``Run.metrics`` is ``metrics.json`` read through
its schema (``hf_rnn.runs.schema.RunMetrics``), so a malformed file is a ``RunError`` that names the key.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

from hf_rnn.errors import HfRnnError, RunError
from hf_rnn.runs.schema import RunMetrics, TokenizerInfo

# where an evaluation of a run under way stands (split, step, batches done and of how many): rewritten every
# few seconds while it runs and removed after it, for whoever watches the run (``hf-rnn compare`` prints it),
# so that metrics.jsonl stays a log of finished events
EVAL_PROGRESS = ".evaluating.json"


REQUIRED_FILES = ("config.json", "metrics.json")


@dataclass
class Run:
    """A finished training run, as read from its folder."""

    path: Path
    metrics: RunMetrics

    @property
    def task_name(self) -> str:
        return self.metrics.task.name

    @property
    def family(self) -> str:
        return self.metrics.model.family

    @property
    def name(self) -> str:
        return self.metrics.model.name

    @property
    def label(self) -> str:
        """A display name: the model's name and the folder (two runs may share a model name)."""
        return f"{self.name} ({self.path.name})" if self.path.name != self.name else self.name

    def curve(self, split: str = "validation") -> list[tuple[int, float, float]]:
        """``(step, train_seconds, primary metric)`` of every evaluation on ``split``."""
        metric = self.metrics.task.primary_metric
        log = self.path / "metrics.jsonl"
        if not log.exists():
            return []
        seconds_at = {0: 0.0}
        points = []
        for line in log.read_text(encoding="utf-8").splitlines():
            event = json.loads(line)
            if event.get("event") == "train":
                seconds_at[event["step"]] = event.get("train_seconds", 0.0)
            elif event.get("event") == "eval" and event.get("split", "validation") == split and metric in event:
                step = event["step"]
                seconds = event.get("train_seconds", seconds_at.get(step, max(seconds_at.values())))
                points.append((step, float(seconds), float(event[metric])))
        return points


def read_run(folder: str | Path) -> Run:
    """Read a run folder; a clear ``RunError`` names what is missing."""
    from hf_rnn.arguments import path_argument

    path = Path(path_argument(folder, "read_run: folder")).expanduser()
    if not path.is_dir():
        raise RunError(f"run folder not found: {path}")
    missing = [f for f in REQUIRED_FILES if not (path / f).exists()]
    if not any(path.glob("*.safetensors")):
        missing.append("model weights (*.safetensors)")
    if missing:
        raise RunError(f"run folder {path} is missing {', '.join(missing)}: the run did not finish or files "
                       f"were removed; train it again (hf-rnn train ... --output-dir {path} --overwrite)")
    try:
        document = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise RunError(f"{path / 'metrics.json'} cannot be read: {e}") from None
    return Run(path, RunMetrics.from_dict(document, where=str(path / "metrics.json")))


def find_runs(root: str | Path, task: str | None = None) -> list[Run]:
    """Finished runs under ``root`` (at any depth), optionally only those of ``task``."""
    root = Path(root).expanduser()
    if not root.exists():
        return []
    runs = []
    for metrics in sorted(root.rglob("metrics.json")):
        try:
            run = read_run(metrics.parent)
        except RunError:
            continue  # unfinished or damaged: the app and compare skip it
        if task is None or run.task_name == task:
            runs.append(run)
    return runs


# Metrics counted per token of the model's own tokenizer: only comparable with one tokenizer.
# Accuracy (per sentence or per word), chrF/BLEU (on text), bits per character and MAE are not.
PER_TOKEN_METRICS = ("perplexity", "loss")


def check_comparable(runs: list[Run], allow_different_tokenizers: bool = False) -> None:
    """All runs must be on the same task and test split, and, where the metric is counted in
    tokens (perplexity), use the same tokenizer unless ``allow_different_tokenizers``."""
    if not runs:
        raise RunError("nothing to compare: the model list is empty")
    first = runs[0]
    for run in runs[1:]:
        if run.task_name != first.task_name:
            raise RunError(f"{run.path} was trained on task {run.task_name!r} but {first.path} on "
                           f"{first.task_name!r}: compare runs of one task")
        a, b = first.metrics.task, run.metrics.task
        if a.data_hash.get("test") != b.data_hash.get("test"):
            raise RunError(f"{run.path} and {first.path} were tested on different {first.task_name} test splits "
                           f"(sizes {a.sizes.get('test')} and {b.sizes.get('test')}):"
                           " use the same data source and task.max_test_examples")
        ta, tb = first.metrics.tokenizer, run.metrics.tokenizer
        # runs of text generation before bits per character were scored by perplexity: per token
        per_token = a.primary_metric in PER_TOKEN_METRICS
        # the vocabulary decides the token ids; where a copy of it is saved does not
        if per_token and not allow_different_tokenizers and ta and tb and ta.hash != tb.hash:
            raise RunError(f"{run.path} and {first.path} use different tokenizers ({_tok_name(tb)} vs "
                           f"{_tok_name(ta)}): {first.task_name} is scored per token, so the numbers would not "
                           "compare; pass allow_different_tokenizers=True to compare anyway")


def _tok_name(identity: TokenizerInfo) -> str:
    return identity.name_or_path or identity.class_name or "?"


@contextlib.contextmanager
def _load_error(what: str):
    """Loading ``what`` from files a user may have edited or damaged: its failure as one ``RunError`` line."""
    try:
        yield
    except HfRnnError:
        raise
    except (OSError, ValueError) as e:
        raise RunError(f"cannot load {what}: {(str(e).splitlines() or [type(e).__name__])[0]}") from None
    except (RuntimeError, TypeError, AttributeError, KeyError) as e:  # an edited config.json: a str for a mapping,
        # an unknown dtype name, a weight torch cannot take
        raise RunError(f"cannot load {what} ({type(e).__name__}: {(str(e).splitlines() or [''])[0]}); is its "
                       "config.json edited? Restore it or train the run again") from None


def load_run_model(run: Run | str | Path, output_attentions: bool = False):
    """``(model, tokenizer)`` of a run, in eval mode; eager attention when maps are wanted.

    The run's family (``metrics.json``'s ``model.family``) loads it: the head follows the run's task kind, so a
    sentiment LLM run loads as the ``PromptClassifier`` it trained (``AutoModelForSequenceClassification`` with
    ``model.head=new-head``) and an RNN run with the head it was saved with.
    """
    from transformers import AutoTokenizer

    from hf_rnn.families import FAMILIES, FAMILY_MODULES_ENV

    run = run if isinstance(run, Run) else read_run(run)
    path = run.path
    family = FAMILIES.get(run.family)
    if family is None:
        raise RunError(f"run {path} is of the {run.family!r} model family, which is not registered here: name the "
                       f"module that registers it in {FAMILY_MODULES_ENV}")
    has_tokenizer = (path / "tokenizer_config.json").exists()
    if run.metrics.tokenizer is not None and not has_tokenizer:  # trained on tokens: it cannot read text without
        raise RunError(f"run folder {path} is missing its tokenizer files (tokenizer_config.json): they were "
                       f"removed or not copied; restore them or train it again (hf-rnn train ... --output-dir "
                       f"{path} --overwrite)")
    with _load_error(f"the model of run {path}"):
        model = family.load(run, output_attentions=output_attentions)
    with _load_error(f"the tokenizer of run {path}"):
        tokenizer = AutoTokenizer.from_pretrained(path) if has_tokenizer else None
    if tokenizer is not None and tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return model, tokenizer
