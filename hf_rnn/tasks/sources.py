"""Reading user data: local files and Hub dataset ids, with errors a user can act on.

Tabular files are read with pandas into memory, so a bad file never leaves anything in a
cache. Hub ids go through ``datasets.load_dataset`` (users with the Hub keep the real
path). Both end as a ``DatasetDict`` that the task then standardises.
"""

from __future__ import annotations

import gzip
import io
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from datasets import Dataset, DatasetDict

from hf_rnn.errors import DataError

FILE_SUFFIXES = {".csv", ".tsv", ".json", ".jsonl", ".txt", ".conllu", ".conll", ".pos", ".tag", ".tags",
                 ".parquet", ".gz"}
HUB_OPTIONS = ("subset", "revision", "split")
TABULAR_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".parquet")

# what a file's first bytes say it is, whatever its name
_GZIP, _PARQUET, _ZIP = b"\x1f\x8b", b"PAR1", b"PK\x03\x04"
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"), (b"\xff\xfe", "utf-16"),
         (b"\xfe\xff", "utf-16"))
MAX_DECOMPRESSED_BYTES = 2 << 30  # a gzip file that inflates past 2 GiB is refused, not read into memory


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


def data_suffix(path: Path) -> str:
    """The suffix that names a file's format, lower case: ``data.csv.gz`` is a ``.csv`` (gzip is read through)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        return suffixes[-2] if len(suffixes) > 1 else ""
    return path.suffix.lower()


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gzip-decompressed when it is a gzip file (by its first bytes, whatever its name)."""
    data = check_readable(path).read_bytes()
    if data[:2] != _GZIP:
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            data = f.read(MAX_DECOMPRESSED_BYTES + 1)
    except (OSError, EOFError) as e:
        raise DataError(f"{path} is a gzip file that cannot be decompressed ({e}): is it complete?") from None
    if len(data) > MAX_DECOMPRESSED_BYTES:
        raise DataError(f"{path} decompresses to more than {MAX_DECOMPRESSED_BYTES >> 30} GiB: too large to read")
    if not data:
        raise DataError(f"file is empty: {path} (a gzip file of nothing)")
    return data


def decode_text(data: bytes, path: Path) -> str:
    """``data`` as text: UTF-8 (a BOM dropped), or UTF-16 / UTF-32 with their BOM; a clear error naming what a
    binary file is (Parquet, ZIP / Excel) or how to re-save text in another encoding."""
    if data[:4] == _PARQUET:
        raise DataError(f"{path} is a Parquet file, not text: name it .parquet to read it as a table "
                        "(with the task's columns), or export it as CSV")
    if data[:4] == _ZIP:
        raise DataError(f"{path} is a ZIP archive (an Excel .xlsx workbook is one): unzip it, or export the "
                        "sheet as CSV (UTF-8)")
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8-sig")
    # text in UTF-16 without its BOM has a NUL in every other byte: valid UTF-8, but no one's text
    if encoding == "utf-8-sig" and data[:200].count(0) >= 10:
        raise DataError(f"{path} is not UTF-8 text: it has NUL bytes, as binary data or UTF-16 text without a "
                        "byte-order mark has; re-save it as UTF-8 text, e.g. iconv -f utf-16le -t utf-8")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        if encoding != "utf-8-sig":
            raise DataError(f"{path} starts with a {encoding.upper()} byte-order mark but is not {encoding.upper()} "
                            f"(bad bytes at offset {e.start}); re-save it as UTF-8") from None
        raise DataError(
            f"{path} is not UTF-8 (bad byte 0x{data[e.start]:02x} at offset {e.start}); "
            "re-save it as UTF-8, e.g. iconv -f latin1 -t utf-8"
        ) from None
    if text.startswith("\ufeff"):  # the UTF-16 / UTF-32 codecs keep the BOM of an explicit byte order
        text = text[1:]
    return text


def read_text(path: Path) -> str:
    """The file's text: UTF-8 (a BOM is dropped), UTF-16 or UTF-32 with a BOM, gzip-compressed or not; a clear
    error on other encodings and on binary formats."""
    text = decode_text(read_bytes(path), path)
    if not text.strip():
        raise DataError(f"file is empty: {path}")
    return text


def warn_dropped(where: str, count: int, total: int, what: str) -> None:
    """One notice for the rows a task leaves out of a source (``what``: why, e.g. "with an empty text")."""
    if count:
        warnings.warn(f"{where}: {count:,} of {total:,} row(s) {what} were left out", UserWarning, stacklevel=3)


def distinct_columns(where: str, **roles: str) -> None:
    """Refuse one column picked for two roles (``roles``: option name -> column), e.g. the text as its label."""
    seen: dict[str, str] = {}
    for option, column in roles.items():
        if column in seen:
            raise DataError(f"{where}: column {column!r} is picked both for {seen[column]} and for {option}: "
                            f"name two different columns with {seen[column]}=... and {option}=...")
        seen[column] = option


def read_local_file(path: Path, **_: Any) -> DatasetDict:
    """Read a CSV / TSV / JSON / JSONL / Parquet file (each gzip-compressed or not) into a one-split
    (``train``) DatasetDict."""
    suffix = data_suffix(path)
    data = read_bytes(path)
    if suffix == ".parquet" or data[:4] == _PARQUET:
        return _frame_to_dataset(_read_parquet(data, path), path)
    text = decode_text(data, path)
    if not text.strip():
        raise DataError(f"file is empty: {path}")
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
                            "use .csv, .tsv, .json, .jsonl or .parquet (each may be gzip-compressed: .csv.gz)")
    except (ValueError, pd.errors.ParserError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"{path}: cannot parse as {suffix[1:].upper()}: {str(e).splitlines()[0]}") from None
    return _frame_to_dataset(frame, path)


def _read_parquet(data: bytes, path: Path) -> pd.DataFrame:
    import pyarrow as pa

    try:
        return pd.read_parquet(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError) as e:
        raise DataError(f"{path}: cannot read as Parquet: {str(e).splitlines()[0] if str(e) else type(e).__name__}") \
            from None


def _frame_to_dataset(frame: pd.DataFrame, path: Path) -> DatasetDict:
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
    except OverflowError:  # an integer beyond 64 bits (pandas keeps it as a Python int)
        column = next((c for c in frame.columns if _overflows(frame[c])), "?")
        raise DataError(f"{path}: column {column!r} holds an integer beyond 64 bits; write such values as "
                        "decimals (1e20) or as text") from None


def _overflows(column: pd.Series) -> bool:
    import pyarrow as pa

    try:
        pa.array(column, from_pandas=True)
    except OverflowError:
        return True
    except (pa.ArrowException, TypeError, ValueError):
        return False
    return False


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
