""""Train a quick one": the task's one-minute RNN (its ``app_quick_train`` model and overrides), trained by
``hf_rnn.train_recipe`` in a subprocess (``python -m hf_rnn.training.recipe_training``: the page stays responsive and a
failed training leaves the app as it was) into a new folder under the runs folder, with progress read from the
run's ``metrics.jsonl`` while it trains."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from hf_rnn.app.choices import read_run_quiet, run_choice, task_class
from hf_rnn.training.child_process import supervised


def quick_dir(runs_dir: Path, task: str, model: str, unique: bool = True) -> Path:
    """``<runs>/<task>-<model>-quick``, or with ``-2``, ``-3``... when ``unique`` and it exists (never
    overwrites a run)."""
    base = runs_dir / f"{task}-{model}-quick"
    if not unique:
        return base
    path, n = base, 2
    while path.exists():
        path, n = runs_dir / f"{base.name}-{n}", n + 1
    return path


def train_command(runs_dir: Path, task: str, seconds: float) -> str:
    """The ``hf-rnn train`` command line to type for the task's one-minute model."""
    model, overrides = task_class(task).app_quick_train
    return " ".join(["hf-rnn train", f"--task {task}", f"--model {model}", *overrides,
                     f"training.max_seconds={seconds:g}",
                     f"--output-dir {quick_dir(runs_dir, task, model, unique=False)}"])


def quick_train_argv(runs_dir: Path, task: str, seconds: float) -> tuple[list[str], Path]:
    """The command line of "train a quick one" (``train_recipe`` in a child process) and the run folder it
    writes."""
    model, overrides = task_class(task).app_quick_train
    out = quick_dir(runs_dir, task, model)
    argv = [sys.executable, "-m", "hf_rnn.training.recipe_training", "--task", task, "--model", model, *overrides,
            f"training.max_seconds={seconds:g}", "training.logging_steps=5",
            "training.progress_bar=false", "--output-dir", str(out)]
    return argv, out


def train_in_subprocess(runs_dir: Path, argv: Sequence[str], out: Path | None, log: Path, budget: float,
                        progress: Callable[[float, str], None] | None = None) -> tuple[str | None, str]:
    """Run ``argv`` (output to ``log``) until it exits; ``(model value, message)``, the value ``None`` when it
    failed. ``progress(fraction, description)`` is called while it trains."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1", TQDM_DISABLE="1")
    started = time.monotonic()
    # the child ends with the app: stopped if this call is interrupted, on its own if the app is killed
    with open(log, "w", encoding="utf-8") as handle, \
            supervised(argv, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=os.getcwd()) as proc:
        while proc.poll() is None:
            time.sleep(0.5)
            if progress is not None:
                progress(*training_progress(out, time.monotonic() - started, budget))
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        tail = [ln for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
        reason = tail[-1] if tail else f"exit status {proc.returncode}"
        return None, f"Training failed after {seconds:.0f} s: {reason[:300]}"
    run = read_run_quiet(out) if out is not None else None
    choice = run_choice(runs_dir, run) if run is not None else None
    if choice is None:
        return None, f"Training finished but wrote no run folder at {out}."
    if progress is not None:
        progress(1.0, "done")
    return choice.value, f"Trained {choice.label} in {seconds:.0f} s; it is now model A."


def training_progress(out: Path | None, elapsed: float, budget: float) -> tuple[float, str]:
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


__all__ = ["quick_dir", "quick_train_argv", "train_command", "train_in_subprocess", "training_progress"]
