"""How to train: ``TrainConfig``, a recipe's ``training:`` section, and the trackers it names.

Checked with ``hf_rnn.training.config_schema.from_mapping`` (unknown keys, wrong types and values out of range are
one-line ``ConfigError``s) before anything is loaded; ``hf_rnn.training.loop`` runs it. No torch here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hf_rnn.errors import ConfigError
from hf_rnn.training.config_schema import from_mapping

__all__ = ["SCHEDULERS", "TrainConfig", "resolve_trackers"]

SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
              "inverse_sqrt", "cosine_with_min_lr", "warmup_stable_decay")
_NEEDS_TOTAL = {"linear", "cosine", "cosine_with_restarts", "polynomial", "cosine_with_min_lr", "warmup_stable_decay"}


@dataclass
class TrainConfig:
    """How to train. A recipe's ``training:`` section; every field can be overridden as ``training.KEY=VALUE``."""

    # budget: the first limit reached ends training; null = no limit (at least one is needed)
    epochs: float | None = field(default=1.0, metadata={"min": 0.0})
    max_steps: int | None = field(default=None, metadata={"min": 1})  # optimizer steps
    max_seconds: float | None = field(default=None, metadata={"min": 0.0})  # training time, eval excluded
    # batches
    batch_size: int = field(default=16, metadata={"min": 1})  # per process; global = x processes x accumulation
    gradient_accumulation_steps: int = field(default=1, metadata={"min": 1})
    eval_batch_size: int = field(default=32, metadata={"min": 1})
    max_length: int | None = field(default=None, metadata={"min": 1})  # tokens per row (the task's default if null)
    group_by_length: bool = True  # sort within mega-batches by length: little padding
    mega_batch_mult: int = field(default=50, metadata={"min": 1})  # batches per mega-batch
    # optimisation
    learning_rate: float = field(default=1e-3, metadata={"min": 0.0})
    weight_decay: float = field(default=0.0, metadata={"min": 0.0})
    max_grad_norm: float | None = field(default=1.0, metadata={"min": 0.0})  # null: no clipping
    lr_scheduler: str = field(default="linear", metadata={"choices": SCHEDULERS})
    warmup_steps: int = field(default=0, metadata={"min": 0})
    # autocast around forward and loss, the weights stay in their dtype (an LLM's is model.dtype);
    # null: what the launcher says (accelerate config / --mixed_precision), else "no"
    mixed_precision: str | None = field(default=None, metadata={"choices": ("no", "fp16", "bf16")})
    seed: int = field(default=42, metadata={"min": 0, "max": 2**32 - 1})  # numpy's legacy seeding range
    # memory and speed
    gradient_checkpointing: bool = False  # LLMs: keep fewer activations, recompute each layer in backward
    torch_compile: bool = False  # torch.compile the model (inductor); false: what the launcher says, else not
    # evaluation, checkpoints, early stopping
    eval_steps: int | None = field(default=None, metadata={"min": 1})  # null: at the end of each epoch
    early_stopping_patience: int | None = field(default=None, metadata={"min": 1})  # evaluations without gain
    keep_best: bool = True  # the saved model is the best on validation (else the last)
    # validate before the first update too: with keep_best, a run never ends under its starting model (an LLM's
    # prompt format, the zero-shot classifier)
    eval_at_start: bool = False
    keep_checkpoints: bool = False  # keep checkpoints/ after a successful run
    max_new_tokens: int | None = field(default=None, metadata={"min": 1})  # generation tasks; null: the task's
    # logging and runtime
    logging_steps: int = field(default=10, metadata={"min": 1})
    # experiment trackers accelerate supports and that are installed: a name, a list, "all", or null / "none"
    log_with: str | list[str] | None = "tensorboard"
    progress_bar: bool = True
    num_workers: int = field(default=0, metadata={"min": 0})
    cpu: bool = False  # train on the CPU even when a GPU is there
    save_adapter: bool = False  # a LoRA run also saves peft's adapter in adapter/ (the merged model stays)

    @classmethod
    def from_any(cls, config: TrainConfig | Mapping[str, Any] | None) -> TrainConfig:
        """A checked ``TrainConfig`` from itself, a mapping (unknown keys and wrong types are errors) or None."""
        if isinstance(config, TrainConfig):
            config = dataclasses.asdict(config)
        config = from_mapping(cls, config, "training")
        config.check()
        return config

    def check(self) -> None:
        if self.epochs is None and self.max_steps is None and self.max_seconds is None:
            raise ConfigError("training needs a budget: set training.epochs, training.max_steps or training.max_seconds")
        if self.epochs == 0:
            raise ConfigError("training.epochs must be > 0 (or null)")
        if self.lr_scheduler in _NEEDS_TOTAL and self.epochs is None and self.max_steps is None:
            raise ConfigError(f"training.lr_scheduler={self.lr_scheduler} needs a step count: set training.epochs "
                              "or training.max_steps, or use constant / constant_with_warmup with max_seconds")
        resolve_trackers(self.log_with)


def resolve_trackers(log_with: str | list[str] | None) -> list[str]:
    """The experiment trackers ``training.log_with`` asks for, as accelerate names them.

    ``None``, ``"none"`` or ``[]``: none (``metrics.jsonl`` only); ``"all"``: every tracker that
    accelerate supports and that is installed; otherwise a name or a list of names. The known names
    are accelerate's own table (``LOGGER_TYPE_TO_CLASS``, with trackers added by
    ``register_tracker_class``) and the installed ones its ``get_available_trackers()``.

    Raises:
        ConfigError: an unknown tracker, or one that is not installed (one line naming it and
            what is installed), before anything is loaded or trained.
    """
    from accelerate.tracking import LOGGER_TYPE_TO_CLASS, get_available_trackers
    from accelerate.utils import LoggerType

    builtin = {t.value for t in LoggerType}
    # a tracker registered by register_tracker_class is an installed one by definition
    installed = [t.value for t in get_available_trackers()] + sorted(set(LOGGER_TYPE_TO_CLASS) - builtin)
    names = [] if log_with is None else [log_with] if isinstance(log_with, str) else list(log_with)
    chosen: list[str] = []
    for name in names:
        if name == "none":
            continue
        if name == "all":
            chosen += installed
        elif name not in LOGGER_TYPE_TO_CLASS:
            raise ConfigError(f"training.log_with: unknown tracker {name!r}; accelerate supports "
                              f"{', '.join(sorted(LOGGER_TYPE_TO_CLASS))} (installed here: "
                              f"{', '.join(installed) or 'none'}), or none")
        elif name not in installed:
            raise ConfigError(f"training.log_with: the {name} tracker is not installed (pip install {name}); "
                              f"installed here: {', '.join(installed) or 'none'}")
        else:
            chosen.append(name)
    return list(dict.fromkeys(chosen))
