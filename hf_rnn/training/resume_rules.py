"""What a resumed run may change: the one list of recipe keys ``--resume`` (``resume=True``) accepts new values for.

A checkpoint (``hf_rnn.runs.folder``) holds the model's weights, the optimizer's moments and learning rate, the LR
schedule's position, the RNG states and the loop's counters, among them how many batches of the current epoch it
had consumed. Whatever those were made with must stay as it was: a new ``model.hidden_size`` does not fit the
weights, a new ``training.batch_size`` or ``task.max_train_examples`` makes the batch count point into another data
order, a new ``training.learning_rate`` would be overwritten by the optimizer's saved one (the recipe would say one
rate and the run use another). A resume may change how long the run goes on, how often it logs, evaluates and
checkpoints, when it stops early, and how it runs (workers, trackers, memory): never what it computes.

``check_resume(out, wanted)`` compares a recipe with the run's ``config.yaml`` before anything is written or loaded,
and refuses every other change in one ``ConfigError`` naming each refused key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hf_rnn.errors import ConfigError

__all__ = ["RESUMABLE_KEYS", "check_resume", "refused_changes"]

RESUMABLE_KEYS = frozenset({
    # the budget: the first limit reached ends the run. A decaying LR schedule (linear, cosine) follows the
    # new step count from the step resumed (the schedule keeps its position, not its old length): the rate
    # moves there
    "training.epochs", "training.max_steps", "training.max_seconds",
    # cadence: when the loop logs, evaluates and checkpoints; a log window never spans a checkpoint, so the
    # losses logged before the resume stay what they were
    "training.logging_steps", "training.eval_steps",
    # when to stop early: the count of evaluations without gain is in the checkpoint, only the limit changes
    "training.early_stopping_patience",
    # how it runs, not what it computes: data workers, trackers, the progress bar, memory (an evaluation batch
    # that runs out of memory, activations recomputed in backward), what is kept after the run
    "training.num_workers", "training.log_with", "training.progress_bar", "training.eval_batch_size",
    "training.gradient_checkpointing", "training.keep_checkpoints", "training.save_adapter",
    # not these, although they look harmless: training.keep_best (a run that did not keep its best checkpoint
    # has removed it), training.max_new_tokens (the best validation score so far was measured with the old
    # length), training.cpu / mixed_precision / torch_compile (the saved RNG, gradient scaler and weight names
    # are the device's and the wrapper's; not tested across them)
})

_WHY = {
    "model": "the checkpoint's weights were made with it",
    "tokenizer": "the checkpoint's embeddings index its vocabulary",
    "task": "the checkpoint's position in the data and its best score are the run's data",
    "training": "the checkpoint's optimizer, schedule or data position depend on it",
}


def refused_changes(saved: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(section.key, saved value, wanted value)`` of each key ``wanted`` changes that a resume may not change.

    Both are raw recipes (``config.yaml`` mappings); each is rebuilt (defaults filled in, so a key the recipe
    format gained since does not count as a change) and only the sections both name are compared: a run started
    from ``hf_rnn.train(..., config)`` records its ``training:`` section only. ``output_dir`` is where the run is
    now, never a change.
    """
    from hf_rnn.training.recipes import build_recipe

    full_saved, full_wanted = build_recipe(saved).to_dict(), build_recipe(wanted).to_dict()
    refused = []
    for section in (s for s in full_wanted if s != "output_dir" and s in saved and s in wanted):
        old, new = full_saved[section], full_wanted[section]
        for key in [*old, *(k for k in new if k not in old)]:
            name = f"{section}.{key}"
            if old.get(key) != new.get(key) and name not in RESUMABLE_KEYS:
                refused.append((name, old.get(key), new.get(key)))
    return refused


def check_resume(out: str | os.PathLike, wanted: Mapping[str, Any]) -> None:
    """Refuse, in one ``ConfigError``, a resume of the run in ``out`` whose recipe ``wanted`` changes a key that the
    checkpoint depends on (every key not in ``RESUMABLE_KEYS``). Reads ``out/config.yaml``, writes nothing; a run
    without one (its config.yaml deleted) is not checked here: its checkpoint's shapes are (``run_folder``)."""
    from hf_rnn.training.recipes import read_yaml

    path = Path(out).expanduser() / "config.yaml"
    if not path.exists():
        return
    saved = read_yaml(path)
    try:
        refused = refused_changes(saved, wanted)
    except ConfigError as e:
        raise ConfigError(f"cannot compare the resumed recipe with {path}: {e}") from None
    if not refused:
        return
    changes = ", ".join(f"{key} ({_show(old)} in the run, {_show(new)} asked)" for key, old, new in refused)
    why = "; ".join(f"{section}: {_WHY[section]}" for section in dict.fromkeys(k.split(".")[0] for k, _, _ in refused)
                    if section in _WHY)
    allowed = ", ".join(sorted(RESUMABLE_KEYS))
    raise ConfigError(f"--resume cannot change {changes} ({why}); a resume may change only {allowed}. Resume with "
                      f"the run's own values (its config.yaml), or start a new run (--overwrite, or another "
                      "--output-dir) to change the others")


def _show(value: Any) -> str:
    """A value as short JSON (a mapping or a list cut at 40 characters)."""
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
