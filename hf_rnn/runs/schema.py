"""``metrics.json``'s schema: the typed document of a finished run folder.

Training builds a ``RunMetrics`` (``hf_rnn.runs.metrics.metrics_document``) and writes ``to_dict()``; everyone
else reads one back with ``RunMetrics.from_dict`` (``hf_rnn.runs.run.read_run`` does) and uses its attributes:
``run.metrics.training.steps``, never ``metrics["training"]["steps"]``. Each section is a dataclass whose
fields are the section's JSON keys, in the order they are written, so the file is the one training always
wrote and run folders written before this module read as they are. A key that is no Python name is given
in the field's ``metadata["key"]`` (``ModelInfo.class_name`` is ``"class"``).

A missing section or key, or a value of the wrong type, is a ``RunError`` that names it
(``metrics.json: training lacks steps``). Keys this version does not know are ignored on reading (a newer
version's additions), except in ``model``, whose extra keys are a family's own (``ModelInfo.extra``).

This module imports neither torch nor transformers: reading a run folder stays cheap.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hf_rnn.errors import ConfigError, RunError
from hf_rnn.training.config_schema import coerce

__all__ = ["BestInfo", "HardwareInfo", "MemoryInfo", "ModelInfo", "ParametersInfo", "RunMetrics", "TaskInfo",
           "TokenizerInfo", "TrainingInfo", "VersionsInfo"]

SPLITS = ("train", "validation", "test")
EXTRA = "extra"  # the field that keeps a section's keys beyond its own (only ModelInfo has one)


class _Section:
    """The reading and writing every section shares (a mixin of the dataclasses below)."""

    @classmethod
    def from_dict(cls, data: Any, where: str):
        """The section ``where`` (``metrics.json``, ``metrics.json.training``...) checked out of ``data``."""
        if not isinstance(data, Mapping):
            raise RunError(f"{where} must be a mapping of keys to values, got {data!r}")
        hints = typing.get_type_hints(cls)
        values, missing, known = {}, [], set()
        for f in dataclasses.fields(cls):
            if f.name == EXTRA:
                continue
            key = _key(f)
            known.add(key)
            if key in data:
                values[f.name] = _check(data[key], hints[f.name], _sub(where, key))
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                missing.append(key)
        if missing:
            # all of them at once: a file from an unrelated program lacks many, and saying so is clearer
            raise RunError(f"{where} lacks {', '.join(missing)}")
        if any(f.name == EXTRA for f in dataclasses.fields(cls)):
            values[EXTRA] = {k: v for k, v in data.items() if k not in known}
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The section as JSON-ready data, keys in the order training has always written them."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == EXTRA:
                out.update(value)
            else:
                out[_key(f)] = value.to_dict() if isinstance(value, _Section) else value
        return out


def _key(f: dataclasses.Field) -> str:
    return f.metadata.get("key", f.name)


def _sub(where: str, key: str) -> str:
    """Where a key is: ``metrics.json: training``, then ``metrics.json: training.steps``."""
    return f"{where}.{key}" if ": " in where else f"{where}: {key}"


def _check(value: Any, tp: Any, where: str) -> Any:
    """``value`` checked against the annotation ``tp``: a section, a ``dict[str, X]`` or a plain type."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType) and any(_is_section(a) for a in args):
        if value is None and type(None) in args:
            return None
        (section,) = [a for a in args if _is_section(a)]
        return section.from_dict(value, where)
    if _is_section(tp):
        return tp.from_dict(value, where)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise RunError(f"{where} must be a mapping, got {value!r}")
        return {str(k): _check(v, args[1], _sub(where, str(k))) for k, v in value.items()}
    try:
        return coerce(value, tp, where)  # the recipes' checks: int, float (an int is one), str, bool, unions
    except ConfigError as e:
        raise RunError(str(e)) from None


def _is_section(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, _Section)


# a test metric's value: a score (float) or a count (int, e.g. num_examples); in this order, so that a count
# stays an int (the model card tells scores from counts by their type)
Number = int | float | None


# =========================================================================== the sections


@dataclass
class TaskInfo(_Section):
    """Which task and data: enough to load the same test split again (``hf_rnn.tasks.load_task``)."""

    name: str
    kind: str  # sequence-classification, token-classification, causal-lm, translation, forecasting
    source: str | None  # "builtin", a file or a Hub dataset id
    options: dict[str, Any]  # the task options it was loaded with
    primary_metric: str
    greater_is_better: bool
    sizes: dict[str, int]  # examples per split (of the subset trained on)
    # a content hash per split (``run_metrics.data_hash``): runs tested on the same examples have the same one;
    # empty for the untrained runs ``hf_rnn.app.testing`` writes
    data_hash: dict[str, str]


@dataclass
class TokenizerInfo(_Section):
    """Which tokenizer (``run_metrics.tokenizer_identity``); ``hash`` is its vocabulary's."""

    name_or_path: str
    class_name: str = field(metadata={"key": "class"})
    vocab_size: int
    hash: str


@dataclass
class ModelInfo(_Section):
    """Which model: its family (``hf_rnn.families``), recipe name and class; what its family adds."""

    family: str
    name: str
    class_name: str = field(metadata={"key": "class"})
    name_or_path: str | None = None  # an LLM's source (None: the built-in one)
    mode: str | None = None  # an LLM's training mode (full, lora, patch)
    extra: dict[str, Any] = field(default_factory=dict)  # a plug-in family's own keys (``metrics_fields``)

    @classmethod
    def of(cls, family: str, name: str, class_name: str, fields: Mapping[str, Any]) -> ModelInfo:
        """The section from a family's ``metrics_fields`` (``name_or_path``, ``mode`` and any of its own)."""
        rest = dict(fields)
        return cls(family=family, name=name, class_name=class_name, name_or_path=rest.pop("name_or_path", None),
                   mode=rest.pop("mode", None), extra=rest)


@dataclass
class ParametersInfo(_Section):
    """Parameters of the saved model (tied weights count once) and those training updated."""

    total: int
    trainable: int

    @classmethod
    def of(cls, model) -> ParametersInfo:
        from hf_rnn.training.parameters import count_parameters  # torch: only where a live model is counted

        total, trainable = count_parameters(model)
        return cls(total=total, trainable=trainable)


@dataclass
class BestInfo(_Section):
    """The best validation score and the step of the model saved (the best one's, or the last)."""

    metric: str
    value: float | None  # None: never evaluated
    step: int | None
    model_step: int


@dataclass
class TrainingInfo(_Section):
    """How training went: budget used, throughput, why it stopped."""

    steps: int  # optimizer steps
    epochs: float
    examples: int
    train_seconds: float  # training only: evaluation and checkpoints excluded
    wall_seconds_this_session: float
    tokens: int  # non-padding tokens (values, for a numeric forecaster)
    tokens_per_second: float
    padding_share: float
    final_loss: float | None
    stopped_because: str | None  # max_steps, epochs, max_seconds, early_stopping
    global_batch_size: int
    resumed: bool


@dataclass
class MemoryInfo(_Section):
    """Peak memory of the training processes (the largest of them)."""

    cpu_peak_rss_mb: float
    cuda_max_allocated_mb: float | None


@dataclass
class HardwareInfo(_Section):
    """What the run trained on."""

    device: str
    device_name: str
    num_processes: int
    distributed_type: str
    mixed_precision: str
    torch_threads: int


@dataclass
class VersionsInfo(_Section):
    """The versions of the packages that trained the run."""

    hf_rnn: str
    torch: str
    transformers: str
    accelerate: str

    @classmethod
    def current(cls) -> VersionsInfo:
        import accelerate
        import torch
        import transformers

        from hf_rnn._version import __version__

        return cls(hf_rnn=__version__, torch=torch.__version__, transformers=transformers.__version__,
                   accelerate=accelerate.__version__)


@dataclass
class RunMetrics(_Section):
    """``metrics.json``: what a finished run reports, and who it was (data, tokenizer, model, machine, versions)."""

    task: TaskInfo
    tokenizer: TokenizerInfo | None  # None: a numeric forecaster reads values, not tokens
    model: ModelInfo
    parameters: ParametersInfo
    test: dict[str, Number]  # the test split's metrics, by the task's names (``task.primary_metric`` among them)
    best: BestInfo
    training: TrainingInfo
    memory: MemoryInfo
    hardware: HardwareInfo
    versions: VersionsInfo

    @classmethod
    def from_dict(cls, data: Any, where: str = "metrics.json") -> RunMetrics:
        """Read and check a ``metrics.json`` document; a ``RunError`` names what is missing or wrong."""
        return super().from_dict(data, where)

    @property
    def primary_score(self) -> float | None:
        """The test score on the task's primary metric (None when the test split was not scored)."""
        return self.test.get(self.task.primary_metric)
