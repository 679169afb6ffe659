"""Per-example test predictions: the file a run (and a comparison's zero-shot and reference rows) writes, so two
models can be compared example by example (``hf_rnn.comparison.paired_tests``).

``predictions.jsonl.gz``: gzip-compressed JSON lines, the first a header (the format, the task and its kind, the
split, how many records), then one record per scored unit in split order, as the task kind's
``Task.example_records`` makes them:

=====================  =========================================================================
kind                   record
=====================  =========================================================================
classification         ``index``, ``gold`` and ``pred`` label ids, ``probs`` (softmax, 4 decimals)
token classification   ``index`` (a sentence), ``gold`` and ``pred`` tag ids of its scored words
causal LM              ``index`` (a block), ``bits`` (summed negative log-likelihood), ``chars``, ``tokens``
translation            ``index``, ``hyp`` (the model's translation), ``ref`` (the reference)
forecasting            ``index`` (a window), ``pred`` and ``true`` values; ``parsed`` false where a text failed
=====================  =========================================================================

Written atomically and without a time stamp in the gzip header, so the same predictions give the same bytes.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hf_rnn.assets.cache import atomic_write_bytes
from hf_rnn.errors import RunError

PREDICTIONS = "predictions.jsonl.gz"  # in a run folder
PREDICTIONS_DIR = "predictions"  # in a comparison's folder: one file per row, ``predictions/<row>.jsonl.gz``
FORMAT = "hf_rnn.predictions/1"


def in_report_folder(relative: str) -> bool:
    """Whether ``relative`` (a row's ``predictions`` in ``results.json``) names a file in the report folder's
    ``predictions/``, not one elsewhere (``../``, an absolute path): a moved or hostile document reads no other."""
    parts = Path(relative).parts
    return (len(parts) == 2 and parts[0] == PREDICTIONS_DIR and parts[1].endswith(".jsonl.gz")
            and parts[1] not in ("..", ".") and not Path(relative).is_absolute())


@dataclass
class Predictions:
    """One model's per-example predictions on one split: the file's header and its records, in split order."""

    task: str
    kind: str
    split: str
    records: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)


def write_predictions(path: str | os.PathLike, task, records: list[dict[str, Any]], split: str = "test") -> Path:
    """Write ``records`` (``task.example_records(...)``) of ``split`` to ``path``, atomically; return ``path``."""
    path = Path(path)
    header = {"format": FORMAT, "task": task.name, "kind": task.kind, "split": split, "count": len(records)}
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in [header, *records]) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
    return path


def read_predictions(path: str | os.PathLike) -> Predictions | None:
    """The predictions in ``path``; ``None`` where there is no such file (a run from before they were written).

    Raises:
        RunError: the file is not a predictions file, or is cut short.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        lines = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
        header, records = json.loads(lines[0]), [json.loads(line) for line in lines[1:] if line]
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError, IndexError) as e:
        raise RunError(f"{path} is not a readable predictions file ({type(e).__name__}: {e})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise RunError(f"{path} is not a predictions file of format {FORMAT}")
    if header.get("count") != len(records):
        raise RunError(f"{path} holds {len(records)} records where its header says {header.get('count')}: "
                       "it was cut short")
    return Predictions(task=header["task"], kind=header["kind"], split=header["split"], records=records)
