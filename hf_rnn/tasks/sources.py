"""Reading user data: local files and Hub dataset ids, with errors a user can act on.

Tabular files are read with pandas into memory, so a bad file never leaves anything in a
cache. Hub ids go through ``datasets.load_dataset`` (users with the Hub keep the real
path). Both end as a ``DatasetDict`` that the task then standardises.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from datasets import Dataset, DatasetDict

from ..errors import DataError

FILE_SUFFIXES = {".csv", ".tsv", ".json", ".jsonl", ".txt", ".conllu", ".conll", ".pos", ".tag", ".tags"}
HUB_OPTIONS = ("subset", "revision", "split")


def looks_like_file(source: str) -> bool:
    """A source is a file when it exists, or has a data-file suffix, or is written as a path."""
    p = Path(source).expanduser()
    return p.exists() or p.suffix.lower() in FILE_SUFFIXES or source.startswith((".", "/", "~"))


def check_readable(path: Path) -> Path:
    """Fail clearly on a missing, non-regular or empty file."""
    if not path.exists():
        raise DataError(f"file not found: {path}")
    if not path.is_file():
        raise DataError(f"not a regular file: {path}")
    if path.stat().st_size == 0:
        raise DataError(f"file is empty: {path}")
    return path


def read_text(path: Path) -> str:
    """The file's text as UTF-8 (a BOM is dropped); a clear error on other encodings."""
    data = check_readable(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path} is not UTF-8 (bad byte 0x{data[e.start]:02x} at offset {e.start}); "
            "re-save it as UTF-8, e.g. iconv -f latin1 -t utf-8"
        ) from None
    if not text.strip():
        raise DataError(f"file is empty: {path}")
    return text


def read_local_file(path: Path, **_: Any) -> DatasetDict:
    """Read a CSV / TSV / JSON / JSONL file into a one-split (``train``) DatasetDict."""
    text = read_text(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".tsv":
            frame = pd.read_csv(io.StringIO(text), sep="\t", quoting=3, keep_default_na=False)
        elif suffix == ".csv":
            frame = pd.read_csv(io.StringIO(text), keep_default_na=False)
        elif suffix == ".jsonl":
            frame = pd.read_json(io.StringIO(text), lines=True)
        elif suffix == ".json":
            stripped = text.lstrip()
            frame = pd.read_json(io.StringIO(text), lines=not stripped.startswith("["))
        else:
            raise DataError(f"{path}: unsupported file type {suffix!r} for this task; "
                            "use .csv, .tsv, .json or .jsonl")
    except (ValueError, pd.errors.ParserError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"{path}: cannot parse as {suffix[1:].upper()}: {str(e).splitlines()[0]}") from None
    if frame.empty:
        raise DataError(f"{path}: no rows")
    frame.columns = [str(c) for c in frame.columns]
    import pyarrow as pa

    try:
        return DatasetDict(train=Dataset.from_pandas(frame, preserve_index=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:  # e.g. numbers and text mixed in one JSON column
        detail = e.args[0] if e.args else str(e)
        column = e.args[1].split("column ")[-1].split(" ")[0] if len(e.args) > 1 else "?"
        raise DataError(f"{path}: column {column!r} mixes kinds of values ({detail}); use one kind per column") from None


def load_hub_dataset(source: str, **options: Any) -> DatasetDict:
    """``datasets.load_dataset(source)``; ``subset`` / ``revision`` options pass through."""
    import datasets

    kwargs = {"name": options.get("subset"), "revision": options.get("revision")}
    try:
        loaded = datasets.load_dataset(source, **{k: v for k, v in kwargs.items() if v is not None})
    except Exception as e:  # the Hub client raises many types; all mean "cannot have it"
        raise DataError(
            f"cannot load {source!r}: it is not a local file and the Hub dataset could not be loaded "
            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}). "
            "Give a path to a .csv/.tsv/.json/.jsonl file, or omit the source for the built-in data"
        ) from None
    if isinstance(loaded, Dataset):
        loaded = DatasetDict(train=loaded)
    return loaded


def pick_column(
    columns: Sequence[str], wanted: str | None, candidates: Sequence[str], role: str, option: str, where: str
) -> str:
    """Choose the column for ``role``: the user's ``option`` if given, else one known name.

    Raises a ``DataError`` naming the columns when the choice is missing or ambiguous.
    """
    if wanted is not None:
        if wanted not in columns:
            raise DataError(f"{where}: no column {wanted!r} for {role}; columns are {list(columns)}")
        return wanted
    found = [c for c in columns if c.lower() in candidates]
    if len(found) == 1:
        return found[0]
    if not found:
        raise DataError(f"{where}: no {role} column among {list(columns)}; name it with {option}=COLUMN")
    raise DataError(f"{where}: ambiguous {role} column, candidates {found}; choose one with {option}=COLUMN")
