"""Dataclasses as configuration schemas: a mapping checked into a dataclass, and YAML out.

``from_mapping(cls, data, where)`` builds dataclass ``cls`` from ``data``; an unknown key (with a "did you mean"),
a wrong type, a value outside a field's ``metadata`` ``choices`` or ``min``/``max`` is a one-line
``ConfigError`` that names the key as ``where.key``. The recipe sections (``hf_rnn.training.recipes``) and
``hf_rnn.training.config.TrainConfig`` are both checked this way; this module imports neither.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping
from typing import Any

import yaml

from hf_rnn.errors import ConfigError


def _type_name(tp) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(_type_name(a) for a in args) + " or null"
    if origin is list:
        (inner,) = typing.get_args(tp) or (Any,)
        return f"a list of {_type_name(inner)}"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string", dict: "a mapping"}.get(
        tp, getattr(tp, "__name__", str(tp)))


def coerce(value: Any, tp, where: str) -> Any:
    """``value`` checked against the annotation ``tp`` (YAML reads ``1e-3`` as a string: fixed here)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(value, arg, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where} must be {_type_name(tp)}, got {value!r} ({type(value).__name__})")
    if origin is list:
        (inner,) = typing.get_args(tp) or (Any,)
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be {_type_name(tp)}, got {value!r} ({type(value).__name__})")
        return [coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
    ok = True
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                ok = False
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            ok = False
        else:
            value = float(value)
    elif tp is str:
        ok = isinstance(value, str)
    elif tp is dict:
        ok = isinstance(value, dict)
    if not ok:
        raise ConfigError(f"{where} must be {_type_name(tp)}, got {value!r} ({type(value).__name__})")
    return value


def from_mapping(cls, data: Mapping[str, Any] | None, where: str):
    """Build dataclass ``cls`` from ``data``: unknown keys, wrong types, choices and ranges are ``ConfigError``."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a mapping of keys to values, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in data:
        if key not in fields:
            raise ConfigError(f"unknown key {_join(where, key)!r}{did_you_mean(key, fields, where)}")
    values = {}
    for name, value in data.items():
        f, key = fields[name], _join(where, name)
        value = coerce(value, hints[name], key)
        meta = f.metadata
        if value is not None and "choices" in meta and value not in meta["choices"]:
            raise ConfigError(f"{key} must be one of {', '.join(map(str, meta['choices']))}; got {value!r}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):  # NaN passes every range test; inf is no budget or rate either
                raise ConfigError(f"{key} must be a finite number; got {value!r}")
            if "min" in meta and value < meta["min"]:
                raise ConfigError(f"{key} must be >= {meta['min']}; got {value!r}")
            if "max" in meta and value > meta["max"]:
                raise ConfigError(f"{key} must be <= {meta['max']}; got {value!r}")
        values[name] = value
    return cls(**values)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def did_you_mean(key: str, choices, where: str = "") -> str:
    close = difflib.get_close_matches(key, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {_join(where, close[0])!r}?)" if close else f"; known keys: {', '.join(choices)}"


def dump_yaml(data: Mapping[str, Any]) -> str:
    """``data`` as YAML, keys in their order (a recipe, a run's ``config.yaml``)."""
    return yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True)
