"""The run folder ``hf_rnn.train`` writes: where it may go, its checkpoints, the saved model.

Layout::

    config.yaml          the resolved recipe (the single source of truth of the run)
    metrics.jsonl        one JSON line per logging, evaluation and test event
    metrics.json         test metrics, parameters, time, tokens/s, memory, hardware, identifiers
    README.md            a Hub model card
    config.json, model.safetensors, tokenizer files    the model (``save_pretrained``; LoRA merged in)
    adapter/             a LoRA run's peft adapter (``training.save_adapter``)
    tensorboard/         TensorBoard events (``training.log_with``; other trackers log where they log)
    checkpoints/         while training (``keep_checkpoints`` keeps them afterwards)

``check_output_dir`` decides, before anything is created, whether a run may use a folder; checkpoints are
written to a temporary folder and renamed into place, so ``latest_checkpoint`` never sees half of one; the
model is saved the same way. ``hf_rnn.run_metrics`` builds ``metrics.json``; ``hf_rnn.runs`` reads
finished runs.
"""

from __future__ import annotations

import copy
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

from .assets import atomic_write_text
from .errors import ConfigError, RunError

__all__ = ["ADAPTER", "CHECKPOINTS", "check_output_dir", "checkpoint_dir", "clear_run", "drop_events_after",
           "latest_checkpoint", "load_checkpoint", "save_checkpoint", "save_model", "usable_path"]

CHECKPOINTS = "checkpoints"
ADAPTER = "adapter"  # a LoRA run's peft adapter (training.save_adapter), beside the merged model
TRAINER_STATE = "trainer_state.json"  # the loop's counters, in every checkpoint


# room left under a run folder for the longest path a run writes in it (a checkpoint's optimizer state, a
# tokenizer file in a temporary folder): a folder whose own path fills PATH_MAX fails only at the first save
_ROOM_FOR_RUN_FILES = 160


def usable_path(path: str | os.PathLike, what: str = "output folder") -> Path:
    """``path`` made absolute, once the OS has been able to look it and its parents up; a ``ConfigError``
    naming it (shortened) when it cannot: a symlink loop, a name or path too long, a non-folder in the way.

    Looks only: nothing is created.
    """
    try:
        out = Path(os.fspath(path)).expanduser().resolve()  # a symlink loop: RuntimeError (3.11) or OSError
        for folder in (out, *out.parents):
            folder.exists()  # ENAMETOOLONG, ELOOP on a parent: raised here, not at the first write
    except TypeError:
        raise ConfigError(f"the {what} must be a path, not {type(path).__name__} ({path!r:.80})") from None
    except (OSError, RuntimeError) as e:
        reason = getattr(e, "strerror", None) or ("a symlink loop" if isinstance(e, RuntimeError) else str(e))
        raise ConfigError(f"cannot use {_short(path)} as the {what}: {reason}") from None
    name_max = _path_limit(out, "PC_NAME_MAX", 255)  # checked here: a lookup stops at the first missing folder
    longest = max(out.parts, key=lambda part: len(os.fsencode(part)))
    if len(os.fsencode(longest)) > name_max:
        raise ConfigError(f"cannot use {_short(path)} as the {what}: a name in it is {len(os.fsencode(longest))} "
                          f"bytes long, and the file system takes at most {name_max} (File name too long)")
    limit = _path_limit(out, "PC_PATH_MAX", 4096)
    if len(os.fsencode(out)) + _ROOM_FOR_RUN_FILES > limit:
        raise ConfigError(f"cannot use {_short(path)} as the {what}: its path is {len(os.fsencode(out))} bytes "
                          f"long, and the files a run writes in it need it under {limit - _ROOM_FOR_RUN_FILES}")
    return out


def _short(path: Any) -> str:
    """A user's path for a one-line message: a 4,000-character one would fill the screen."""
    text = str(path)
    return repr(text) if len(text) <= 120 else repr(f"{text[:60]}...{text[-40:]}") + f" ({len(text)} characters)"


def _path_limit(out: Path, name: str, default: int) -> int:
    """``os.pathconf``'s ``name`` (``PC_PATH_MAX``, ``PC_NAME_MAX``) where ``out`` would be made; ``default``
    (Linux's) on a platform without ``pathconf``."""
    folder = next((p for p in (out, *out.parents) if p.is_dir()), None)
    try:
        return os.pathconf(folder, name)
    except (AttributeError, OSError, ValueError, TypeError):
        return default


def check_output_dir(path: str | os.PathLike, resume: bool = False, overwrite: bool = False) -> Path:
    """Check, without creating or changing anything, that a run can use ``path``; return it resolved.

    Raises ``ConfigError`` when it cannot be written, when it already holds a run (and
    neither ``resume`` nor ``overwrite`` is set) or when ``resume`` finds no checkpoint. The
    folder itself is made only once the run's inputs are known good (``TrainingRun``), so a failure
    before that leaves nothing behind.
    """
    out = usable_path(path)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"the output folder {out} is a file; choose another --output-dir")
    existing = next(p for p in (out, *out.parents) if p.exists())  # the probe goes where the run will go
    if not existing.is_dir():
        raise ConfigError(f"cannot write to the output folder {out}: {existing} is a file")
    try:
        probe = existing / f".hf-rnn-write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"cannot write to the output folder {out}: {e.strerror or e}") from None
    started = any((out / name).exists() for name in ("config.yaml", CHECKPOINTS, "metrics.jsonl"))
    if resume:
        if latest_checkpoint(out) is None:
            if (out / "metrics.json").exists():
                raise ConfigError(f"nothing to resume in {out}: its run has finished; drop --resume and pass "
                                  "--overwrite to train it again, or choose another --output-dir")
            if started:
                raise ConfigError(f"nothing to resume in {out}: the run stopped before its first checkpoint; "
                                  "pass --overwrite instead of --resume to start it again")
            raise ConfigError(f"nothing to resume in {out}: no run there; drop --resume to start a new run")
    elif not overwrite and started:
        how = ("pass --resume to continue it, --overwrite to start again" if latest_checkpoint(out) is not None
               else "it has no checkpoint to resume from: pass --overwrite to start again")
        raise ConfigError(f"{out} already holds a run: {how}, or choose another --output-dir")
    return out


def latest_checkpoint(out: Path) -> Path | None:
    """The newest complete checkpoint (``checkpoints/step-N``; temporaries never count)."""
    root = out / CHECKPOINTS
    if not root.is_dir():
        return None
    steps = [p for p in root.iterdir() if p.is_dir() and p.name.startswith("step-") and
             (p / TRAINER_STATE).exists()]
    return max(steps, key=lambda p: int(p.name[5:]), default=None)


def _event_step(line: str) -> float:
    """The step of a ``metrics.jsonl`` line; a line cut short by a kill counts as after everything."""
    try:
        return json.loads(line).get("step", 0)
    except ValueError:
        return math.inf


def _is_test(line: str) -> bool:
    try:
        return json.loads(line).get("event") == "test"
    except ValueError:
        return False


def checkpoint_dir(out: Path, step: int) -> Path:
    """The checkpoint of optimizer step ``step``."""
    return out / CHECKPOINTS / f"step-{step:07d}"


def clear_run(out: Path) -> None:
    """Remove what a run writes as it goes (``--overwrite``); ``config.yaml`` and the model are rewritten."""
    for name in (CHECKPOINTS, "metrics.jsonl", "metrics.json", "tensorboard", ADAPTER):
        target = out / name
        shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)


def save_checkpoint(accelerator, out: Path, step: int, state: dict[str, Any], keep_step: int | None) -> None:
    """``accelerator.save_state`` + the loop's counters (``state``) into a temporary folder, then one rename.

    Every process calls it. Older checkpoints are removed, except ``keep_step``'s (the best model's).
    """
    acc, is_main = accelerator, accelerator.is_main_process
    root = out / CHECKPOINTS
    final = checkpoint_dir(out, step)
    tmp = root / f".tmp-{final.name}"
    if is_main:
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    acc.wait_for_everyone()
    try:
        acc.save_state(str(tmp))
        if is_main:
            (tmp / TRAINER_STATE).write_text(json.dumps(state, indent=1))
    except OSError as e:  # a full disk, a quota: the half-written checkpoint goes, the last complete one stays
        shutil.rmtree(tmp, ignore_errors=True)
        last = latest_checkpoint(out)
        then = f"resume from {last.name} with --resume" if last is not None else "train again with --overwrite"
        raise RunError(f"cannot write the checkpoint of step {step} in {root}: {e.strerror or e}; free space, "
                       f"then {then}") from None
    acc.wait_for_everyone()
    if is_main:
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        keep = {final.name} | ({checkpoint_dir(out, keep_step).name} if keep_step else set())
        for old in root.iterdir():
            if old.name not in keep:
                shutil.rmtree(old, ignore_errors=True)
    acc.wait_for_everyone()


def load_checkpoint(accelerator, folder: Path) -> dict[str, Any]:
    """Restore ``accelerator.load_state`` from ``folder`` and return the loop's counters saved with it."""
    accelerator.load_state(str(folder))
    return json.loads((folder / TRAINER_STATE).read_text())


def drop_events_after(out: Path, step: int) -> None:
    """Remove the ``metrics.jsonl`` lines of events after ``step``, and a test event at any step: a resumed run
    logs them again (a run killed after scoring the test split but before writing its model scores it again)."""
    log = out / "metrics.jsonl"
    if log.exists():
        kept = [line for line in log.read_text().splitlines() if _event_step(line) <= step and not _is_test(line)]
        atomic_write_text(log, "".join(line + "\n" for line in kept))


def save_model(accelerator, model, tokenizer, out: Path, save_adapter: bool = False) -> None:
    """``save_pretrained`` (safetensors) + tokenizer into the run folder, via a temporary folder.

    Every process calls it (FSDP gathers the weights); the main process writes. A peft model is saved
    with its adapters merged in, and with ``save_adapter`` its adapter in ``adapter/`` too.
    """
    from accelerate.utils import DistributedType

    acc = accelerator
    state_dict = acc.get_state_dict(model) if acc.distributed_type == DistributedType.FSDP else None
    if not acc.is_main_process:
        return
    model = acc.unwrap_model(model, keep_torch_compile=False)  # no "_orig_mod." in the saved names
    tmp = out / ".tmp-model"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        if hasattr(model, "merge_and_unload"):  # peft: save a plain model with the adapters merged in
            copy.deepcopy(model).merge_and_unload().save_pretrained(tmp)
            if save_adapter:  # and peft's own format beside it, for PeftModel.from_pretrained
                model.save_pretrained(tmp / ADAPTER)
        else:
            model.save_pretrained(tmp, state_dict=state_dict)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
    except OSError as e:  # a full disk: no half-saved model; the checkpoints (if kept) can be resumed
        shutil.rmtree(tmp, ignore_errors=True)
        raise RunError(f"cannot save the model in {out}: {e.strerror or e}; free space, then resume with "
                       "--resume or train again with --overwrite") from None
    for item in tmp.iterdir():
        target = out / item.name
        if target.is_dir():  # os.replace cannot put a folder over a non-empty one
            shutil.rmtree(target)
        os.replace(item, target)
    tmp.rmdir()
