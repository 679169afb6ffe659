"""What the app does, without gradio: find the models, load and cache them, compare two on one input.

A *model choice* is a string, the same in the page and in the API:

- ``"zero-shot"``: the built-in SmolLM2-135M-Instruct (or ``AppService(llm=...)``) answering from a prompt,
  with no training (sentiment, text generation, translation, time series);
- ``"run:<folder>"``: a finished run folder under the runs folder (``hf-rnn train ... --output-dir runs/x``
  gives ``"run:x"``), of either family.

:class:`AppService` keeps the loaded models in a small LRU cache; each model has its own lock, so requests for
different models run at the same time and requests for one model take turns (a model object is not safe to
share between threads mid-forward). Inputs are cleaned (control characters removed, an empty input refused
with a message) and cut to what the model takes, with a notice. Nothing here raises for bad input or a missing
run folder: each side of a comparison carries either its output or a one-line ``error`` for the page.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
import uuid
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import HfRnnError

logger = logging.getLogger(__name__)

ZERO_SHOT = "zero-shot"
RUN_PREFIX = "run:"

# A task's title, kind, zero-shot answerability and one-minute model are the task's own (``hf_rnn.tasks``):
# the app reads them from the task class and branches on the kind, so a new task needs no edit here.

LECTURE_EXAMPLES = (
    "I like red apples",
    "Good, cheap food!",
    "Neat plot. Great acting.",
    "Pass me the orange",
    "Pass me the orange marker",
    "Do you have a pet?",
    "Roses are red",
)


MAX_CHARS = 50_000  # read at most this much of an input (a 20,000-character paste is fine)
HEATMAP_NOTE_NO_MODEL = "Pick a model to see its attention."

_WORD_RE = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]")
# attention_maps warns when it cuts an input; the app cuts inputs itself and says so in the page
warnings.filterwarnings("ignore", message=r"the (input|prompt|source) has \d+ tokens", category=UserWarning)


class AppError(HfRnnError):
    """Something the person using the app can fix (an empty input, a model that is gone); one line."""


# --------------------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Prediction:
    """One side of a comparison.

    ``output`` by task: sentiment ``{label: probability}``; pos ``[(word, tag), ...]``; textgen and translation
    the text; timeseries the forecast ``[value, ...]``. ``maps`` are the attention maps, or ``None`` with
    ``attention_note`` saying why. ``error`` is set (and ``output`` ``None``) when this side could not answer.
    """

    side: str
    value: str | None
    label: str
    output: Any = None
    maps: Any = None
    attention_note: str | None = None
    notices: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    family: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Comparison:
    """Both sides on one input; ``error`` is set when the input itself was refused (both sides empty)."""

    task: str
    a: Prediction
    b: Prediction
    notices: list[str] = field(default_factory=list)
    error: str | None = None
    series: dict[str, Any] | None = None  # timeseries: history, truth and where the window is

    def status_markdown(self) -> str:
        """A short report for the page: timings, notices and problems (Markdown)."""
        if self.error:
            return f"⚠️ {self.error}"
        lines = []
        timing = " · ".join(f"**{p.side}** {p.label}: {_ms(p.seconds)}" for p in (self.a, self.b) if p.ok)
        if timing:
            lines.append(timing)
        for notice in self.notices:
            lines.append(f"ℹ️ {notice}")
        for p in (self.a, self.b):
            if p.error:
                lines.append(f"⚠️ **{p.side}**: {p.error}")
            for notice in p.notices:
                lines.append(f"ℹ️ **{p.side}**: {notice}")
        return "\n\n".join(lines)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


@dataclass
class ModelChoice:
    """A model the app can use for a task: ``value`` (for the API), ``label`` (for people)."""

    value: str
    label: str
    family: str
    has_attention: bool
    run: Any = None  # hf_rnn.runs.Run for trained runs


# --------------------------------------------------------------------------------------------------------------
# Input cleaning
# --------------------------------------------------------------------------------------------------------------


def clean_text(text: Any) -> tuple[str, list[str]]:
    """The text with control characters removed (tabs and newlines kept), stripped, and cut to
    ``MAX_CHARS``; plus notices saying what changed. Right-to-left text, emoji and other scripts are kept."""
    notices: list[str] = []
    if text is None:
        return "", notices
    if not isinstance(text, str):
        text = str(text)
    if len(text) > MAX_CHARS:
        notices.append(f"The input has {len(text):,} characters; only the first {MAX_CHARS:,} were read.")
        text = text[:MAX_CHARS]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = []
    removed = 0
    for ch in text:
        category = unicodedata.category(ch)
        if (category == "Cc" and ch not in "\n\t") or category == "Cs":  # control characters, lone surrogates
            removed += 1
            kept.append(" ")
        else:
            kept.append(ch)
    if removed:
        notices.append(f"Removed {removed} control character{'s' if removed != 1 else ''} from the input.")
        text = re.sub(r" {2,}", " ", "".join(kept))
    return text.strip(), notices


def split_words(text: str) -> list[str]:
    """Words and punctuation marks, as the tagging data has them ("Pass me the orange." → 5 words)."""
    return _WORD_RE.findall(text)


# --------------------------------------------------------------------------------------------------------------
# The model cache
# --------------------------------------------------------------------------------------------------------------


@dataclass
class LoadedModel:
    """A model in the cache, with the lock that every use of it must hold."""

    key: tuple
    model: Any
    tokenizer: Any
    kind: str  # "rnn", "llm-head" (a classification/tagging head) or "llm-causal"
    name: str
    context: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)


class ModelCache:
    """At most ``size`` loaded models, least recently used dropped first; each key is loaded once even when
    several requests ask for it at the same time (the others wait for that load)."""

    def __init__(self, size: int = 4) -> None:
        if size < 1:
            raise ValueError("the model cache needs room for at least one model")
        self.size = size
        self.loads = 0
        self._items: OrderedDict[tuple, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple, threading.Lock] = {}

    def get(self, key: tuple, loader: Callable[[], LoadedModel]) -> LoadedModel:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key]
            try:
                item = loader()
            finally:
                with self._lock:
                    self._loading.pop(key, None)
            with self._lock:
                self._items[key] = item
                self.loads += 1
                while len(self._items) > self.size:
                    self._items.popitem(last=False)  # a request still using it keeps its own reference
            return item

    def discard(self, predicate: Callable[[tuple], bool]) -> int:
        with self._lock:
            gone = [k for k in self._items if predicate(k)]
            for k in gone:
                del self._items[k]
        return len(gone)

    def keys(self) -> list[tuple]:
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


# --------------------------------------------------------------------------------------------------------------
# The service
# --------------------------------------------------------------------------------------------------------------


class AppService:
    """Model registry and inference for the app.

    Args:
        runs_dir: where trained run folders are looked for (any depth); ``hf-rnn train --output-dir`` writes them.
        llm: the zero-shot LLM: ``None`` is the built-in SmolLM2-135M-Instruct; or a local model folder.
        cache_size: how many models stay loaded.
        max_input_tokens: inputs are cut to this many tokens (or less where the model's context is smaller).
        max_new_tokens: tokens generated for text generation and translation.
        train_seconds: the training budget of "train a quick one".
        llm_dtype: ``"float32"`` (default: the numbers the evaluation reports) or ``"bfloat16"`` for the LLMs
            (zero-shot and fine-tuned runs): 2-3x faster on CPUs with bf16 matrix units, probabilities within
            about 0.002.
    """

    def __init__(self, runs_dir: str | os.PathLike = "runs", llm: str | os.PathLike | None = None, *,
                 cache_size: int = 4, max_input_tokens: int = 256, max_new_tokens: int = 40,
                 train_seconds: float = 60.0, llm_dtype: str | None = None) -> None:
        self.runs_dir = Path(runs_dir).expanduser()
        self.llm = None if llm is None else str(llm)
        self.cache = ModelCache(cache_size)
        self.max_input_tokens = int(max_input_tokens)
        self.max_new_tokens = int(max_new_tokens)
        self.train_seconds = float(train_seconds)
        if llm_dtype not in (None, "float32", "bfloat16"):
            raise AppError(f"llm_dtype must be float32 or bfloat16; got {llm_dtype!r}")
        self.llm_dtype = llm_dtype or "float32"
        self._tasks: dict[tuple, Any] = {}
        self._tasks_lock = threading.Lock()
        self._train_lock = threading.Lock()
        self._workdir = Path(tempfile.mkdtemp(prefix="hf_rnn_app_"))
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self._workdir), True)

    def close(self) -> None:
        """Remove the files the service wrote (PNG downloads, training logs)."""
        self._finalizer()

    # ------------------------------------------------------------------ which models exist

    def choices(self, task: str) -> list[ModelChoice]:
        """Trained runs of ``task`` (RNNs first, those with attention first, then newest first), then the
        zero-shot LLM."""
        _check_task(task)
        from ..runs import find_runs

        runs = find_runs(self.runs_dir, task) if self.runs_dir.exists() else []
        out = [self._run_choice(r) for r in runs]
        out.sort(key=lambda c: (c.family != "rnn", not c.has_attention, -_mtime(c.run.path)))
        if _task_class(task).zero_shot:
            out.append(ModelChoice(ZERO_SHOT, f"{self.llm_name} zero-shot (no training)", "llm", True))
        return out

    def _run_choice(self, run) -> ModelChoice:
        root = self.runs_dir.resolve()
        try:
            rel = run.path.resolve().relative_to(root).as_posix()
        except ValueError:
            rel = run.path.as_posix()
        config = _read_json(run.path / "config.json")
        attention = config.get("attention", "none") if run.family == "rnn" else "self"
        has_attention = run.family != "rnn" or (attention != "none" and config.get("architectures", [""])[0] in
                                               ("RNNForSequenceClassification", "RNNForSeq2SeqLM"))
        metric = run.metrics.get("task", {}).get("primary_metric")
        score = (run.metrics.get("test") or {}).get(metric)
        parts = [run.name]
        if run.family == "rnn" and attention != "none":
            parts.append(f"+ {attention} attention")
        label = " ".join(parts) + f" · {rel}"
        if isinstance(score, (int, float)):
            label += f" · test {metric} {score:.3g}"
        return ModelChoice(RUN_PREFIX + rel, label, run.family, has_attention, run)

    def defaults(self, task: str) -> tuple[str | None, str | None]:
        """The two models a page starts with: the newest RNN run (else any run) and the zero-shot LLM
        (else a second run)."""
        choices = self.choices(task)
        runs = [c for c in choices if c.run is not None]
        rnns = [c for c in runs if c.family == "rnn"]
        a = (rnns or runs or [None])[0]
        others = [c for c in choices if c is not a]
        zero = [c for c in others if c.value == ZERO_SHOT]
        b = (zero or others or [None])[0]
        return (a.value if a else None), (b.value if b else None)

    def train_hint(self, task: str) -> str:
        """How to get a trained RNN for ``task`` (Markdown), or an empty string when one exists."""
        if any(c.family == "rnn" for c in self.choices(task)):
            return ""
        model, overrides = _task_class(task).app_quick_train
        command = " ".join(["hf-rnn train", f"--task {task}", f"--model {model}", *overrides,
                            f"training.max_seconds={self.train_seconds:g}",
                            f"--output-dir {self._quick_dir(task, model, unique=False)}"])
        return (f"No trained RNN for {_task_class(task).title.lower() or task} under `{self.runs_dir}` yet. Train one in about a "
                f"minute with the button, or in a terminal:\n\n```\n{command}\n```\n\nthen press ↻.")

    @property
    def llm_name(self) -> str:
        if self.llm is None:
            from ..assets import BUILTIN_LLM_NAME

            return BUILTIN_LLM_NAME
        return Path(self.llm).name or str(self.llm)

    def resolve(self, task: str, value: str | None) -> ModelChoice:
        """The choice named by ``value`` for ``task``; ``AppError`` with a friendly line otherwise."""
        _check_task(task)
        if value is None or not str(value).strip():
            raise AppError("no model picked: choose one in the list")
        value = str(value).strip()
        if value == ZERO_SHOT:
            if not _task_class(task).zero_shot:
                raise AppError(f"{self.llm_name} cannot label words zero-shot here; pick a trained run "
                               f"(hf-rnn train --task {task} --model smollm2 fine-tunes one)")
            return ModelChoice(ZERO_SHOT, f"{self.llm_name} zero-shot", "llm", True)
        if not value.startswith(RUN_PREFIX):
            raise AppError(f"unknown model {value!r}: use {ZERO_SHOT!r} or 'run:<folder under {self.runs_dir}>'")
        from ..runs import RunError, read_run

        rel = value[len(RUN_PREFIX):]
        root = self.runs_dir.resolve()
        path = (root / rel).resolve()
        if path != root and root not in path.parents:
            raise AppError(f"{rel!r} is not a folder under {self.runs_dir}")
        try:
            run = read_run(path)
        except RunError:
            self.cache.discard(lambda k: len(k) > 1 and k[1] == str(path))
            raise AppError(f"the run folder {self.runs_dir / rel} is gone or incomplete (deleted or moved since "
                           "the list was made); press ↻ to refresh the model list") from None
        if run.task_name != task:
            raise AppError(f"{rel} was trained for {run.task_name}, not {task}")
        choice = self._run_choice(run)
        choice.label = run.label
        return choice

    # ------------------------------------------------------------------ loading

    def _load(self, task: str, choice: ModelChoice) -> LoadedModel:
        if choice.value == ZERO_SHOT:
            key = ("llm", self.llm or "builtin", self.llm_dtype)
            return self.cache.get(key, lambda: self._load_llm(key))
        run = choice.run
        weights = max((_mtime(p) for p in run.path.glob("*.safetensors")), default=0.0)
        key = ("run", str(run.path.resolve()), weights)
        return self.cache.get(key, lambda: self._load_run(key, run))

    def _load_llm(self, key: tuple) -> LoadedModel:
        from ..models.llm import context_length, load_llm

        model, tokenizer = load_llm(self.llm, "causal-lm", output_attentions=True, dtype=self.llm_dtype)
        model.eval()
        return LoadedModel(key, model, tokenizer, "llm-causal", f"{self.llm_name} (zero-shot)",
                           context=context_length(model))

    def _load_run(self, key: tuple, run) -> LoadedModel:
        from ..runs import RunError, load_run_model

        try:
            model, tokenizer = load_run_model(run, output_attentions=True)
        except RunError:
            raise
        except Exception as e:  # a damaged folder: torch/safetensors errors of every kind
            raise AppError(f"cannot load {run.path.name}: {_first_line(e)}") from None
        if run.family == "rnn":
            kind, context = "rnn", None
        elif getattr(model, "main_input_name", None) == "past_values":  # an LLM forecaster that reads values
            kind, context = "values", None
        else:
            import torch

            from ..models.llm import context_length

            model.to(getattr(torch, self.llm_dtype))

            kind = "llm-head" if run.metrics["task"]["kind"] in ("sequence-classification",
                                                                  "token-classification") else "llm-causal"
            context = context_length(model)
        # a tagger trained on each sentence twice (task option repeat_input) must read it twice here too
        extra = {"repeat_input": bool((run.metrics["task"].get("options") or {}).get("repeat_input"))}
        return LoadedModel(key, model, tokenizer, kind, run.label, context=context, extra=extra)

    def task(self, name: str, options: dict | None = None):
        """The task (loaded once per set of options): label names, prompts and time-series windows."""
        from ..tasks import load_task

        options = dict(options or {})
        key = (name, json.dumps(options, sort_keys=True, default=str))
        with self._tasks_lock:
            if key not in self._tasks:
                self._tasks[key] = load_task(name, **options)
            return self._tasks[key]

    def warm_up(self, task: str = "sentiment") -> None:
        """Load the default models of ``task`` (and the task data), so the first comparison is quick."""
        for value in self.defaults(task):
            if value is None:
                continue
            try:
                choice = self.resolve(task, value)
                self._load(task, choice)
            except Exception:  # warming up is best effort; a real request reports the problem
                logger.exception("warm-up of %s failed", value)
        if _task_class(task).kind != "causal-lm":  # the others read labels, prompts or windows from it
            try:
                self.task(task, self._task_options(task, *self.defaults(task)))
            except Exception:
                logger.exception("loading task %s failed", task)

    # ------------------------------------------------------------------ comparing

    def compare(self, task: str, model_a: str | None, model_b: str | None, text: str | None = None, *,
                window: int | None = None, max_new_tokens: int | None = None) -> Comparison:
        """Both models on one input. ``text`` for the text tasks, ``window`` (a test-window index) for
        timeseries. Never raises for bad input: problems are in ``error`` / each side's ``error``."""
        _check_task(task)
        empty_a, empty_b = Prediction("A", model_a, _short(model_a)), Prediction("B", model_b, _short(model_b))
        n_new = self.max_new_tokens if max_new_tokens is None else max(1, min(int(max_new_tokens), 200))
        kind = _task_class(task).kind
        if kind == "forecasting":
            return self._compare_series(model_a, model_b, window, task)
        cleaned, notices = clean_text(text)
        if not cleaned:
            message = "The input is empty" + (" after removing control characters" if notices else "") + \
                      ": type a sentence or click one of the lecture's examples."
            return Comparison(task, empty_a, empty_b, notices, error=message)
        if kind == "token-classification" and not split_words(cleaned):
            return Comparison(task, empty_a, empty_b, notices, error="No words to label in the input.")
        a = self._predict(task, "A", model_a, cleaned, n_new)
        b = self._predict(task, "B", model_b, cleaned, n_new)
        return Comparison(task, a, b, notices)

    def _predict(self, task: str, side: str, value: str | None, text: str, n_new: int) -> Prediction:
        pred = Prediction(side, value, _short(value))
        start = time.perf_counter()
        try:
            choice = self.resolve(task, value)
            pred.label, pred.family = choice.label, choice.family
            lm = self._load(task, choice)
            pred.label = lm.name if choice.value == ZERO_SHOT else choice.label
            with lm.lock:
                start = time.perf_counter()  # time the answer, not the wait for the lock or the load
                kind = _task_class(task).kind
                if kind == "sequence-classification":
                    self._classify(lm, choice, text, pred, task)
                elif kind == "token-classification":
                    self._tag(lm, text, pred)
                elif kind == "causal-lm":
                    self._continue(lm, text, n_new, pred)
                elif kind == "translation":
                    self._translate(lm, choice, text, n_new, pred, task)
                else:
                    raise AppError(f"the app has no view for {kind} tasks yet")
        except AppError as e:
            pred.error = str(e)
        except HfRnnError as e:
            pred.error = _first_line(e)
        except Exception as e:  # never a traceback in the page; the log has it
            logger.exception("%s failed on model %s", task, value)
            pred.error = f"{pred.label} failed: {_first_line(e)}"
        pred.seconds = time.perf_counter() - start
        if pred.error:
            pred.output, pred.maps = None, None
        return pred

    # ------------------------------------------------------------------ limits

    def _limit(self, lm: LoadedModel, overhead: int = 0, reserve: int = 0) -> tuple[int, str]:
        """How many input tokens fit, and why: the app's limit, or the model's context."""
        if lm.context is not None and lm.context - overhead - reserve < self.max_input_tokens:
            room = lm.context - overhead - reserve
            if room < 1:
                raise AppError(f"{lm.name}'s context of {lm.context} tokens has no room for the input "
                               f"(the prompt takes {overhead} and the answer {reserve})")
            return room, f"{lm.name}'s context is {lm.context} tokens" + \
                (f", of which the prompt takes {overhead} and the answer {reserve}" if overhead or reserve else "")
        return self.max_input_tokens, f"the app reads at most {self.max_input_tokens} tokens, to answer quickly"

    def _cut_text(self, tokenizer, text: str, limit: int, reason: str, pred: Prediction) -> str:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) <= limit:
            return text
        pred.notices.append(f"The input has {len(ids):,} tokens; the first {limit} were used ({reason}).")
        return tokenizer.decode(ids[:limit], skip_special_tokens=True)

    def _cut_ids(self, ids: list[int], limit: int, reason: str, pred: Prediction, what: str = "input") -> list[int]:
        if len(ids) <= limit:
            return ids
        pred.notices.append(f"The {what} has {len(ids):,} tokens; the first {limit} were used ({reason}).")
        return ids[:limit]

    # ------------------------------------------------------------------ sentiment

    def _classify(self, lm: LoadedModel, choice: ModelChoice, text: str, pred: Prediction,
                  task_name: str) -> None:
        import torch

        tok = lm.tokenizer
        if choice.value == ZERO_SHOT:
            zs = lm.extra.get(f"zero-shot {task_name}")
            if zs is None:
                zs = lm.extra[f"zero-shot {task_name}"] = _zero_shot_classifier(lm, self.task(task_name))
            labels = zs.label_names
            template = zs.prompt_ids("")
            limit, reason = self._limit(lm, overhead=len(template), reserve=1)
            text = self._cut_text(tok, text, limit, reason, pred)
            ids = zs.prompt_ids(text)
            out, pred.maps = _self_attention(lm, ids, text, input_start=_common_prefix(template, ids),
                                             logits_to_keep=1)
            log_probs = out.logits[0, -1].float().log_softmax(-1)
            scores = torch.stack([log_probs[torch.as_tensor(i).reshape(-1)].logsumexp(0) for i in zs.label_token_ids])
            probs = scores.softmax(-1).tolist()
            pred.output = dict(zip(labels, probs))
            pred.notices.append(f"zero-shot: {_mass(scores)} of the next-token probability is on the label words")
            return
        config = lm.model.config
        labels = [config.id2label[i] for i in range(config.num_labels)]
        limit, reason = self._limit(lm)
        ids = self._cut_ids(list(tok(text)["input_ids"]), limit, reason, pred)
        if not ids:
            raise AppError("the input has no tokens for this model")
        if lm.kind == "rnn":
            with torch.no_grad():
                logits = lm.model(input_ids=torch.tensor([ids])).logits[0]
            pred.maps, pred.attention_note = _rnn_maps(lm, text, limit)
        else:
            out, pred.maps = _self_attention(lm, ids, text)
            logits = out.logits[0]
        pred.output = dict(zip(labels, logits.float().softmax(-1).tolist()))

    # ------------------------------------------------------------------ word labels

    def _tag(self, lm: LoadedModel, text: str, pred: Prediction) -> None:
        import torch

        from ..tokenization import encode_words

        if lm.kind == "llm-causal":
            raise AppError("a causal LM cannot label words here; pick a tagging run")
        words = split_words(text)
        enc = encode_words(lm.tokenizer, words, repeat=lm.extra.get("repeat_input", False))
        limit, reason = self._limit(lm)
        ids = enc["input_ids"]
        if len(ids) > limit:
            ids = ids[:limit]
            kept = len({w for w in enc["word_ids"][:limit] if w >= 0})
            pred.notices.append(f"The input has {len(enc['input_ids']):,} tokens; the first {limit} were used "
                                f"({reason}): {kept} of {len(words)} words are labelled.")
            words = words[:kept]
        with torch.no_grad():
            if lm.kind == "rnn":
                logits = lm.model(input_ids=torch.tensor([ids])).logits[0]
                pred.attention_note = ("An RNN tagger carries the sentence in its hidden states (both directions "
                                       "for a BiLSTM); it has no attention weights to show.")
            else:
                out, pred.maps = _self_attention(lm, ids, " ".join(words))
                logits = out.logits[0]
        best = logits.argmax(-1).tolist()
        id2label = lm.model.config.id2label
        first: dict[int, int] = {}
        for position, word in enumerate(enc["word_ids"][: len(ids)]):
            if word >= 0 and word not in first:
                first[word] = position
        pred.output = [(w, id2label[best[first[i]]] if i in first else "?") for i, w in enumerate(words)]

    # ------------------------------------------------------------------ text generation

    def _continue(self, lm: LoadedModel, text: str, n_new: int, pred: Prediction) -> None:
        if lm.kind == "llm-head":
            raise AppError("this run has a classification head, not a language-model head")
        tok = lm.tokenizer
        limit, reason = self._limit(lm, reserve=n_new)
        ids = self._cut_ids(list(tok(text, add_special_tokens=False)["input_ids"]), limit, reason, pred)
        if not ids:
            raise AppError("the input has no tokens for this model")
        new = _generate(lm, ids, n_new, no_repeat_ngram_size=3)
        pred.output = tok.decode(new, skip_special_tokens=True)
        if lm.kind == "rnn":
            pred.attention_note = ("An RNN language model carries the text so far in its hidden state; it has no "
                                   "attention weights to show.")
        else:
            _, pred.maps = _self_attention(lm, ids + new, text, prompt_length=len(ids))

    # ------------------------------------------------------------------ translation

    def _translate(self, lm: LoadedModel, choice: ModelChoice, text: str, n_new: int, pred: Prediction,
                   task_name: str) -> None:
        import torch

        tok = lm.tokenizer
        n_new = max(n_new, 16)
        if lm.kind == "rnn":
            from ..attention import attention_maps

            config = lm.model.config
            eos = tok.eos_token_id
            limit, reason = self._limit(lm, reserve=1)
            src = self._cut_ids(list(tok(text, add_special_tokens=False)["input_ids"]), limit, reason, pred)
            if not src:
                raise AppError("the input has no tokens for this model")
            source = torch.tensor([src + [eos]])
            with torch.no_grad():
                out = lm.model.generate(input_ids=source, attention_mask=torch.ones_like(source),
                                        max_new_tokens=n_new, do_sample=False, num_beams=1,
                                        decoder_start_token_id=config.decoder_start_token_id,
                                        pad_token_id=tok.pad_token_id, eos_token_id=eos)
            seq = getattr(out, "sequences", out)[0].tolist()[1:]
            translation = tok.decode([i for i in seq if i != eos], skip_special_tokens=True).strip()
            pred.output = translation
            if config.attention == "none":
                pred.attention_note = ("This encoder-decoder was trained without attention (RNNConfig attention="
                                       "'none'): the decoder reads only the encoder's last state.")
            else:
                source_text = tok.decode(src) if len(src) < len(tok(text, add_special_tokens=False)["input_ids"]) \
                    else text
                pred.maps = attention_maps(lm.model, tok, source_text, target_text=translation)
                pred.maps.model_name = lm.name
            return
        if lm.kind == "llm-head":
            raise AppError("this run has a classification head, not a language-model head")
        task = self.task(task_name)
        template = task.prompt_ids(tok, task.prompt(""))
        limit, reason = self._limit(lm, overhead=len(template), reserve=n_new)
        text = self._cut_text(tok, text, limit, reason, pred)
        ids = task.prompt_ids(tok, task.prompt(text))
        new = _generate(lm, ids, n_new)
        pred.output = tok.decode(new, skip_special_tokens=True).strip()
        _, pred.maps = _self_attention(lm, ids + new, text, prompt_length=len(ids),
                                       input_start=_common_prefix(template, ids))

    # ------------------------------------------------------------------ time series

    def _task_options(self, task: str, *values: str | None) -> dict:
        """The task options of the first run among ``values`` (a forecaster's series and window length)."""
        for value in values:
            if value and str(value).startswith(RUN_PREFIX):
                try:
                    choice = self.resolve(task, value)
                except AppError:
                    continue
                return dict(choice.run.metrics.get("task", {}).get("options") or {})
        return {}

    def windows(self, model_a: str | None = None, model_b: str | None = None,
                task_name: str = "timeseries") -> tuple[Any, list]:
        """A forecasting task (with the options of the first run picked) and its test windows."""
        task = self.task(task_name, self._task_options(task_name, model_a, model_b))
        return task, task.windows("test")

    def _compare_series(self, model_a: str | None, model_b: str | None, window: Any,
                        task_name: str) -> Comparison:
        empty_a, empty_b = Prediction("A", model_a, _short(model_a)), Prediction("B", model_b, _short(model_b))
        try:
            task, windows = self.windows(model_a, model_b, task_name)
        except HfRnnError as e:
            return Comparison(task_name, empty_a, empty_b, error=_first_line(e))
        notices = []
        try:
            index = int(float(window)) if window is not None and str(window).strip() != "" else 0
        except (TypeError, ValueError):
            return Comparison(task_name, empty_a, empty_b,
                              error=f"the window must be a number from 0 to {len(windows) - 1}")
        if not 0 <= index < len(windows):
            clipped = min(max(index, 0), len(windows) - 1)
            notices.append(f"There are {len(windows)} test windows (0 to {len(windows) - 1}); showing {clipped}.")
            index = clipped
        _, future, t = windows[index]
        ds = task.dataset["test"]
        values = list(ds[list(ds["series"]).index(task.series)]["values"])
        preds = []
        for side, value in (("A", model_a), ("B", model_b)):
            preds.append(self._forecast(side, value, task, values, t, task_name))
        history_from = max(0, t - 4 * task.context_length)
        series = {"series": task.series, "t": t, "index": index, "history_start": history_from,
                  "history": values[history_from:t], "truth": list(future), "context_length": task.context_length}
        return Comparison(task_name, preds[0], preds[1], notices, series=series)

    def _forecast(self, side: str, value: str | None, ref_task, values: list[float], t: int,
                  task_name: str) -> Prediction:
        import torch

        pred = Prediction(side, value, _short(value))
        start = time.perf_counter()
        try:
            choice = self.resolve(task_name, value)
            pred.label, pred.family = choice.label, choice.family
            options = dict(choice.run.metrics["task"].get("options") or {}) if choice.run is not None else {}
            task = self.task(task_name, options) if options else ref_task
            if task.series != ref_task.series:
                raise AppError(f"{choice.label} forecasts {task.series}, the window is from {ref_task.series}")
            c, h = task.context_length, task.horizon
            if t - c < 0:
                raise AppError(f"the window needs {c} past values; pick a later window")
            past = [float(v) for v in values[t - c:t]]
            lm = self._load(task_name, choice)
            if choice.value == ZERO_SHOT:
                pred.label = lm.name
            with lm.lock:
                start = time.perf_counter()
                if lm.kind in ("rnn", "values"):
                    with torch.no_grad():
                        forecast = lm.model(past_values=torch.tensor([past])).prediction[0]
                    pred.output = [float(v) for v in forecast.reshape(-1).tolist()][:h]
                    pred.attention_note = ("An RNN forecaster carries the window in its hidden state; it has no "
                                           "attention weights to show." if lm.kind == "rnn" else
                                           "This LLM forecaster reads patches of values, not tokens; its "
                                           "attention over patches is not drawn here.")
                elif lm.kind == "llm-causal":
                    tok = lm.tokenizer
                    ids = task.prompt_ids(tok, task.prompt(past))
                    n_new = task.max_new_tokens
                    if lm.context is not None and len(ids) + n_new > lm.context:
                        raise AppError(f"the window's prompt ({len(ids)} tokens) does not fit {lm.name}'s context "
                                       f"of {lm.context} tokens")
                    new = _generate(lm, ids, n_new)
                    answer = tok.decode(new, skip_special_tokens=True)
                    pred.output, ok = task.parse(answer, fallback=past[-1])
                    if not ok:
                        pred.notices.append(f"no number in the answer {answer.strip()[:40]!r}: the last value "
                                            "is used as the forecast")
                    template = task.prompt_ids(tok, f"Continue the series {task.series}:")
                    _, pred.maps = _self_attention(lm, ids + new, task.prompt(past), prompt_length=len(ids),
                                                   input_start=_common_prefix(template, ids))
                else:
                    raise AppError("this run has a classification head, not a forecaster")
        except AppError as e:
            pred.error = str(e)
        except HfRnnError as e:
            pred.error = _first_line(e)
        except Exception as e:
            logger.exception("forecast failed on model %s", value)
            pred.error = f"{pred.label} failed: {_first_line(e)}"
        pred.seconds = time.perf_counter() - start
        return pred

    # ------------------------------------------------------------------ attention pictures

    def attention_png(self, maps, layer: int | None = None, head: int | None = None,
                      whole_prompt: bool = False) -> Path:
        """The heatmap of ``maps`` as a PNG file (``hf_rnn.plots``), for the download button."""
        from ..plots import plot_attention, save_figure
        from .render import sink_vmax

        shown = focus(maps, whole_prompt)
        path = self._workdir / "png" / f"attention-{_slug(shown.model_name)}-{uuid.uuid4().hex[:8]}.png"
        fig = plot_attention(shown, layer=layer, head=head, vmax=sink_vmax(shown, layer, head))
        save_figure(fig, path, dpi=130)
        _prune(path.parent, keep=200)
        return path

    # ------------------------------------------------------------------ training

    def _quick_dir(self, task: str, model: str, unique: bool = True) -> Path:
        base = self.runs_dir / f"{task}-{model}-quick"
        if not unique:
            return base
        path, n = base, 2
        while path.exists():
            path, n = self.runs_dir / f"{base.name}-{n}", n + 1
        return path

    def quick_train_argv(self, task: str) -> tuple[list[str], Path]:
        """The ``hf-rnn train`` command line of "train a quick one" and the run folder it writes."""
        _check_task(task)
        model, overrides = _task_class(task).app_quick_train
        out = self._quick_dir(task, model)
        argv = [sys.executable, "-m", "hf_rnn.cli", "train", "--task", task, "--model", model, *overrides,
                f"training.max_seconds={self.train_seconds:g}", "training.logging_steps=5",
                "training.progress_bar=false", "--output-dir", str(out)]
        return argv, out

    def quick_train(self, task: str, progress: Callable[[float, str], None] | None = None,
                    argv: Sequence[str] | None = None, out: Path | None = None) -> tuple[str | None, str]:
        """Train a small RNN for ``task`` into the runs folder (about ``train_seconds``), in a subprocess.

        Returns ``(model value, message)``; the value is ``None`` when training failed or another training
        is running. ``progress(fraction, description)`` is called while it trains.
        """
        _check_task(task)
        if not self._train_lock.acquire(blocking=False):
            return None, "A training is already running; wait for it to finish."
        try:
            if argv is None:
                argv, out = self.quick_train_argv(task)
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            log = self._workdir / f"train-{task}-{uuid.uuid4().hex[:6]}.log"
            env = dict(os.environ, PYTHONUNBUFFERED="1", TQDM_DISABLE="1")
            started = time.monotonic()
            budget = self.train_seconds
            with open(log, "w", encoding="utf-8") as handle:
                proc = subprocess.Popen(list(argv), stdout=handle, stderr=subprocess.STDOUT, env=env,
                                        cwd=os.getcwd())
                while proc.poll() is None:
                    time.sleep(0.5)
                    if progress is not None:
                        progress(*_training_progress(out, time.monotonic() - started, budget))
            seconds = time.monotonic() - started
            if proc.returncode != 0:
                tail = [ln for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
                reason = tail[-1] if tail else f"exit status {proc.returncode}"
                return None, f"Training failed after {seconds:.0f} s: {reason[:300]}"
            choice = self._run_choice(_read_run_quiet(out)) if out is not None else None
            if choice is None:
                return None, f"Training finished but wrote no run folder at {out}."
            if progress is not None:
                progress(1.0, "done")
            return choice.value, f"Trained {choice.label} in {seconds:.0f} s; it is now model A."
        finally:
            self._train_lock.release()


# --------------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------------


def _check_task(task: str) -> None:
    from ..tasks import TASKS

    if task not in TASKS:
        raise AppError(f"unknown task {task!r}; choose one of: {', '.join(TASKS)}")


def _task_class(task: str):
    """The task's class: its kind, title, zero-shot answerability and one-minute model."""
    from ..tasks import TASKS

    _check_task(task)
    return TASKS[task]


def _short(value: str | None) -> str:
    if not value:
        return "(no model)"
    return str(value)[len(RUN_PREFIX):] if str(value).startswith(RUN_PREFIX) else str(value)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _read_run_quiet(path: Path):
    from ..runs import RunError, read_run

    try:
        return read_run(path)
    except RunError:
        return None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "model"


def _prune(folder: Path, keep: int) -> None:
    files = sorted(folder.glob("*.png"), key=_mtime)
    for old in files[:-keep]:
        old.unlink(missing_ok=True)


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _mass(scores) -> str:
    share = float(scores.exp().sum())
    return f"{100 * share:.0f}%" if share >= 0.01 else "under 1%"


def _training_progress(out: Path | None, elapsed: float, budget: float) -> tuple[float, str]:
    """(fraction, description) from the run's metrics.jsonl while it trains."""
    trained = None
    tested = False
    if out is not None:
        log = out / "metrics.jsonl"
        try:
            for line in log.read_text(encoding="utf-8").splitlines()[-20:]:
                event = json.loads(line)
                if event.get("event") == "train":
                    trained = float(event.get("train_seconds", 0.0))
                if event.get("event") in ("eval", "test") and event.get("split") == "test":
                    tested = True
        except (OSError, ValueError):
            pass
    if tested:
        return 0.98, "saving"
    if trained is None:
        return min(0.1, elapsed / 150), "starting: loading the data and building the model"
    fraction = 0.1 + 0.8 * min(trained / max(budget, 1e-6), 1.0)
    if trained >= budget * 0.98:
        return fraction, "scoring on the test split"
    return fraction, f"training: {trained:.0f} s of {budget:.0f} s"


def _zero_shot_classifier(lm: LoadedModel, task):
    """The zero-shot classifier with the prompt ``hf_rnn.models.llm_zero_shot.zero_shot`` scores the task with."""
    from ..models import llm_zero_shot

    options = {}
    default_prompt = getattr(llm_zero_shot, "default_prompt", None)
    if default_prompt is not None:
        instruction, answer_prefix = default_prompt(task)
        options = {"instruction": instruction, "answer_prefix": answer_prefix}
    return llm_zero_shot.ZeroShotClassifier(lm.model, lm.tokenizer, task.label_names, **options)


def _rnn_maps(lm: LoadedModel, text: str, limit: int):
    """(maps, note) of an RNN classifier: attention pooling, or a note when it has none."""
    from ..attention import attention_maps

    config = lm.model.config
    if getattr(config, "attention", "none") == "none":
        return None, (f"{lm.name} reads its final states and has no attention to show. Train one with attention "
                      "pooling (model.attention=additive) to see where it looks.")
    ids = lm.tokenizer(text)["input_ids"]
    if len(ids) > limit:  # cut here (the page says so) rather than have attention_maps warn
        text = lm.tokenizer.decode(ids[:limit], skip_special_tokens=True)
    maps = attention_maps(lm.model, lm.tokenizer, text, max_length=limit)
    maps.model_name = lm.name
    return maps, None


def _self_attention(lm: LoadedModel, ids: list[int], text: str, prompt_length: int | None = None,
                    input_start: int = 0, **model_kwargs):
    """One forward pass of a transformers model over exactly ``ids`` with attention weights: the output (for the
    answer) and an :class:`~hf_rnn.attention.AttentionMaps` of every layer and head."""
    import torch

    from ..attention import AttentionMaps, eager_attention, token_strings

    inputs = torch.tensor([ids])
    with eager_attention(lm.model), torch.no_grad():
        out = lm.model(input_ids=inputs, attention_mask=torch.ones_like(inputs), output_attentions=True,
                       use_cache=False, **model_kwargs)
    if not out.attentions:
        return out, None
    weights = torch.stack([a[0].float() for a in out.attentions]).numpy()
    tokens = token_strings(lm.tokenizer, ids)
    maps = AttentionMaps(tokens, list(tokens), weights, "self-attention", lm.name,
                         prompt_length=prompt_length if prompt_length is not None and prompt_length < len(ids)
                         else None, text=text, meta={"family": "llm", "input_start": int(input_start)})
    return out, maps


def _generate(lm: LoadedModel, ids: list[int], n_new: int, **options) -> list[int]:
    """Greedy continuation of ``ids``: the new token ids (without the final eos)."""
    import torch

    tok = lm.tokenizer
    inputs = torch.tensor([ids])
    eos = tok.eos_token_id
    kwargs = dict(max_new_tokens=n_new, do_sample=False, num_beams=1, pad_token_id=tok.pad_token_id,
                  eos_token_id=eos, **options)
    if lm.kind != "rnn":
        kwargs.update(temperature=None, top_p=None, top_k=None)
    with torch.no_grad():
        out = lm.model.generate(input_ids=inputs, attention_mask=torch.ones_like(inputs), **kwargs)
    new = getattr(out, "sequences", out)[0].tolist()[len(ids):]
    while new and new[-1] in (eos, tok.pad_token_id):
        new.pop()
    return new


def focus(maps, whole_prompt: bool = False):
    """The maps from the input's first token on (a chat prompt's system message and instruction left out),
    unless ``whole_prompt``. Weights are not renormalised: each row shows what went to the visible tokens."""
    from ..attention import AttentionMaps

    start = int((maps.meta or {}).get("input_start") or 0)
    if whole_prompt or start <= 0 or maps.kind != "self-attention" or start >= len(maps.key_tokens) - 1:
        return maps
    prompt_length = None if maps.prompt_length is None else maps.prompt_length - start
    meta = dict(maps.meta, input_start=0, cropped_from=start)
    return AttentionMaps(maps.query_tokens[start:], maps.key_tokens[start:], maps.weights[:, :, start:, start:],
                         maps.kind, maps.model_name, prompt_length=prompt_length, text=maps.text, meta=meta)


__all__ = [
    "AppError",
    "AppService",
    "Comparison",
    "LECTURE_EXAMPLES",
    "ModelCache",
    "ModelChoice",
    "Prediction",
    "ZERO_SHOT",
    "clean_text",
    "focus",
    "split_words",
]
