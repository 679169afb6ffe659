"""A column of labels read as classes: text, integers or true/false to a ``datasets.ClassLabel`` and an id per
row, with a clear ``DataError`` for a missing label, mixed kinds, values that are not classes, or too few or too
many classes (a classifier's label column and a tagger's tags, built-in or the user's own)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from datasets import ClassLabel

from hf_rnn.errors import DataError

_MISSING_TEXT = {"", "nan", "null", "n/a", "na"}
MAX_CLASSES = 10_000
# integer labels beyond float64's exact integers are values, not classes (JSON numbers are read as floats)
MAX_INTEGER_LABEL = 2**53


def is_missing(value: Any) -> bool:
    """None, a float NaN, or text that spreadsheets write for "no value" ("", "NaN", "NULL", "N/A")."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and value.strip().lower() in _MISSING_TEXT


def _label_kind(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "true/false"
    return "text" if isinstance(value, str) else "number"


def _numeric_order(names: list[str]) -> list[str]:
    """``names`` in numeric order when every one is a number ("1" < "2" < "10"), else in text order; a tie
    (``"1"`` and ``"1.0"``, two classes) is broken by the text, so the order never depends on the input's."""
    try:
        keys = {n: float(n) for n in names}
    except ValueError:
        return sorted(names)
    if not all(math.isfinite(k) for k in keys.values()):
        return sorted(names)
    return sorted(names, key=lambda n: (keys[n], n))


def check_classes(names: list[str], column: str, where: str) -> None:
    """A classifier needs two classes at least (one would train a regression and score 1.0), and not more
    than ``MAX_CLASSES``."""
    if len(names) < 2:
        found = f"only the class {names[0]!r}" if names else "no class"
        raise DataError(f"{where}: column {column!r} has {found}: a classifier needs at least two classes "
                        "(is it the right column?)")
    if len(names) > MAX_CLASSES:
        raise DataError(f"{where}: column {column!r} has {len(names):,} different labels, more than "
                        f"{MAX_CLASSES:,} classes: is it a column of values rather than of classes?")


def class_label(values: list, column: str, where: str) -> tuple[ClassLabel, list[int]]:
    """Turn a column of labels (text, integers or true/false) into a ClassLabel and an id per value.

    The classes are the labels present, sorted (numbers numerically: star ratings 1..5 stay in order, with
    names "1".."5"; true/false keep their names "False", "True"). Text is compared without the spaces around
    it, so " pos" and "pos" are one class.
    """
    missing = [i for i, v in enumerate(values) if is_missing(v)]
    if missing:
        raise DataError(f"{where}: column {column!r} has {len(missing)} missing label(s) (empty, NaN or null; "
                        f"first at row {missing[0]}, value {values[missing[0]]!r}): fill them in or drop those rows")
    kinds = [_label_kind(v) for v in values]
    if len(set(kinds)) > 1:  # name a cell of the rarer kind: that is the odd one out
        rare = min(sorted(set(kinds)), key=kinds.count)
        common = max(sorted(set(kinds)), key=kinds.count)
        i = kinds.index(rare)
        raise DataError(f"{where}: column {column!r} mixes {rare} and {common} labels (row {i} is {values[i]!r}, "
                        f"while most are {common}); use one kind")
    if kinds[0] == "text":
        texts = [v.strip() for v in values]
    elif kinds[0] == "true/false":
        texts = [str(bool(v)) for v in values]
    else:
        bad = next((v for v in values if not isinstance(v, (int, np.integer))
                    and not (isinstance(v, (float, np.floating)) and float(v).is_integer())), None)
        if bad is not None:
            raise DataError(f"{where}: labels of the wrong type in column {column!r} (e.g. {bad!r}, "
                            f"{type(bad).__name__}); classification needs integer ids or strings")
        big = next((v for v in values if abs(v) >= MAX_INTEGER_LABEL), None)
        if big is not None:  # a float this large is not an exact integer: it is a value, not a class id
            raise DataError(f"{where}: column {column!r} has the label {big!r}, too large for class ids (integers "
                            f"below 2**53); write labels as strings if they are values")
        texts = [str(int(v)) for v in values]
    names = _numeric_order(list(set(texts)))
    check_classes(names, column, where)
    index = {n: i for i, n in enumerate(names)}
    return ClassLabel(names=names), [index[t] for t in texts]
