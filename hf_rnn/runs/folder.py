"""The run folder ``hf_rnn.train`` writes: where it may go, its checkpoints, the saved model.

Layout::

    config.yaml          the resolved recipe (the single source of truth of the run)
    metrics.jsonl        one JSON line per logging, evaluation and test event
    metrics.json         test metrics, parameters, time, tokens/s, memory, hardware, identifiers
    predictions.jsonl.gz the test split's per-example predictions (``hf_rnn.runs.predictions``)
    README.md            a Hub model card
    config.json, model.safetensors, tokenizer files    the model (``save_pretrained``; LoRA merged in)
    adapter/             a LoRA run's peft adapter (``training.save_adapter``)
    tensorboard/         TensorBoard events (``training.log_with``; other trackers log where they log)
    checkpoints/         while training (``keep_checkpoints`` keeps them afterwards)

``check_output_dir`` decides, before anything is created, whether a run may use a folder: a folder is a run
when its ``config.yaml`` is a recipe (``is_run_folder``); one holding anything else (a saved model, a user's
files) takes a run only with ``--overwrite``, and the asset cache never does. ``check_report_dir`` does the
same for a comparison's report folder. Checkpoints are written to a temporary folder, flushed to disk and
renamed into place, so ``latest_checkpoint`` never sees half of one; the model is saved the same way. A
checkpoint damaged afterwards (a disk error, a file truncated or overwritten) is found by ``checkpoint_problem``
before it is loaded, and ``load_checkpoint`` falls back to the one before it. ``hf_rnn.runs.metrics`` builds
``metrics.json``; ``hf_rnn.runs.run`` reads finished runs.
"""

from __future__ import annotations

import copy
import json
import math
import os
import shutil
import sys
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from hf_rnn.assets.cache import atomic_write_text
from hf_rnn.errors import ConfigError, RunError

__all__ = ["ADAPTER", "CHECKPOINTS", "check_output_dir", "check_report_dir", "checkpoint_dir", "checkpoint_problem",
           "checkpoints", "clear_run", "drop_events_after", "is_run_folder", "latest_checkpoint", "load_checkpoint",
           "save_checkpoint", "save_model", "usable_path"]

CHECKPOINTS = "checkpoints"
ADAPTER = "adapter"  # a LoRA run's peft adapter (training.save_adapter), beside the merged model
RUN_CONFIG = "config.yaml"  # the resolved recipe: what makes a folder a run (``is_run_folder``)
RECIPE_SECTIONS = frozenset({"task", "model", "tokenizer", "training", "output_dir"})  # Recipe.to_dict()'s keys
REPLACED_WHOLE = (CHECKPOINTS, "tensorboard", ADAPTER)  # folders a run deletes and writes again
TRAINER_STATE = "trainer_state.json"  # the loop's counters, in every checkpoint
# Checkpoints kept while a run trains: the newest, the one before it (what a resume falls back to when the
# newest is damaged), and the best model's. The one before costs one more checkpoint of disk while the run
# lasts (an RNN's is megabytes, SmolLM2's ~1.5 GB with its optimizer state) and is removed with the others at
# the end; without it a damaged newest checkpoint sends the run back to its best one, which can be its first
# (with training.keep_best off, it leaves nothing to resume from).
KEEP_LAST = 2


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

    Raises ``ConfigError`` when it cannot be written, when it is (in, or holds) the asset cache, when it
    already holds a run (and neither ``resume`` nor ``overwrite`` is set), when ``resume`` finds no checkpoint,
    and when it holds anything that is not a run (a saved model, a user's files) unless ``overwrite`` says to
    write the run beside it. Even then a folder a run would delete whole (``checkpoints/``, ``tensorboard/``,
    ``adapter/``) is refused: ``--overwrite`` replaces files of a run's names, never a user's folders. The
    folder itself is made only once the run's inputs are known good (``TrainingRun``), so a failure before
    that leaves nothing behind.
    """
    out = writable_folder(path)
    if not is_run_folder(out):
        held = contents(out)
        if resume:
            what = f"it holds no hf_rnn run (it holds {describe(held)})" if held else "no run there"
            raise ConfigError(f"nothing to resume in {out}: {what}; drop --resume to start a new run")
        if held and not overwrite:
            raise ConfigError(f"{out} is not empty and holds no hf_rnn run: it holds {describe(held)}; choose "
                              "another --output-dir (a new or empty folder), or pass --overwrite to write the run "
                              "beside them (replacing files of the same names)")
        whole = [name for name in held if name.rstrip("/") in REPLACED_WHOLE]
        if whole:
            raise ConfigError(f"{out} holds no hf_rnn run, but a run would delete its {', '.join(whole)} whole "
                              "(even with --overwrite): choose another --output-dir")
        return out
    if resume:
        if latest_checkpoint(out) is None:
            if (out / "metrics.json").exists():
                raise ConfigError(f"nothing to resume in {out}: its run has finished; drop --resume and pass "
                                  "--overwrite to train it again, or choose another --output-dir")
            raise ConfigError(f"nothing to resume in {out}: the run stopped before its first checkpoint; "
                              "pass --overwrite instead of --resume to start it again")
    elif not overwrite:
        how = ("pass --resume to continue it, --overwrite to start again" if latest_checkpoint(out) is not None
               else "it has no checkpoint to resume from: pass --overwrite to start again")
        raise ConfigError(f"{out} already holds a run: {how}, or choose another --output-dir")
    return out


def check_report_dir(path: str | os.PathLike, run_folders: Iterable[str | os.PathLike] = ()) -> Path:
    """Check, without creating anything, that a comparison may write its report into ``path`` and train its
    models in ``run_folders``; return ``path`` resolved.

    The report folder must be new, empty or a comparison's own (its ``results.json``, a model's run, a recipe
    file a stopped comparison left): a run folder, or one holding anything else (a saved model, a user's
    files), is refused, with or without ``--overwrite``. Each model's folder must be new, empty or a run,
    since the comparison trains it again with ``--overwrite``.
    """
    out = writable_folder(path)
    if is_run_folder(out):
        raise ConfigError(f"{out} is a training run's folder: a comparison's report goes in a folder of its own; "
                          "choose another --output-dir")
    held = contents(out)
    if held and not _is_comparison(out):
        raise ConfigError(f"{out} is not empty and holds no comparison: it holds {describe(held)}; choose another "
                          "--output-dir (a new or empty folder)")
    for folder in run_folders:
        folder = Path(folder).expanduser().resolve()
        if folder.exists() and not folder.is_dir():
            raise ConfigError(f"{folder}, where the comparison would train a model, is a file; choose another "
                              "--output-dir")
        if not is_run_folder(folder) and contents(folder):
            raise ConfigError(f"{folder}, where the comparison would train a model, holds no hf_rnn run: it holds "
                              f"{describe(contents(folder))}; choose another --output-dir")
    return out


def writable_folder(path: str | os.PathLike, option: str = "--output-dir") -> Path:
    """``path`` resolved, once it is known that hf_rnn may make and write it: not a file, not under a file,
    writable, and not the asset cache (nor inside it, nor a folder that holds it). ``option`` is what the
    errors tell the user to change."""
    out = usable_path(path)  # a symlink loop, a name too long: one line, before anything else looks
    _check_not_asset_cache(out, option)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"the output folder {out} is a file; choose another {option}")
    existing = next(p for p in (out, *out.parents) if p.exists())  # the probe goes where the run will go
    if not existing.is_dir():
        raise ConfigError(f"cannot write to the output folder {out}: {existing} is a file")
    try:
        probe = existing / f".hf-rnn-write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"cannot write to the output folder {out}: {e.strerror or e}") from None
    return out


def _check_not_asset_cache(out: Path, option: str) -> None:
    """The asset cache (``$HF_RNN_HOME``) holds the built-in model and data: a run or report never goes there."""
    from hf_rnn.assets.cache import home

    cache = home().resolve()
    if out == cache or cache in out.parents:
        where = "is" if out == cache else f"is inside {cache},"
        raise ConfigError(f"{out} {where} the hf_rnn asset cache ($HF_RNN_HOME, the built-in model and data): "
                          f"nothing is written there, even with --overwrite; choose another {option}")
    if out in cache.parents and cache.exists():
        raise ConfigError(f"{out} holds the hf_rnn asset cache ({cache}, $HF_RNN_HOME): nothing is written over "
                          f"it, even with --overwrite; choose another {option}")


def is_run_folder(path: str | os.PathLike) -> bool:
    """Whether hf_rnn wrote ``path`` as a run: its ``config.yaml`` is a recipe (``task``, ``model``,
    ``tokenizer``, ``training`` sections and ``output_dir``, nothing else), the file ``TrainingRun`` writes as
    soon as it makes the folder, or it holds this loop's checkpoints (``checkpoints/step-N`` with their counters). A saved ``transformers`` model (``config.json``) or another tool's
    ``config.yaml`` is not a run."""
    import yaml

    if checkpoints(Path(path)):  # checkpoints/step-N/trainer_state.json: this loop's own (config.yaml lost)
        return True
    try:
        data = yaml.safe_load((Path(path) / RUN_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return False
    return (isinstance(data, dict) and bool(data) and set(data) <= RECIPE_SECTIONS
            and all(isinstance(value, dict) for key, value in data.items() if key != "output_dir"))


def _is_comparison(out: Path) -> bool:
    """Whether ``out`` is a comparison's folder: its ``results.json``, a model's run in it, or the recipe file
    of a model it was training."""
    try:
        doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
        if isinstance(doc, dict) and {"task", "profile", "rows"} <= set(doc):
            return True
    except (OSError, ValueError):
        pass
    # zero_shot.json: the untrained model's scores, which a learning curve copies between its sizes' comparisons
    return any(p.is_file() and (p.name.startswith(".") and p.name.endswith(".recipe.yaml") or
                                p.name == "zero_shot.json") or
               p.is_dir() and is_run_folder(p) for p in out.iterdir())


def contents(out: Path) -> list[str]:
    """The names in ``out`` that hold something, folders with a ``/`` (an empty folder holds nothing to lose)."""
    if not out.is_dir():
        return []
    held = []
    for p in sorted(out.iterdir()):
        if p.is_dir() and not p.is_symlink():
            if any(p.iterdir()):
                held.append(p.name + "/")
        else:
            held.append(p.name)
    return held


def describe(names: list[str], shown: int = 4) -> str:
    """``config.json, model.safetensors and 3 more (a saved model)``: what a folder holds, in a few words."""
    listed = ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")
    model = any(n in ("config.json", "pytorch_model.bin") or n.endswith((".safetensors", ".safetensors.index.json"))
                for n in names)
    return listed + (" (a saved model)" if model else "")


def checkpoints(out: Path) -> list[Path]:
    """The run's complete checkpoints (``checkpoints/step-N`` with their counters), newest first; temporaries and
    checkpoints set aside as damaged (``.damaged-step-N``) never count."""
    root = out / CHECKPOINTS
    if not root.is_dir():
        return []
    steps = [p for p in root.iterdir() if p.is_dir() and _step_of(p) is not None and (p / TRAINER_STATE).exists()]
    return sorted(steps, key=_step_of, reverse=True)


def latest_checkpoint(out: Path) -> Path | None:
    """The newest complete checkpoint (``checkpoints/step-N``; temporaries never count)."""
    return next(iter(checkpoints(out)), None)


def _step_of(folder: Path) -> int | None:
    name = folder.name
    return int(name[5:]) if name.startswith("step-") and name[5:].isdigit() else None


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
    """Remove what a run writes as it goes (``--overwrite``); ``config.yaml`` and the model are rewritten.

    Only these names: in a folder that was not a run, ``check_output_dir`` has refused the folders among them,
    and everything else the user keeps there stays.
    """
    for name in (CHECKPOINTS, "metrics.jsonl", "metrics.json", "predictions.jsonl.gz", "tensorboard", ADAPTER):
        target = out / name
        shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)


def save_checkpoint(accelerator, out: Path, step: int, state: dict[str, Any], keep_step: int | None) -> None:
    """``accelerator.save_state`` + the loop's counters (``state``) into a temporary folder, then one rename.

    Every process calls it. Older checkpoints are removed, except the one before (``KEEP_LAST``) and
    ``keep_step``'s (the best model's). The files are flushed to disk before the rename: a machine that loses power
    right after it finds the new checkpoint whole, not renamed over data still in memory.
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
        _fsync_tree(tmp)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        before = [p.name for p in checkpoints(out) if _step_of(p) < step][:KEEP_LAST - 1]
        keep = {final.name, *before} | ({checkpoint_dir(out, keep_step).name} if keep_step is not None else set())
        for old in root.iterdir():
            if old.name not in keep:
                shutil.rmtree(old, ignore_errors=True)
    acc.wait_for_everyone()


def _fsync_tree(folder: Path) -> None:
    """Flush every file under ``folder``, then the folder itself, to disk (main process: the others' files too)."""
    for path in (p for p in folder.rglob("*") if p.is_file()):
        with open(path, "rb") as f:
            os.fsync(f.fileno())
    try:  # the rename's folder entry; a system that cannot open or flush a folder (Windows) has the files flushed
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


# what torch says when a whole checkpoint meets a model or optimizer of another shape (its load_state_dict)
_MISMATCH = ("size mismatch", "Missing key", "Unexpected key", "doesn't match", "different number")


class _Damaged(RunError):
    """A checkpoint whose files are not what ``save_checkpoint`` wrote (the message says which and how)."""


def checkpoint_problem(folder: Path) -> str | None:
    """What is wrong with the checkpoint in ``folder``, or None when its files are whole; reads them, loads nothing.

    ``trainer_state.json`` must be a JSON mapping of this checkpoint's step; a model state and an optimizer state
    must be there; safetensors files must have a whole header that covers the file (a truncated one does not); the
    ``torch.save`` files (optimizer, scheduler, RNG: zip archives) must pass their CRC-32 check, which also finds
    bytes overwritten inside them. Bytes overwritten inside a safetensors file's tensors are not found (it has no
    checksum).
    """
    from safetensors import SafetensorError, safe_open

    try:
        state = json.loads((folder / TRAINER_STATE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        return f"{TRAINER_STATE} is unreadable ({_first_line(e)})"
    if not isinstance(state, dict) or state.get("step") != _step_of(folder):
        return f"{TRAINER_STATE} is not the counters of {folder.name}"
    names = [p.name for p in folder.iterdir()]
    for what, prefixes in (("model", ("model", "pytorch_model")), ("optimizer", ("optimizer",))):
        if not any(n.startswith(prefixes) for n in names):
            return f"it has no {what} state"
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder)
        if path.suffix == ".safetensors":
            try:
                with safe_open(str(path), framework="pt") as f:
                    f.keys()
            except (SafetensorError, OSError) as e:
                return f"{name} is cut short or overwritten ({_first_line(e)})"
        elif path.suffix in (".bin", ".pkl", ".pt", ".pth"):
            try:
                with zipfile.ZipFile(path) as archive:
                    bad = archive.testzip()
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                return f"{name} is cut short or overwritten ({_first_line(e)})"
            if bad is not None:
                return f"{name} is overwritten (its part {bad} fails its CRC check)"
    return None


def load_checkpoint(accelerator, out: Path, state_type: Callable[..., Any] = dict) -> tuple[Path, Any]:
    """Restore the newest intact checkpoint of the run in ``out``; return it and its counters (``state_type(**saved)``).

    A damaged checkpoint (``checkpoint_problem``, or counters ``state_type`` refuses) is skipped with one line on
    stderr naming it and the one used instead, and set aside (``.damaged-step-N``, removed with the next
    checkpoint's clean-up) so that a later resume does not try it again. Files are read as data only: safetensors
    for the model, ``torch.load(weights_only=True)`` for the rest.

    Raises:
        RunError: no checkpoint is intact (one line naming each and what is wrong with it).
        ConfigError: an intact checkpoint does not fit the model or optimizer (another shape): a recipe that is
            not the run's, which no older checkpoint would fit either.
    """
    found, skipped = checkpoints(out), []
    for folder in found:
        try:
            state = _load_one(accelerator, folder, state_type)
        except _Damaged as e:
            skipped.append((folder, str(e)))
            continue
        if skipped:
            _set_aside(accelerator, skipped, folder)
        return folder, state
    problems = "; ".join(f"{folder.name}: {problem}" for folder, problem in skipped)
    raise RunError(f"cannot resume the run in {out}: no checkpoint is intact ({problems or 'none found'}); "
                   "pass --overwrite instead of --resume to start it again")


def _load_one(accelerator, folder: Path, state_type: Callable[..., Any]) -> Any:
    problem = checkpoint_problem(folder)
    if problem is not None:
        raise _Damaged(problem)
    try:
        state = state_type(**json.loads((folder / TRAINER_STATE).read_text(encoding="utf-8")))
    except (TypeError, ValueError) as e:
        raise _Damaged(f"{TRAINER_STATE} does not hold the loop's counters ({_first_line(e)})") from None
    import torch

    try:
        accelerator.load_state(str(folder), load_kwargs={"weights_only": True})
    except (torch.OutOfMemoryError, MemoryError):  # the machine's, not the checkpoint's: an older one is no better
        raise
    except Exception as e:  # noqa: BLE001 - torch's and accelerate's errors have no common type
        mismatch = next((line.strip() for line in str(e).splitlines() if any(k in line for k in _MISMATCH)), None)
        if mismatch is not None:
            raise ConfigError(f"the checkpoint {folder} does not fit the model the recipe builds ({mismatch[:300]}); "
                              "resume with the recipe the run was started with (its config.yaml)") from None
        raise _Damaged(f"it cannot be loaded ({type(e).__name__}: {_first_line(e)})") from None
    return state


def _set_aside(accelerator, skipped: list[tuple[Path, str]], used: Path) -> None:
    if accelerator.is_main_process:
        for folder, problem in skipped:
            print(f"[hf_rnn] the checkpoint {folder.name} is unusable ({problem}); resuming from {used.name} "
                  f"instead (the damaged one is set aside as .damaged-{folder.name})", file=sys.stderr, flush=True)
    accelerator.wait_for_everyone()  # every process has loaded before the damaged ones move
    if accelerator.is_main_process:
        for folder, _ in skipped:
            target = folder.with_name(f".damaged-{folder.name}")
            shutil.rmtree(target, ignore_errors=True)
            os.replace(folder, target)
    accelerator.wait_for_everyone()


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return (lines[0] if lines else type(error).__name__)[:200]


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
