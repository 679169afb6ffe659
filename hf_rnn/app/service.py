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

The pieces live in modules of their own: ``choices`` (what a choice string names), ``cache`` (the loaded
models), ``predict`` (what a task's kind answers with, ``AppRequest``: each kind's ``Task.app_answer`` fills one
side), ``maps`` (attention maps), ``text`` (input
cleaning), ``quick_train`` (the one-minute training) and ``results``; the names other code imports from here
are re-exported.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hf_rnn.app.cache import LoadedModel, ModelCache, load_choice
from hf_rnn.app.choices import (
    RUN_PREFIX,
    ZERO_SHOT,
    ModelChoice,
    check_task,
    list_choices,
    mtime,
    pick_defaults,
    resolve_choice,
    short_label,
    task_class,
)
from hf_rnn.app.maps import focus
from hf_rnn.app.predict import AppRequest, zero_shot_classifier
from hf_rnn.app.quick_train import quick_train_argv, train_command, train_in_subprocess
from hf_rnn.app.results import AppError, Prediction, SideBySide, first_line
from hf_rnn.app.text import MAX_CHARS, clean_text, split_words
from hf_rnn.errors import HfRnnError

logger = logging.getLogger(__name__)

LECTURE_EXAMPLES = (
    "I like red apples",
    "Good, cheap food!",
    "Neat plot. Great acting.",
    "Pass me the orange",
    "Pass me the orange marker",
    "Do you have a pet?",
    "Roses are red",
)

HEATMAP_NOTE_NO_MODEL = "Pick a model to see its attention."


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
        return list_choices(self.runs_dir, task, self.llm_name)

    def defaults(self, task: str) -> tuple[str | None, str | None]:
        """The two models a page starts with: the newest RNN run (else any run) and the zero-shot LLM
        (else a second run)."""
        return pick_defaults(self.choices(task))

    def train_hint(self, task: str) -> str:
        """How to get a trained RNN for ``task`` (Markdown), or an empty string when one exists."""
        from hf_rnn.families import family_for_model_name

        quick = family_for_model_name(task_class(task).app_quick_train[0])  # the one-minute model's family
        if any(quick is not None and c.family == quick.name for c in self.choices(task)):
            return ""
        command = train_command(self.runs_dir, task, self.train_seconds)
        return (f"No trained RNN for {task_class(task).title.lower() or task} under `{self.runs_dir}` yet. Train one in about a "
                f"minute with the button, or in a terminal:\n\n```\n{command}\n```\n\nthen press ↻.")

    @property
    def llm_name(self) -> str:
        if self.llm is None:
            from hf_rnn.assets.cache import BUILTIN_LLM_NAME

            return BUILTIN_LLM_NAME
        return Path(self.llm).name or str(self.llm)

    def resolve(self, task: str, value: str | None) -> ModelChoice:
        """The choice named by ``value`` for ``task``; ``AppError`` with a friendly line otherwise."""
        return resolve_choice(self.runs_dir, task, value, self.llm_name, forget=self._forget)

    def _forget(self, path: Path) -> None:
        """Drop the loaded model of a run folder that is gone."""
        self.cache.discard(lambda k: len(k) > 1 and k[1] == str(path))

    # ------------------------------------------------------------------ loading

    def _load(self, task: str, choice: ModelChoice) -> LoadedModel:
        return load_choice(self.cache, choice, self.llm, self.llm_name, self.llm_dtype)

    def task(self, name: str, options: dict | None = None):
        """The task (loaded once per set of options): label names, prompts and time-series windows."""
        from hf_rnn.tasks import load_task

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
        if task_class(task).app_needs_data:  # labels, prompts or windows come from it
            try:
                self.task(task, self._task_options(task, *self.defaults(task)))
            except Exception:
                logger.exception("loading task %s failed", task)

    # ------------------------------------------------------------------ comparing

    def compare(self, task: str, model_a: str | None, model_b: str | None, text: str | None = None, *,
                window: int | None = None, max_new_tokens: int | None = None) -> SideBySide:
        """Both models on one input. ``text`` for the text tasks, ``window`` (a test-window index) for
        timeseries. Never raises for bad input: problems are in ``error`` / each side's ``error``."""
        check_task(task)
        empty_a, empty_b = _empty("A", model_a), _empty("B", model_b)
        n_new = self.max_new_tokens if max_new_tokens is None else max(1, min(int(max_new_tokens), 200))
        cls = task_class(task)
        if cls.app_input == "window":  # the input is a test window of the task's series
            return self._compare_series(model_a, model_b, window, task)
        cleaned, notices = clean_text(text)
        if not cleaned:
            message = "The input is empty" + (" after removing control characters" if notices else "") + \
                      ": type a sentence or click one of the lecture's examples."
            return SideBySide(task, empty_a, empty_b, notices, error=message)
        problem = cls.app_input_problem(cleaned)
        if problem:
            return SideBySide(task, empty_a, empty_b, notices, error=problem)
        a = self._predict(task, "A", model_a, cleaned, n_new)
        b = self._predict(task, "B", model_b, cleaned, n_new)
        return SideBySide(task, a, b, notices)

    def _predict(self, task: str, side: str, value: str | None, text: str, n_new: int) -> Prediction:
        pred = _empty(side, value)
        start = time.perf_counter()
        try:
            choice = self.resolve(task, value)
            pred.label, pred.family = choice.label, choice.family
            lm = self._load(task, choice)
            pred.label = lm.name if choice.value == ZERO_SHOT else choice.label
            with lm.lock:
                start = time.perf_counter()  # time the answer, not the wait for the lock or the load
                answering = self._answering_task(task, lm)
                answering.app_answer(self._request(lm, choice, task, pred, answering.kind, n_new), text)
        except AppError as e:
            pred.error = str(e)
        except HfRnnError as e:
            pred.error = first_line(e)
        except Exception as e:  # never a traceback in the page; the log has it
            logger.exception("%s failed on model %s", task, value)
            pred.error = f"{pred.label} failed: {first_line(e)}"
        pred.seconds = time.perf_counter() - start
        if pred.error:
            pred.output, pred.maps = None, None
        return pred

    def _answering_task(self, task_name: str, lm: LoadedModel):
        """The task that answers for ``lm``: with its run's options, without the task's data (labels come from
        the model); the loaded task where the class needs its data to exist (a plug-in task's own __init__)."""
        try:
            return task_class(task_name).without_data(**lm.task_options)
        except Exception:  # noqa: BLE001 - any error of a class that cannot be built empty
            return self.task(task_name, lm.task_options or None)

    def _request(self, lm: LoadedModel, choice: ModelChoice, task_name: str, pred: Prediction, kind: str,
                 n_new: int) -> AppRequest:
        """What a task's kind answers with (``Task.app_answer``); the LLM's classifier for the task is made only
        when the kind asks for it: the zero-shot LLM's, or a prompt-trained run's (it asks as zero-shot)."""
        def prompt_classifier():
            if choice.value == ZERO_SHOT:
                return self._zero_shot_classifier(lm, task_name)
            return lm.extra.get("prompt classifier")

        return AppRequest(lm, pred, self.max_input_tokens, n_new, kind, prompt_classifier)

    def _zero_shot_classifier(self, lm: LoadedModel, task_name: str):
        """The zero-shot LLM's classifier for ``task_name``, made once per loaded model (hold its lock)."""
        zs = lm.extra.get(f"zero-shot {task_name}")
        if zs is None:
            zs = lm.extra[f"zero-shot {task_name}"] = zero_shot_classifier(lm, self.task(task_name))
        return zs

    # ------------------------------------------------------------------ time series

    def _task_options(self, task: str, *values: str | None) -> dict:
        """The task options of the first run among ``values`` (a forecaster's series and window length)."""
        for value in values:
            if value and str(value).startswith(RUN_PREFIX):
                try:
                    choice = self.resolve(task, value)
                except AppError:
                    continue
                return dict(choice.run.metrics.task.options)
        return {}

    def windows(self, model_a: str | None = None, model_b: str | None = None,
                task_name: str = "timeseries") -> tuple[Any, list]:
        """A task whose input is a window (``app_input``; with the options of the first run picked) and its test
        windows."""
        task = self.task(task_name, self._task_options(task_name, model_a, model_b))
        return task, task.windows("test")

    def _compare_series(self, model_a: str | None, model_b: str | None, window: Any,
                        task_name: str) -> SideBySide:
        empty_a, empty_b = _empty("A", model_a), _empty("B", model_b)
        try:
            task, windows = self.windows(model_a, model_b, task_name)
        except HfRnnError as e:
            return SideBySide(task_name, empty_a, empty_b, error=first_line(e))
        notices = []
        try:
            index = int(float(window)) if window is not None and str(window).strip() != "" else 0
        except (TypeError, ValueError):
            return SideBySide(task_name, empty_a, empty_b,
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
        return SideBySide(task_name, preds[0], preds[1], notices, series=series)

    def _forecast(self, side: str, value: str | None, ref_task, values: list[float], t: int,
                  task_name: str) -> Prediction:
        pred = _empty(side, value)
        start = time.perf_counter()
        try:
            choice = self.resolve(task_name, value)
            pred.label, pred.family = choice.label, choice.family
            options = dict(choice.run.metrics.task.options) if choice.run is not None else {}
            task = self.task(task_name, options) if options else ref_task
            if task.series != ref_task.series:
                raise AppError(f"{choice.label} forecasts {task.series}, the window is from {ref_task.series}")
            c = task.context_length
            if t - c < 0:
                raise AppError(f"the window needs {c} past values; pick a later window")
            past = [float(v) for v in values[t - c:t]]
            lm = self._load(task_name, choice)
            if choice.value == ZERO_SHOT:
                pred.label = lm.name
            with lm.lock:
                start = time.perf_counter()
                task.app_answer(self._request(lm, choice, task_name, pred, task.kind, task.max_new_tokens), past)
        except AppError as e:
            pred.error = str(e)
        except HfRnnError as e:
            pred.error = first_line(e)
        except Exception as e:
            logger.exception("forecast failed on model %s", value)
            pred.error = f"{pred.label} failed: {first_line(e)}"
        pred.seconds = time.perf_counter() - start
        return pred

    # ------------------------------------------------------------------ attention pictures

    def attention_png(self, maps, layer: int | None = None, head: int | None = None,
                      whole_prompt: bool = False) -> Path:
        """The heatmap of ``maps`` as a PNG file (``hf_rnn.report.plots``), for the download button."""
        from hf_rnn.app.render import sink_vmax
        from hf_rnn.report.plots import plot_attention, save_figure

        shown = focus(maps, whole_prompt)
        path = self._workdir / "png" / f"attention-{_slug(shown.model_name)}-{uuid.uuid4().hex[:8]}.png"
        fig = plot_attention(shown, layer=layer, head=head, vmax=sink_vmax(shown, layer, head))
        save_figure(fig, path, dpi=130)
        _prune(path.parent, keep=200)
        return path

    # ------------------------------------------------------------------ training

    def quick_train_argv(self, task: str) -> tuple[list[str], Path]:
        """The command line of "train a quick one" (``hf_rnn.train_recipe`` in a child) and the run folder it
        writes."""
        check_task(task)
        return quick_train_argv(self.runs_dir, task, self.train_seconds)

    def quick_train(self, task: str, progress: Callable[[float, str], None] | None = None,
                    argv: Sequence[str] | None = None, out: Path | None = None) -> tuple[str | None, str]:
        """Train a small RNN for ``task`` into the runs folder (about ``train_seconds``), in a subprocess.

        Returns ``(model value, message)``; the value is ``None`` when training failed or another training
        is running. ``progress(fraction, description)`` is called while it trains.
        """
        check_task(task)
        if not self._train_lock.acquire(blocking=False):
            return None, "A training is already running; wait for it to finish."
        try:
            if argv is None:
                argv, out = self.quick_train_argv(task)
            log = self._workdir / f"train-{task}-{uuid.uuid4().hex[:6]}.log"
            return train_in_subprocess(self.runs_dir, argv, out, log, self.train_seconds, progress)
        finally:
            self._train_lock.release()


def _empty(side: str, value: str | None) -> Prediction:
    return Prediction(side, value, short_label(value))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "model"


def _prune(folder: Path, keep: int) -> None:
    files = sorted(folder.glob("*.png"), key=mtime)
    for old in files[:-keep]:
        old.unlink(missing_ok=True)


__all__ = [
    "HEATMAP_NOTE_NO_MODEL",
    "LECTURE_EXAMPLES",
    "MAX_CHARS",
    "RUN_PREFIX",
    "ZERO_SHOT",
    "AppError",
    "AppService",
    "SideBySide",
    "LoadedModel",
    "ModelCache",
    "ModelChoice",
    "Prediction",
    "clean_text",
    "focus",
    "split_words",
]
