"""What the task kinds share: inputs checked (texts, word lists), gathered evaluation batches put back in split
order, generated ids decoded to answers, a classifier's label names, macro-F1."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from hf_rnn.errors import InputError
from hf_rnn.tasks.base import Answer, Task


def left_padding(tokenizer):
    """A shallow copy of ``tokenizer`` that pads on the left (decoder-only generation)."""
    tok = copy.copy(tokenizer)
    tok.padding_side = "left"
    return tok


def concat_batches(outputs: Mapping[str, list[np.ndarray]], key: str) -> np.ndarray:
    return np.concatenate([np.asarray(a).reshape(len(a), -1) if np.asarray(a).ndim > 1 else np.asarray(a)
                           for a in outputs[key]])


def example_order(outputs: Mapping[str, list[np.ndarray]], n: int) -> np.ndarray:
    """Each gathered row's ``example_index`` [n] (its position in the split), or 0..n-1 where the outputs have
    none (a reference's arrays, built in the split's order)."""
    if "example_index" in outputs:
        return concat_batches(outputs, "example_index").astype(np.int64).reshape(-1)
    return np.arange(n)


def by_index(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``records`` in split order (an evaluation reads its batches longest first)."""
    return sorted(records, key=lambda r: r["index"])


# a classifier's per-example probabilities are kept up to this many labels (a file per run stays small)
MAX_LABELS_WITH_PROBABILITIES = 20


def model_label_names(model) -> list[str] | None:
    """The labels ``model`` answers with, in id order: a zero-shot classifier's ``label_names``, else its
    config's ``id2label``."""
    names = getattr(model, "label_names", None)
    if names:
        return list(names)
    id2label = getattr(getattr(model, "config", None), "id2label", None)
    return [id2label[i] for i in range(len(id2label))] if id2label else None


def generated_answers(outputs: Mapping[str, list[np.ndarray]], tokenizer, pad: int | None,
                      strip: bool = True) -> list[Answer]:
    """One ``Answer`` per generated row: the ids before the first eos or pad, and their text (special tokens
    dropped; ``strip``: without surrounding spaces, else as generated, e.g. a continuation's leading space)."""
    stop = {i for i in (getattr(tokenizer, "eos_token_id", None), pad) if i is not None}
    result = []
    for row in (r for batch in outputs["generated"] for r in batch):
        ids = [int(i) for i in row]
        end = next((k for k, i in enumerate(ids) if i in stop), len(ids))
        text = tokenizer.decode(ids[:end], skip_special_tokens=True)
        result.append(Answer(text.strip() if strip else text, token_ids=ids[:end]))
    return result


def without_labels(inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A batch's model inputs without ``labels``: a prediction reads the logits, the model need not compute a
    loss (nor can any model: a language model's loss reads labels per token)."""
    return {k: v for k, v in inputs.items() if k != "labels"}


def text_input(text: Any, task: str) -> str:
    if not isinstance(text, str):
        raise InputError(f"{task}: each input must be a text (str), not {type(text).__name__}")
    return unicode_text(text, task)


def unicode_text(text: str, task: str) -> str:
    """``text``, or an ``InputError`` where it holds a lone surrogate (``"\\ud800"``: half of a UTF-16 pair, which
    no tokenizer can encode; Python makes one from a bad ``\\u`` escape or ``errors="surrogateescape"``)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InputError(f"{task}: the text {text[:40]!r} holds a lone surrogate (U+{ord(text[e.start]):04X} at "
                         f"character {e.start}), which is not Unicode text; remove it or decode the text again") \
            from None
    return text


def word_input(words: Any, task: str) -> list[str]:
    """A tagger's input as words: a list of strings, or a text split on whitespace."""
    if isinstance(words, str):
        words = words.split()
    if not isinstance(words, (list, tuple)) or not all(isinstance(w, str) for w in words):
        raise InputError(f"{task}: each input must be a list of words (str) or a text")
    if not words:
        raise InputError(f"{task}: an input has no words to label")
    for word in words:
        unicode_text(word, task)
    if any(not w.strip() or w != w.strip() for w in words):  # tags are read back word by word, in order
        raise InputError(f"{task}: a word is empty or has spaces around it: {[w for w in words if w != w.strip() or not w]}")
    return list(words)


def output_label_names(task: Task, model, width: int) -> list[str]:
    """The names of a classifier's ``width`` outputs: the model's (a zero-shot classifier's, or its config's
    ``id2label``), the task's where the model has only transformers' placeholders (LABEL_0, ...)."""
    names = model_label_names(model)
    generic = names is None or all(re.fullmatch(r"LABEL_\d+", n) for n in names)
    if generic and len(task.dataset["train"]):
        names = task.label_names
    if names is None:
        raise InputError(f"{task.name}: the model names no labels (config.id2label) and the task has no data "
                         "to read them from: load the task with load_task")
    if len(names) != width:
        raise InputError(f"{task.name}: the model answers with {width} scores per position, not one per label "
                         f"({len(names)}): a classification or tagging run, or a zero-shot classifier, answers here")
    return names


def macro_f1(pred: np.ndarray, gold: np.ndarray, num_labels: int) -> float:
    """Unweighted mean of per-class F1 over the classes present in ``gold`` or ``pred``."""
    scores = []
    for c in range(num_labels):
        tp = np.sum((pred == c) & (gold == c))
        fp = np.sum((pred == c) & (gold != c))
        fn = np.sum((pred != c) & (gold == c))
        if tp + fp + fn == 0:
            continue
        scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0
