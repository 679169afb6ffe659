"""Which models the app can use for a task, and what a model choice string names.

A *model choice* is a string, the same in the page and in the API: ``"zero-shot"`` (the zero-shot LLM) or
``"run:<folder>"`` (a finished run folder under the runs folder, of either family). A task's title, kind,
zero-shot answerability and one-minute model are the task's own (``hf_rnn.tasks``): this module reads them from
the task class, so a new task needs no edit here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hf_rnn.app.results import AppError
from hf_rnn.families import FAMILIES, LLM, family_rank

ZERO_SHOT = "zero-shot"
RUN_PREFIX = "run:"


@dataclass
class ModelChoice:
    """A model the app can use for a task: ``value`` (for the API), ``label`` (for people)."""

    value: str
    label: str
    family: str
    has_attention: bool
    run: Any = None  # hf_rnn.runs.run.Run for trained runs


def check_task(task: str) -> None:
    from hf_rnn.tasks import TASKS

    if task not in TASKS:
        raise AppError(f"unknown task {task!r}; choose one of: {', '.join(TASKS)}")


def task_class(task: str):
    """The task's class: its kind, title, zero-shot answerability and one-minute model."""
    from hf_rnn.tasks import TASKS

    check_task(task)
    return TASKS[task]


def short_label(value: str | None) -> str:
    """A choice's label before it is resolved: the run folder, or the value itself."""
    if not value:
        return "(no model)"
    return str(value)[len(RUN_PREFIX):] if str(value).startswith(RUN_PREFIX) else str(value)


def list_choices(runs_dir: Path, task: str, llm_name: str) -> list[ModelChoice]:
    """Trained runs of ``task`` under ``runs_dir`` (by family in registration order, so RNNs first; those with
    attention first, then newest first), then the zero-shot LLM."""
    check_task(task)
    from hf_rnn.runs.run import find_runs

    runs = find_runs(runs_dir, task) if runs_dir.exists() else []
    out = [run_choice(runs_dir, r) for r in runs]
    out.sort(key=lambda c: (family_rank(c.family), not c.has_attention, -mtime(c.run.path)))
    if task_class(task).zero_shot:
        out.append(ModelChoice(ZERO_SHOT, f"{llm_name} zero-shot (no training)", LLM.name, True))
    return out


def run_choice(runs_dir: Path, run) -> ModelChoice:
    """The choice of a run folder, labelled with its model, attention, folder and test score."""
    root = runs_dir.resolve()
    try:
        rel = run.path.resolve().relative_to(root).as_posix()
    except ValueError:
        rel = run.path.as_posix()
    family = FAMILIES.get(run.family)  # a run of a family not registered here is listed, and fails to load
    has_attention, attention = family.run_attention(read_json(run.path / "config.json")) if family else (False, "")
    metric, score = run.metrics.task.primary_metric, run.metrics.primary_score
    label = " ".join([run.name, *([attention] if attention else [])]) + f" · {rel}"
    source = run.metrics.task.source
    if source not in (None, "builtin"):  # trained on the user's data: say whose, not the built-in corpus's
        label += f" · data {Path(source).name}"
    if isinstance(score, (int, float)):
        label += f" · test {metric} {score:.3g}"
    return ModelChoice(RUN_PREFIX + rel, label, run.family, has_attention, run)


def pick_defaults(choices: list[ModelChoice]) -> tuple[str | None, str | None]:
    """The two models a page starts with: the newest run of the first family (an RNN; else any run) and the
    zero-shot LLM (else a second run)."""
    runs = [c for c in choices if c.run is not None]
    first = [c for c in runs if family_rank(c.family) == 0]
    a = (first or runs or [None])[0]
    others = [c for c in choices if c is not a]
    zero = [c for c in others if c.value == ZERO_SHOT]
    b = (zero or others or [None])[0]
    return (a.value if a else None), (b.value if b else None)


def resolve_choice(runs_dir: Path, task: str, value: str | None, llm_name: str,
                   forget: Callable[[Path], Any] | None = None) -> ModelChoice:
    """The choice named by ``value`` for ``task``; ``AppError`` with a friendly line otherwise.
    ``forget(path)`` is called with a run folder that is gone (its loaded model is stale)."""
    check_task(task)
    if value is None or not str(value).strip():
        raise AppError("no model picked: choose one in the list")
    value = str(value).strip()
    if value == ZERO_SHOT:
        if not task_class(task).zero_shot:
            raise AppError(f"{llm_name} cannot label words zero-shot here; pick a trained run "
                           f"(hf-rnn train --task {task} --model smollm2 fine-tunes one)")
        return ModelChoice(ZERO_SHOT, f"{llm_name} zero-shot", LLM.name, True)
    if not value.startswith(RUN_PREFIX):
        raise AppError(f"unknown model {value!r}: use {ZERO_SHOT!r} or 'run:<folder under {runs_dir}>'")
    from hf_rnn.runs.run import RunError, read_run

    rel = value[len(RUN_PREFIX):]
    root = runs_dir.resolve()
    path = (root / rel).resolve()
    if path != root and root not in path.parents:
        raise AppError(f"{rel!r} is not a folder under {runs_dir}")
    try:
        run = read_run(path)
    except RunError:
        if forget is not None:
            forget(path)
        raise AppError(f"the run folder {runs_dir / rel} is gone or incomplete (deleted or moved since "
                       "the list was made); press ↻ to refresh the model list") from None
    if run.task_name != task:
        raise AppError(f"{rel} was trained for {run.task_name}, not {task}")
    choice = run_choice(runs_dir, run)
    choice.label = run.label
    return choice


def mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def read_run_quiet(path: Path):
    """The run at ``path``, or ``None`` when it is not a finished run folder."""
    from hf_rnn.runs.run import RunError, read_run

    try:
        return read_run(path)
    except RunError:
        return None


__all__ = ["RUN_PREFIX", "ZERO_SHOT", "ModelChoice", "check_task", "list_choices", "pick_defaults",
           "resolve_choice", "run_choice", "short_label", "task_class"]
