"""Each model's run in a comparison: its folder, and a finished run reused, a stopped one resumed or a new one
trained in a child process (``python -m hf_rnn.training.recipe_training``) whose progress is printed.

The child's peak memory is its own and its crash does not take the comparison down; a run is reused only
when its saved recipe equals the one the comparison would train (``same_recipe``). The helpers the other
modules of a comparison share live here too: ``say`` and ``every`` (progress lines), ``folder_name`` (a
model's name as a file or folder name), ``free_cores`` (this process's threads while it scores).
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from hf_rnn.errors import HfRnnError
from hf_rnn.runs.predictions import PREDICTIONS
from hf_rnn.runs.run import EVAL_PROGRESS, Run, RunError, read_run
from hf_rnn.tasks import TASKS


def folder_name(name: str) -> str:
    """A model name as a folder name: its last path part, other characters than ``-_.`` made ``_``, no leading
    dot (``..`` must not name the report folder's parent)."""
    folder = "".join(c if c.isalnum() or c in "-_." else "_" for c in name.strip("/").split("/")[-1])
    return folder.lstrip(".") or "model"


def clashing(names: dict[str, str]) -> set[str]:
    """The keys whose value another key has too, case aside (one folder on a macOS or Windows disk)."""
    counts = collections.Counter(v.lower() for v in names.values())
    return {k for k, v in names.items() if counts[v.lower()] > 1}


def folder_names(models: list[str]) -> dict[str, str]:
    """Each model's run folder name under the report folder: unique, and the same whatever the order of the list.

    The model's name as a folder name (``folder_name``); names that clash take their parent folder in front
    (``/a/model`` and ``/b/model``: ``a_model`` and ``b_model``), and where that clashes still, a short hash
    of the name as typed.
    """
    folders = {m: folder_name(m) for m in models}
    for m in clashing(folders):
        folders[m] = folder_name("_".join(Path(m.rstrip("/")).parts[-2:]))
    for m in clashing(folders):
        folders[m] = f"{folders[m]}-{hashlib.sha1(m.encode()).hexdigest()[:8]}"
    return folders


def model_identity(recipe) -> str:
    """What two recipes that train the same model share: the recipe but where it is written and its display
    name, a local LLM folder by its resolved path (``/a/model`` and ``/a/model/`` are one model)."""
    data = recipe.to_dict()
    data.pop("output_dir", None)
    model = dict(data.get("model") or {})
    model.pop("name", None)
    path = model.get("name_or_path")
    if isinstance(path, str) and Path(path).expanduser().exists():
        model["name_or_path"] = str(Path(path).expanduser().resolve())
    data["model"] = model
    return json.dumps(data, sort_keys=True, default=str)


def first_missing(folder: Path) -> Path | None:
    """The outermost folder that ``folder.mkdir(parents=True)`` would make; ``None`` when ``folder`` exists."""
    missing = None
    for path in [folder.absolute(), *folder.absolute().parents]:
        if path.exists():
            return missing
        missing = path
    return missing


@contextlib.contextmanager
def no_empty_folders_on_failure(folders: list[Path]):
    """On an error or interrupt in the block, remove what it made of ``folders`` (and of their parents) that
    holds no file. A folder that existed before stays, and so does one with a file in it (a stopped run's
    checkpoints, which the next comparison resumes)."""
    made = {top for f in folders if (top := first_missing(f)) is not None}
    try:
        yield
    except BaseException:
        for top in sorted(made, key=lambda p: len(p.parts), reverse=True):  # inner first: an outer one empties
            if top.is_dir():
                for path, _, _ in os.walk(top, topdown=False):
                    with contextlib.suppress(OSError):  # not empty: kept
                        os.rmdir(path)
        raise


def train_or_reuse(name: str, recipe, reuse: bool, progress: bool) -> Run:
    from hf_rnn.training.recipes import dump_yaml

    folder = Path(recipe.output_dir)
    wanted = dump_yaml(recipe.to_dict())
    if reuse and (folder / "metrics.json").exists() and (folder / "config.yaml").exists():
        if not (folder / PREDICTIONS).is_file():  # its test predictions are what the paired tests read
            say(progress, f"[compare] {name}: the finished run in {folder} kept no per-example predictions "
                          "(trained before they were kept): training it again")
        elif same_recipe(folder / "config.yaml", recipe):
            try:
                run = read_run(folder)
                say(progress, f"[compare] {name}: reusing the finished run in {folder}")
                return run
            except RunError:
                pass
    from hf_rnn.runs.folder import latest_checkpoint

    # A run of the same recipe that was stopped (killed, machine restarted) continues from its last checkpoint.
    resume = (reuse and not (folder / "metrics.json").exists() and latest_checkpoint(folder) is not None
              and (folder / "config.yaml").exists() and same_recipe(folder / "config.yaml", recipe))
    folder.mkdir(parents=True, exist_ok=True)
    recipe_file = folder.parent / f".{folder.name}.recipe.yaml"
    recipe_file.write_text(wanted, encoding="utf-8")
    verb = f"resuming from {latest_checkpoint(folder).name}" if resume else "training"
    env, threads = child_environment()
    on = f", {threads} torch thread(s): the cores other work leaves free" if threads else ""
    say(progress, f"[compare] {name}: {verb} ({recipe.model.family}) in {folder}{on} ...")
    # the same train_recipe as in-process callers, in a child: its memory peak is its own, its crash is not ours
    cmd = [sys.executable, "-m", "hf_rnn.training.recipe_training", "--config", str(recipe_file), "--output-dir", str(folder),
           "--resume" if resume else "--overwrite"]
    started = time.perf_counter()
    try:
        returncode, tail = _run_with_progress(cmd, name, folder, recipe, progress, env=env)
    finally:
        recipe_file.unlink(missing_ok=True)
    if returncode != 0:
        raise HfRnnError(f"training {name} failed (exit {returncode}); last lines:\n" + "\n".join(tail))
    say(progress, f"[compare] {name}: done in {time.perf_counter() - started:.0f} s")
    return read_run(folder)


PROGRESS_SECONDS = 15.0  # how often a training child's progress is printed


def child_environment() -> tuple[dict[str, str] | None, int | None]:
    """The environment of a training child and its torch threads: the cores other processes leave free now
    (``cpu_load.threads_to_use``), unless the user set ``OMP_NUM_THREADS`` (then ``(None, None)``)."""
    from hf_rnn.comparison.cpu_load import threads_to_use

    threads = threads_to_use()
    if threads is None:
        return None, None
    return {**os.environ, "OMP_NUM_THREADS": str(threads)}, threads


@contextlib.contextmanager
def free_cores():
    """This process's torch threads while scoring: the cores other work leaves free (the user's
    ``OMP_NUM_THREADS`` stands); the caller's setting is back afterwards."""
    import torch

    from hf_rnn.comparison.cpu_load import threads_to_use

    threads, before = threads_to_use(), torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _run_with_progress(cmd: list[str], name: str, folder: Path, recipe, progress: bool,
                       env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """Run one training child; every ``PROGRESS_SECONDS`` print its step, metric and time left, read from the
    run's own event stream (``metrics.jsonl``). Returns the exit status and the child's last 15 output lines."""
    import threading

    from hf_rnn.training.child_process import supervised

    tail: collections.deque[str] = collections.deque(maxlen=15)
    # an interrupt (Ctrl+C, a notebook's stop, SIGTERM under the CLI) stops the child with us; a parent killed
    # outright is noticed by the child itself (hf_rnn.training.child_process)
    with supervised(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as proc:
        reader = threading.Thread(target=lambda: [tail.append(line.rstrip()) for line in proc.stdout], daemon=True)
        reader.start()
        log, last, said = folder / "metrics.jsonl", time.monotonic(), ""
        while proc.poll() is None:
            time.sleep(0.2)
            if progress and time.monotonic() - last >= PROGRESS_SECONDS:
                last = time.monotonic()
                line = progress_line(log, recipe)
                if line and line != said:  # a new step or evaluation only: a slow step does not repeat the line
                    said = line
                    say(progress, f"[compare] {name}: {line}")
        reader.join(timeout=5)
    return proc.returncode, list(tail)


def _read_json_quiet(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def progress_line(log: Path, recipe) -> str:
    """Where a run stands, from its ``metrics.jsonl``: step, loss, latest validation metric, time left; and
    the evaluation under way, if one is (``runs.EVAL_PROGRESS``)."""
    try:
        lines = log.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    train = evaluation = None
    for raw in lines:
        try:
            event = json.loads(raw)
        except ValueError:
            continue  # a line being written
        if event.get("event") == "train":
            train = event
        elif event.get("event") == "eval" and event.get("split", "validation") == "validation":
            evaluation = event
    if train is None:
        return ""
    seconds = float(train.get("train_seconds", 0.0))
    parts = [f"step {train['step']}", f"epoch {train.get('epoch', 0):.2f}", f"loss {train.get('loss', 0):.3g}"]
    metric = TASKS[recipe.task.name].primary_metric
    if evaluation is not None and metric in evaluation:
        parts.append(f"validation {metric} {evaluation[metric]:.4g}")
    evaluating = _read_json_quiet(log.parent / EVAL_PROGRESS)
    if evaluating.get("of"):
        parts.append(f"scoring {evaluating.get('split', '?')}: batch {evaluating.get('batches', 0)} of "
                     f"{evaluating['of']}")
    budget = recipe.training
    if budget.max_seconds:
        parts.append(f"{seconds:.0f} of {budget.max_seconds:g} s trained")
    elif budget.epochs and train.get("epoch"):
        left = seconds * (budget.epochs - train["epoch"]) / train["epoch"]
        parts.append(f"{seconds:.0f} s trained, about {left / 60:.0f} min left (at most {budget.epochs:g} epochs)")
    return ", ".join(parts)


def same_recipe(saved: Path, recipe) -> bool:
    """Whether a run folder's ``config.yaml`` is ``recipe``, wherever the folder is (``output_dir`` aside).

    The saved recipe is rebuilt first, so a key added to the recipe format since (with its default) does not
    count as a difference.
    """
    import yaml

    from hf_rnn.training.recipes import build_recipe

    try:
        data = yaml.safe_load(saved.read_text(encoding="utf-8"))
        rebuilt = build_recipe(data).to_dict()
    except (OSError, yaml.YAMLError, HfRnnError, TypeError, AttributeError):
        return False
    wanted = recipe.to_dict()
    return {k: v for k, v in rebuilt.items() if k != "output_dir"} == \
        {k: v for k, v in wanted.items() if k != "output_dir"}


def every(seconds: float, report: Callable[[int, int], None]) -> Callable[[int, int], None]:
    """``report(done, total)`` at most once every ``seconds``, and for the last batch."""
    last = [time.monotonic()]

    def call(done: int, total: int) -> None:
        if done >= total or time.monotonic() - last[0] >= seconds:
            last[0] = time.monotonic()
            report(done, total)

    return call


def say(progress: bool, text: str) -> None:
    if progress:
        print(text, file=sys.stderr, flush=True)
