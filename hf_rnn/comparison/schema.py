"""``results.json``'s schema: a comparison (:class:`Comparison`), its rows (:class:`ModelResult`) and each row's role.

``hf_rnn.comparison.compare`` builds a ``Comparison`` and ``hf_rnn.report.markdown`` writes it (``comparison_document``); everyone
else reads one back with :func:`read_comparison` and uses its attributes: ``row.role``, ``row.family``,
``c.primary_metric``, never ``doc["rows"][i]["name"]``. The fields are the file's keys, in the order they are
written, so a comparison written before this module reads as it is.

Every row says what it is in ``role``:

- ``"trained"``: a model trained for the comparison (it has a run folder, ``run_dir``);
- ``"zero-shot"``: an untrained model answering from a prompt (the instruct LLM);
- ``"reference"``: a baseline that is no model of a family (majority class, most frequent tag, char 5-gram,
  seasonal-naive, apertium), ``family`` ``"reference"``.

A ``results.json`` written before rows had a role is given one here, once, on reading (``_infer_role``), from
what the row records (its run folder and family): the rest of the code reads ``row.role`` only. The same holds
for ``builtin_llm`` (whether the row's model is the built-in LLM), which older files say only in the row's name.

A missing key or a value of the wrong type is a ``ResultsError`` that names it (``results.json: rows[2] lacks
metrics``); keys this version does not know are ignored (a newer version's additions).

This module imports neither torch nor transformers: reading committed results stays cheap.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hf_rnn.errors import HfRnnError


def format_number(value: Any, digits: int = 4) -> str:
    """A table cell: 4 significant digits, thousands separated, a dash for nothing (reports and the README)."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def results_table(c: Comparison) -> str:
    """The report's table: a row per model, a column per metric and cost (markdown)."""
    metric_names = [k for k in c.rows[0].metrics if not k.startswith("num_")]
    for r in c.rows[1:]:
        metric_names += [k for k in r.metrics if k not in metric_names and not k.startswith("num_")]
    head = ["model", "family", *metric_names, "parameters", "trained", "steps", "examples seen", "train s",
            "tokens/s", "latency p50 ms", "p95 ms", "peak MB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in c.rows:
        cells = [r.name, r.family, *[format_number(r.metrics.get(k)) for k in metric_names],
                 format_number(r.parameters_total), format_number(r.parameters_trainable), format_number(r.steps), format_number(r.examples),
                 format_number(r.train_seconds), format_number(r.tokens_per_second), format_number(r.latency_ms_p50), format_number(r.latency_ms_p95),
                 format_number(r.peak_memory_mb)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


__all__ = ["format_number", "results_table", "REFERENCE", "REFERENCE_FAMILY", "ROLES", "TRAINED", "VERDICT_FAMILIES", "ZERO_SHOT", "Comparison",
           "third_families",
           "ModelResult", "ResultsError", "comparison_document", "read_comparison"]

TRAINED = "trained"
ZERO_SHOT = "zero-shot"
REFERENCE = "reference"
ROLES = (TRAINED, ZERO_SHOT, REFERENCE)
REFERENCE_FAMILY = "reference"  # the family column of a reference row: it belongs to no model family
# the lecture's question, which the verdict answers: the best fine-tuned transformer (the LLM family's) against the
# best RNN; every report, table and curve that names "the verdict pair" reads these two families
VERDICT_FAMILIES = ("llm", "rnn")


def third_families(rows) -> list[str]:
    """The families of ``rows``' trained models beside the verdict's two (Mamba-2, a plug-in family), sorted."""
    return sorted({r.family for r in rows if r.role == TRAINED} - set(VERDICT_FAMILIES))


RESULTS_FILE = "results.json"


class ResultsError(HfRnnError):
    """A results folder is missing, incomplete, or the README does not match it."""


@dataclass
class ModelResult:
    """One row of the comparison table: a trained model, the zero-shot LLM or a reference (``role``)."""

    name: str
    family: str  # the model family (``hf_rnn.families``), or ``"reference"`` for a reference row
    run_dir: str | None  # the trained model's run folder; None for the zero-shot LLM and references
    metrics: dict[str, float]
    parameters_total: int
    parameters_trainable: int
    train_seconds: float | None
    tokens_per_second: float | None
    latency_ms_p50: float | None
    latency_ms_p95: float | None
    peak_memory_mb: float | None
    steps: int | None = None  # optimizer steps
    examples: int | None = None  # training examples seen (with repeats across epochs)
    epochs: float | None = None
    note: str = ""
    latency_other_load: float | None = None  # cores' worth of other processes' work while latency was measured
    predictions: str | None = None  # its per-example test predictions, relative to the report folder
    role: str = field(kw_only=True)  # TRAINED, ZERO_SHOT or REFERENCE: said by whoever makes the row
    builtin_llm: bool = field(default=False, kw_only=True)  # its model is the built-in LLM (the report says which)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ResultsError(f"{self.name}: role must be one of {', '.join(ROLES)}; got {self.role!r}")

    @classmethod
    def from_dict(cls, data: Any, where: str = "results.json: a row") -> ModelResult:
        """A row checked out of ``results.json``'s ``rows``; an older row without ``role`` is given one."""
        values = _read_fields(cls, data, where, required=_ROW_REQUIRED, defaults=_ROW_DEFAULTS)
        if "role" not in data:
            values["role"] = _infer_role(values)
        if "builtin_llm" not in data:
            values["builtin_llm"] = _infer_builtin_llm(values)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Comparison:
    """A comparison: what ``hf_rnn.compare`` measured and the report says (``results.json``, ``report.md``)."""

    task: str
    profile: str
    budget: str
    rows: list[ModelResult]
    output_dir: str  # the report folder (not written: results.json travels with its folder)
    hardware: dict[str, Any]
    figures: dict[str, str]
    seconds: float
    date: str = ""  # when the comparison was written (UTC, ISO 8601)
    budget_kind: str = "seconds"  # "seconds" (wall clock: machine-dependent), "epochs" or "as trained"
    curve_summary: str = ""  # what holds across the learning curves against training time
    examples: dict[str, dict[str, str]] = field(default_factory=dict)  # lecture input -> model -> its answer
    primary_metric: str = ""  # the task's metric the verdict is read from
    variant: str | None = None  # other data than the task's usual (e.g. the CO2 series): see comparison_variant
    # the paired tests (``hf_rnn.report.verdict``): each PairedResult as a dict with its role, the verdict paragraph the
    # report opens with, the test examples where the verdict's two models disagree, and what was not tested
    paired_tests: list[dict[str, Any]] = field(default_factory=list)
    verdict: str = ""
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    paired_tests_note: str = ""
    seeds: dict[str, Any] = field(default_factory=dict)  # several seeds per model (``hf_rnn.comparison.seeds.summary``)

    @property
    def folder(self) -> str:
        """The report folder's name (``sentiment-quick`` for ``results/sentiment-quick``)."""
        return Path(self.output_dir).name

    def with_role(self, role: str) -> list[ModelResult]:
        return [r for r in self.rows if r.role == role]

    def table_markdown(self) -> str:

        return results_table(self)

    @classmethod
    def from_document(cls, data: Any, folder: str | os.PathLike, where: str = RESULTS_FILE) -> Comparison:
        """A ``results.json`` document read from ``folder`` (its rows' run folders are relative to it)."""
        if not isinstance(data, Mapping):
            raise ResultsError(f"{where} must be a mapping of keys to values, got {type(data).__name__}")
        missing = [k for k in _COMPARISON_REQUIRED if k not in data]
        if missing:
            raise ResultsError(f"{where} lacks {', '.join(missing)}: is it a comparison's results.json?")
        doc = {k: v for k, v in data.items() if k not in ("rows", "output_dir")}
        values = _read_fields(cls, doc, where, required=(), defaults=_COMPARISON_DEFAULTS,
                              skip=("rows", "output_dir"))
        if not isinstance(data["rows"], list):
            raise ResultsError(f"{where}: rows must be a list of rows, got {type(data['rows']).__name__}")
        rows = [ModelResult.from_dict(row, f"{where}: rows[{i}]") for i, row in enumerate(data["rows"])]
        for row in rows:
            if row.run_dir is not None:  # written relative to the report folder (it can be moved)
                row.run_dir = os.path.join(folder, row.run_dir)
        return cls(rows=rows, output_dir=str(folder), **values)


def comparison_document(c: Comparison) -> dict[str, Any]:
    """``results.json``'s content: the comparison with paths relative to its folder (it can be moved)."""
    doc = dataclasses.asdict(c)
    doc.pop("output_dir")
    for row in doc["rows"]:
        if row["run_dir"] is not None:
            row["run_dir"] = os.path.relpath(row["run_dir"], c.output_dir)
    return doc


def read_comparison(folder: str | os.PathLike) -> Comparison:
    """A comparison folder's ``results.json``; a clear ``ResultsError`` when it is missing or not one."""
    path = Path(folder) / RESULTS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path} does not exist: run `hf-rnn compare` into {folder} first") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ResultsError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    except ValueError as e:
        raise ResultsError(f"{path} is not valid JSON ({e})") from None
    if isinstance(data, Mapping):
        missing = [k for k in _COMPARISON_REQUIRED if k not in data]
        if missing:
            raise ResultsError(f"{path} lacks {', '.join(missing)}: is it a comparison's results.json?")
        for row in data["rows"] if isinstance(data["rows"], list) else ():  # a failed run's NaN is not a result
            metrics = row.get("metrics") if isinstance(row, dict) else None
            for name, value in (metrics if isinstance(metrics, dict) else {}).items():
                if isinstance(value, float) and not math.isfinite(value):
                    raise ResultsError(f"{path}: {row.get('name', '?')}'s {name} is {value}, not a finite number: "
                                       "compare again after training that model again")
    return Comparison.from_document(data, folder, where=str(path))


# =========================================================================== older files


def _infer_role(values: dict[str, Any]) -> str:
    """The role of a row written before rows had one: trained rows have a run folder, references the family
    ``reference``; the one other kind of row a comparison wrote was the zero-shot LLM."""
    if values.get("run_dir") is not None:
        return TRAINED
    return REFERENCE if values.get("family") == REFERENCE_FAMILY else ZERO_SHOT


def _infer_builtin_llm(values: dict[str, Any]) -> bool:
    """Whether a row written before ``builtin_llm`` was recorded is the built-in LLM's: such rows were named after
    it (``smollm2``, ``smollm2-twice``, ``smollm2 zero-shot``). The one place a row's name is read for what the
    row is, and only for files that do not say it."""
    return values.get("family") != REFERENCE_FAMILY and str(values.get("name", "")).startswith("smollm2")


# =========================================================================== reading and checking

_COMPARISON_REQUIRED = ("task", "profile", "rows", "budget")
# keys older files (and hand-written test documents) may lack, with what they read as
_COMPARISON_DEFAULTS = {"hardware": {}, "figures": {}, "seconds": 0.0}
_ROW_REQUIRED = ("name", "family", "metrics")
_ROW_DEFAULTS = {"run_dir": None, "parameters_total": 0, "parameters_trainable": 0, "train_seconds": None,
                 "tokens_per_second": None, "latency_ms_p50": None, "latency_ms_p95": None, "peak_memory_mb": None}


def _read_fields(cls, data: Any, where: str, required: tuple[str, ...], defaults: dict[str, Any],
                 skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields of dataclass ``cls`` out of ``data``, each checked against its annotation; keys ``cls`` does not
    know are ignored. A field absent from ``data`` takes ``defaults``' value or the dataclass's own default."""
    if not isinstance(data, Mapping):
        raise ResultsError(f"{where} must be a mapping of keys to values, got {data!r}")
    missing = [k for k in required if k not in data]
    if missing:
        raise ResultsError(f"{where} lacks {', '.join(missing)}")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        if f.name in data:
            values[f.name] = _check(data[f.name], hints[f.name], f"{where}.{f.name}")
        elif f.name in defaults:
            values[f.name] = defaults[f.name]
    return values


def _check(value: Any, tp: Any, where: str) -> Any:
    """``value`` as it is, when it has the type ``tp`` says (an int is a float; nothing is converted, so a number
    reads back exactly as written); else a ``ResultsError`` naming ``where``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _check(value, arg, where)
            except ResultsError:
                continue
        raise ResultsError(f"{where} must be {_name(tp)}, got {value!r}")
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ResultsError(f"{where} must be a mapping, got {value!r}")
        return {str(k): _check(v, args[1], f"{where}.{k}") for k, v in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise ResultsError(f"{where} must be a list, got {value!r}")
        return [_check(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    ok = {bool: lambda v: isinstance(v, bool),
          int: lambda v: isinstance(v, int) and not isinstance(v, bool),
          float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
          str: lambda v: isinstance(v, str)}[tp](value)
    if not ok:
        raise ResultsError(f"{where} must be {_name(tp)}, got {value!r}")
    return value


def _name(tp: Any) -> str:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " or ".join(_name(a) for a in typing.get_args(tp))
    return "null" if tp is type(None) else getattr(tp, "__name__", str(tp))
