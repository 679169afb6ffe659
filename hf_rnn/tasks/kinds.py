"""The lecture's five kinds of sequence task, each a ``Task`` with encoding and metrics.

=====================  ==============  ===================================================
kind                   lecture         what a model sees / is scored on
=====================  ==============  ===================================================
sequence-classification  sentiment     ids → one label; accuracy, macro-F1
token-classification   word labeling   ids → a label per word (first sub-token); accuracy
causal-lm              text generation  fixed-length blocks; perplexity
translation            translation     source → target text; BLEU, chrF (sacrebleu)
forecasting            time series     a window of values → the next ones; MAE, RMSE
=====================  ==============  ===================================================

Both families share one tokenizer by default, so classification and tagging inputs are
identical for an RNN and an LLM. Translation and forecasting differ by nature: an RNN
encoder-decoder reads the source and writes the target; a decoder-only LLM continues a
prompt, with the loss on the target tokens only.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from datasets import ClassLabel, Dataset, DatasetDict, Sequence, Value
from transformers import (
    DataCollatorForSeq2Seq,
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    default_data_collator,
)

from ..errors import DataError
from ..generation import generate_batch
from ..tokenization import IGNORE_INDEX, chat_prompt_ids, encode_words, ids_with_eos
from .base import DIRECT, PROMPTED, SPLITS, Task, input_family
from .options import Option
from .sources import pick_column

DEFAULT_MAX_LENGTH = 256


def _left_padding(tokenizer):
    """A shallow copy of ``tokenizer`` that pads on the left (decoder-only generation)."""
    tok = copy.copy(tokenizer)
    tok.padding_side = "left"
    return tok


def _cat(outputs: Mapping[str, list[np.ndarray]], key: str) -> np.ndarray:
    return np.concatenate([np.asarray(a).reshape(len(a), -1) if np.asarray(a).ndim > 1 else np.asarray(a)
                           for a in outputs[key]])


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


_MISSING_TEXT = {"", "nan", "null", "n/a", "na"}
MAX_CLASS_ID = 10_000


def _is_missing(value: Any) -> bool:
    """None, a float NaN, or text that spreadsheets write for "no value" ("", "NaN", "NULL", "N/A")."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and value.strip().lower() in _MISSING_TEXT


def _class_label(values: list, column: str, where: str) -> tuple[ClassLabel, list[int]]:
    """Turn a column of labels (strings or integers) into a ClassLabel and ids."""
    missing = [i for i, v in enumerate(values) if _is_missing(v)]
    if missing:
        raise DataError(f"{where}: column {column!r} has {len(missing)} missing label(s) (empty, NaN or null; "
                        f"first at row {missing[0]}, value {values[missing[0]]!r}): fill them in or drop those rows")
    kinds = ["text" if isinstance(v, str) else "number" for v in values]
    if len(set(kinds)) > 1:  # name a cell of the rarer kind: that is the odd one out
        rare = min(set(kinds), key=kinds.count)
        i = kinds.index(rare)
        raise DataError(f"{where}: column {column!r} mixes text and number labels (row {i} is {values[i]!r}, "
                        f"while most are {'text' if rare == 'number' else 'numbers'}); use one kind")
    if all(isinstance(v, str) for v in values):
        names = sorted(set(values))
        index = {n: i for i, n in enumerate(names)}
        return ClassLabel(names=names), [index[v] for v in values]
    if all(isinstance(v, (bool, int, np.integer)) or (isinstance(v, float) and float(v).is_integer())
           for v in values):
        ints = [int(v) for v in values]
        if min(ints) < 0:
            raise DataError(f"{where}: column {column!r} has negative integer labels; use 0..K-1 or strings")
        if max(ints) >= MAX_CLASS_ID:  # ids 0..max become classes: a stray 1e9 must not make a billion of them
            raise DataError(f"{where}: column {column!r} has the label {max(ints)}, but integer labels are class ids "
                            f"0..K-1 (K <= {MAX_CLASS_ID:,}); write labels as strings if they are values")
        names = [str(i) for i in range(max(ints) + 1)]
        return ClassLabel(names=names), ints
    example = next(v for v in values if not isinstance(v, (str, int, bool, np.integer)))
    raise DataError(f"{where}: labels of the wrong type in column {column!r} (e.g. {example!r}, "
                    f"{type(example).__name__}); classification needs integer ids or strings")


# =========================================================================== classification


# The zero-shot question for a classification task (the instruct LLM answers with a label word)
GENERIC_PROMPT = ("Classify the text as {labels}. Answer with one word.\n\nText: {text}", "Answer:")


class SequenceClassificationTask(Task):
    """Text → one label. Columns: ``text`` (str), ``label`` (ClassLabel).

    File options: ``text_column``, ``label_column``.
    """

    kind = "sequence-classification"
    columns = ("text", "label")
    option_specs = {"text_column": Option(str, "the column of texts"),
                    "label_column": Option(str, "the column of labels")}
    metric_names = ("accuracy", "macro_f1")
    primary_metric = "accuracy"

    def zero_shot_prompt(self) -> tuple[str, str]:
        """``(instruction, answer_prefix)`` the untrained instruct LLM is asked with; ``{text}`` is the
        input, ``{labels}`` the label words."""
        return GENERIC_PROMPT

    @property
    def label_names(self) -> list[str]:
        return list(self.dataset["train"].features["label"].names)

    @classmethod
    def standardize(cls, raw: DatasetDict, text_column: str | None = None, label_column: str | None = None,
                    **_: Any) -> DatasetDict:
        first = raw[next(iter(raw))]
        cols = first.column_names
        where = f"{cls.name} data"
        text_col = pick_column(cols, text_column, ("text", "sentence", "review", "content", "document"),
                               "text", "text_column", where)
        label_col = pick_column(cols, label_column, ("label", "labels", "sentiment", "class", "category", "target"),
                                "label", "label_column", where)
        feature = first.features[label_col]
        out = DatasetDict()
        if isinstance(feature, ClassLabel):
            cl = feature
            for split, ds in raw.items():
                out[split] = Dataset.from_dict(
                    {"text": list(ds[text_col]), "label": list(ds[label_col])},
                    features=_features_text_label(cl),
                )
        else:
            all_labels = [v for ds in raw.values() for v in ds[label_col]]
            cl, _ = _class_label(all_labels, label_col, where)
            for split, ds in raw.items():
                column = list(ds[label_col])
                _, ids = _class_label(column, label_col, where)
                if isinstance(column[0], str):
                    index = {n: i for i, n in enumerate(cl.names)}
                    ids = [index[v] for v in column]
                out[split] = Dataset.from_dict({"text": list(ds[text_col]), "label": ids}, features=_features_text_label(cl))
        for split, ds in out.items():
            if any(not isinstance(t, str) for t in ds["text"]):
                raise DataError(f"{where}: column {text_col!r} must hold text (found non-string values)")
            out[split] = ds.filter(lambda r: bool(r["text"].strip()))
        return out

    def encode(self, tokenizer, encoding=DIRECT, splits=SPLITS, max_length=None, for_generation=False) -> DatasetDict:
        max_length = max_length or DEFAULT_MAX_LENGTH

        def tok(batch, idx):
            enc = tokenizer(batch["text"], truncation=True, max_length=max_length)
            return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
                    "labels": batch["label"], "example_index": idx}

        return DatasetDict({s: self.dataset[s].map(tok, batched=True, with_indices=True,
                                                   remove_columns=self.dataset[s].column_names)
                            for s in splits})

    def collator(self, tokenizer, encoding=DIRECT, for_generation=False):
        return DataCollatorWithPadding(tokenizer)

    def prediction_step(self, model, batch, tokenizer=None, **_) -> dict[str, torch.Tensor]:
        logits = model(**self.model_inputs(batch)).logits
        return {"predictions": logits.argmax(-1), "labels": batch["labels"], "example_index": batch["example_index"]}

    def compute_metrics(self, outputs, tokenizer=None, split="test") -> dict:
        pred, gold = _cat(outputs, "predictions"), _cat(outputs, "labels")
        return {"accuracy": float(np.mean(pred == gold)),
                "macro_f1": macro_f1(pred, gold, len(self.label_names)),
                "num_examples": int(len(gold))}


def _features_text_label(cl: ClassLabel):
    from datasets import Features

    return Features({"text": Value("string"), "label": cl})


class TokenClassificationTask(Task):
    """Words → a label per word. Columns: ``tokens`` (list[str]), ``tags`` (list[ClassLabel]).

    Sub-token alignment (first sub-token labelled, the rest -100) is
    ``hf_rnn.tokenization.encode_words``, the same for both families. A decoder-only LLM
    tagger still sees only the left context: that is the lecture's point about
    bidirectional RNNs, and it is kept visible rather than hidden.
    """

    kind = "token-classification"
    zero_shot = False  # a causal LM has no per-word answer to read without a trained head
    columns = ("tokens", "tags")
    option_specs = {"tokens_column": Option(str, "the column of word lists"),
                    "tags_column": Option(str, "the column of tag lists"),
                    "repeat_input": Option(bool, "feed each sentence twice and tag the second copy, so a "
                                                 "left-to-right model sees the whole sentence")}
    metric_names = ("accuracy",)
    primary_metric = "accuracy"

    @property
    def label_names(self) -> list[str]:
        return list(self.dataset["train"].features["tags"].feature.names)

    @classmethod
    def standardize(cls, raw: DatasetDict, tokens_column: str | None = None, tags_column: str | None = None,
                    **_: Any) -> DatasetDict:
        first = raw[next(iter(raw))]
        cols = first.column_names
        where = f"{cls.name} data"
        tok_col = pick_column(cols, tokens_column, ("tokens", "words", "form"), "tokens", "tokens_column", where)
        tag_col = pick_column(cols, tags_column, ("tags", "upos", "pos_tags", "labels", "ner_tags"), "tags",
                              "tags_column", where)
        feature = first.features[tag_col]
        inner = getattr(feature, "feature", None)
        if isinstance(inner, ClassLabel):
            names = list(inner.names)
            as_ids = True
        else:
            values = {t for ds in raw.values() for tags in ds[tag_col] for t in tags}
            if not all(isinstance(t, str) for t in values):
                raise DataError(f"{where}: tags in column {tag_col!r} must be strings or class ids")
            if any(_is_missing(t) for t in values):
                split, i = next((s, i) for s, ds in raw.items() for i, tags in enumerate(ds[tag_col])
                                if any(_is_missing(t) for t in tags))
                raise DataError(f"{where}: row {i} of {split} has an empty or missing tag in column {tag_col!r}: "
                                "every word needs a tag")
            names, as_ids = sorted(values), False
        index = {n: i for i, n in enumerate(names)}
        features = _features_tokens_tags(names)
        out = DatasetDict()
        for split, ds in raw.items():
            tokens, tags = list(ds[tok_col]), list(ds[tag_col])
            for i, (w, t) in enumerate(zip(tokens, tags)):
                if len(w) != len(t):
                    raise DataError(f"{where}: row {i} of {split} has {len(w)} tokens but {len(t)} tags")
            ids = tags if as_ids else [[index[t] for t in row] for row in tags]
            out[split] = Dataset.from_dict({"tokens": tokens, "tags": ids}, features=features).filter(
                lambda r: len(r["tokens"]) > 0)
        return out

    def encode(self, tokenizer, encoding=DIRECT, splits=SPLITS, max_length=None, for_generation=False) -> DatasetDict:
        max_length = max_length or DEFAULT_MAX_LENGTH

        repeat = bool(self.options.get("repeat_input"))

        def tok(row, idx):
            enc = encode_words(tokenizer, row["tokens"], row["tags"], max_length=max_length, repeat=repeat)
            enc.pop("word_ids")
            enc["example_index"] = idx
            return enc

        return DatasetDict({s: self.dataset[s].map(tok, with_indices=True, remove_columns=self.dataset[s].column_names)
                            for s in splits})

    def collator(self, tokenizer, encoding=DIRECT, for_generation=False):
        return DataCollatorForTokenClassification(tokenizer, label_pad_token_id=IGNORE_INDEX)

    def prediction_step(self, model, batch, tokenizer=None, **_) -> dict[str, torch.Tensor]:
        logits = model(**self.model_inputs(batch)).logits
        return {"predictions": logits.argmax(-1), "labels": batch["labels"]}

    def compute_metrics(self, outputs, tokenizer=None, split="test") -> dict:
        pred = np.concatenate([np.asarray(a).ravel() for a in outputs["predictions"]])
        gold = np.concatenate([np.asarray(a).ravel() for a in outputs["labels"]])
        keep = gold != IGNORE_INDEX
        return {"accuracy": float(np.mean(pred[keep] == gold[keep])) if keep.any() else 0.0,
                "num_words": int(keep.sum())}


def _features_tokens_tags(names: list[str]):
    from datasets import Features

    return Features({"tokens": Sequence(Value("string")), "tags": Sequence(ClassLabel(names=names))})


# =========================================================================== language modelling


class LanguageModelingTask(Task):
    """Text → next token. Column: ``text``. Passages are joined with eos and cut into
    blocks of ``max_length`` tokens (default 128).

    The primary metric is **bits per character** (``bpc``): the summed negative log-likelihood of the predicted
    tokens, in bits, divided by the characters those tokens spell (eos counts as one, the passage break). It does
    not depend on the tokenizer, so a character-level RNN and a 49k-token LLM are scored on the same scale.
    Perplexity (exp of the mean token loss) is per token of each model's own vocabulary: comparable only
    between models that share a tokenizer."""

    kind = "causal-lm"
    columns = ("text",)
    option_specs = {"text_column": Option(str, "the column of passages")}
    metric_names = ("bpc", "perplexity", "loss")
    primary_metric = "bpc"
    greater_is_better = False
    default_block_size = 128

    @classmethod
    def standardize(cls, raw: DatasetDict, text_column: str | None = None, **_: Any) -> DatasetDict:
        first = raw[next(iter(raw))]
        col = pick_column(first.column_names, text_column, ("text", "content", "line", "passage"), "text",
                          "text_column", f"{cls.name} data")
        return DatasetDict({s: Dataset.from_dict({"text": [t for t in ds[col] if isinstance(t, str) and t.strip()]})
                            for s, ds in raw.items()})

    def encode(self, tokenizer, encoding=DIRECT, splits=SPLITS, max_length=None, for_generation=False) -> DatasetDict:
        block = max_length or self.default_block_size
        eos = tokenizer.eos_token_id
        chars = token_char_lengths(tokenizer)

        def blocks(batch):
            ids: list[int] = []
            for t in tokenizer(batch["text"], add_special_tokens=False)["input_ids"]:
                ids.extend(t + [eos])
            n = len(ids) // block
            chunks = [ids[i * block : (i + 1) * block] for i in range(n)]
            # the characters that the predicted tokens (all but each block's first) spell: bpc's denominator
            n_chars = [int(chars[np.asarray(c[1:])].sum()) for c in chunks]
            return {"input_ids": chunks, "attention_mask": [[1] * block] * n, "labels": chunks, "n_chars": n_chars}

        out = DatasetDict()
        for s in splits:
            # one batch per 1000 passages: the remainder of each batch is dropped, a small loss
            ds = self.dataset[s].map(blocks, batched=True, batch_size=1000,
                                     remove_columns=self.dataset[s].column_names)
            out[s] = ds.add_column("example_index", list(range(len(ds))))
        return out

    def collator(self, tokenizer, encoding=DIRECT, for_generation=False):
        return default_data_collator

    def prediction_step(self, model, batch, tokenizer=None, **_) -> dict[str, torch.Tensor]:
        inputs = {k: v for k, v in self.model_inputs(batch).items() if k != "labels"}
        logits = model(**inputs).logits[:, :-1].float()
        target = batch["labels"][:, 1:]
        loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target, ignore_index=IGNORE_INDEX,
                                                 reduction="none")
        counted = (target != IGNORE_INDEX)
        out = {"loss_sum": (loss * counted).sum(1), "n_tokens": counted.sum(1)}
        if "n_chars" in batch:
            out["n_chars"] = batch["n_chars"]
        return out

    def compute_metrics(self, outputs, tokenizer=None, split="test") -> dict:
        total = float(np.sum(_cat(outputs, "loss_sum")))
        n = float(np.sum(_cat(outputs, "n_tokens")))
        loss = total / max(n, 1.0)
        out = {"perplexity": float(math.exp(min(loss, 50.0))), "loss": loss, "num_tokens": int(n)}
        if "n_chars" in outputs:
            n_chars = float(np.sum(_cat(outputs, "n_chars")))
            out = {"bpc": total / math.log(2) / max(n_chars, 1.0), **out, "num_characters": int(n_chars)}
        return out


def token_char_lengths(tokenizer) -> np.ndarray:
    """How many characters each token id spells ([vocab]); special tokens (eos: a passage break) count one.

    A byte-level BPE token that holds part of a multi-byte character decodes to one replacement character, so
    such characters count once per piece: rare in English text, and the same for every model on a vocabulary.
    """
    special = set(tokenizer.all_special_ids)
    ids = range(len(tokenizer))
    texts = tokenizer.batch_decode([[i] for i in ids], skip_special_tokens=False, clean_up_tokenization_spaces=False)
    return np.asarray([1 if i in special else len(t) for i, t in zip(ids, texts)], dtype=np.int64)


# =========================================================================== prompted generation


class _PromptedGenerationMixin:
    """Shared by translation and forecasting: an LLM continues a prompt with the target."""

    max_new_tokens: ClassVar[int] = 64

    def prompt_ids(self, tokenizer, prompt: str) -> list[int]:
        """Token ids of ``prompt`` in the model's chat format when it has one."""
        return chat_prompt_ids(tokenizer, prompt)

    def _encode_prompted(self, tokenizer, prompt: str, target: str, max_length: int, for_generation: bool):
        p = self.prompt_ids(tokenizer, prompt)[-max_length:]
        if for_generation:
            return {"input_ids": p, "attention_mask": [1] * len(p)}
        t = ids_with_eos(tokenizer, target)
        ids = (p + t)[:max_length + self.max_new_tokens]
        labels = ([IGNORE_INDEX] * len(p) + t)[: len(ids)]
        return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}

    def collator(self, tokenizer, encoding=DIRECT, for_generation=False):
        if encoding == PROMPTED and for_generation:
            tokenizer = _left_padding(tokenizer)
        return DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=IGNORE_INDEX)

    def generate_ids(self, model, batch, tokenizer, **generate_kwargs) -> torch.Tensor:
        """Generated continuation ids [B, max_new_tokens] (default: the task's), padded with the pad id."""
        max_new = generate_kwargs.pop("max_new_tokens", self.max_new_tokens)
        return generate_batch(model, batch, tokenizer, max_new_tokens=max_new, **generate_kwargs)


class TranslationTask(_PromptedGenerationMixin, Task):
    """Source text → target text. Columns: ``source``, ``target`` (strings).

    RNN: encoder-decoder, ``input_ids`` = source + eos, ``labels`` = target + eos.
    LLM: a chat prompt "Translate English to Spanish: ..." followed by the target, loss on
    the target only. Scored with sacrebleu's corpus BLEU and chrF on greedy output.
    File options: ``source_column``, ``target_column`` (or ``source_lang`` / ``target_lang``
    for a Hub ``translation`` dict column), ``max_words`` (length cap, default 30).
    """

    kind = "translation"
    columns = ("source", "target")
    option_specs = {"source_column": Option(str, "the column of source texts"),
                    "target_column": Option(str, "the column of target texts"),
                    "source_lang": Option(str, "the source key of a Hub 'translation' column"),
                    "target_lang": Option(str, "the target key of a Hub 'translation' column"),
                    "max_words": Option(int, "keep pairs of at most this many words a side; None keeps all",
                                        minimum=1)}
    metric_names = ("bleu", "chrf")
    primary_metric = "chrf"
    source_language = "English"
    target_language = "Spanish"
    max_new_tokens = 96

    @classmethod
    def standardize(cls, raw: DatasetDict, source_column: str | None = None, target_column: str | None = None,
                    source_lang: str = "en", target_lang: str = "es", **_: Any) -> DatasetDict:
        first = raw[next(iter(raw))]
        cols = first.column_names
        where = f"{cls.name} data"
        out = DatasetDict()
        if "translation" in cols and source_column is None and target_column is None:
            for s, ds in raw.items():
                pairs = list(ds["translation"])
                try:
                    out[s] = Dataset.from_dict({"source": [p[source_lang] for p in pairs],
                                                "target": [p[target_lang] for p in pairs]})
                except (KeyError, TypeError):
                    raise DataError(f"{where}: 'translation' column lacks {source_lang!r}/{target_lang!r}; "
                                    "set source_lang=.. target_lang=..") from None
        else:
            src = pick_column(cols, source_column, ("source", "src", "en", "english", source_lang), "source",
                              "source_column", where)
            tgt = pick_column(cols, target_column, ("target", "tgt", "es", "spanish", target_lang), "target",
                              "target_column", where)
            for s, ds in raw.items():
                out[s] = Dataset.from_dict({"source": list(ds[src]), "target": list(ds[tgt])})
        for s, ds in out.items():
            if any(not isinstance(v, str) for v in [*ds["source"], *ds["target"]]):
                raise DataError(f"{where}: source and target columns must hold text")
            out[s] = ds.filter(lambda r: bool(r["source"].strip()) and bool(r["target"].strip()))
        return out

    @classmethod
    def empty_split_hint(cls) -> str:
        return "; pairs longer than max_words (default 30) are dropped: raise max_words, or pass max_words=None"

    @classmethod
    def after_load(cls, dd: DatasetDict, max_words: int | None = 30, **_: Any) -> DatasetDict:
        if not max_words:
            return dd

        def short(r):
            return len(r["source"].split()) <= max_words and len(r["target"].split()) <= max_words

        return DatasetDict({s: ds.filter(short) for s, ds in dd.items()})

    def prompt(self, source: str) -> str:
        return f"Translate {self.source_language} to {self.target_language}: {source}"

    def encode(self, tokenizer, encoding=DIRECT, splits=SPLITS, max_length=None, for_generation=False) -> DatasetDict:
        max_length = max_length or 128

        def tok(row, idx):
            if encoding == DIRECT:
                src = ids_with_eos(tokenizer, row["source"], max_length)
                tgt = ids_with_eos(tokenizer, row["target"], max_length)
                enc = {"input_ids": src, "attention_mask": [1] * len(src), "labels": tgt}
            else:
                enc = self._encode_prompted(tokenizer, self.prompt(row["source"]), row["target"], max_length,
                                            for_generation)
            enc["example_index"] = idx
            return enc

        return DatasetDict({s: self.dataset[s].map(tok, with_indices=True, remove_columns=self.dataset[s].column_names)
                            for s in splits})

    def model_inputs(self, batch):
        return {k: v for k, v in batch.items() if k != "example_index"}

    def prediction_step(self, model, batch, tokenizer=None, **generate_kwargs) -> dict[str, torch.Tensor]:
        return {"generated": self.generate_ids(model, batch, tokenizer, **generate_kwargs),
                "example_index": batch["example_index"]}

    def compute_metrics(self, outputs, tokenizer=None, split="test") -> dict:
        if tokenizer is None:
            raise ValueError("translation metrics need the tokenizer to decode generated ids")
        generated = np.concatenate(outputs["generated"])
        index = _cat(outputs, "example_index")
        hyps = [t.strip() for t in tokenizer.batch_decode(generated, skip_special_tokens=True)]
        refs = [self.dataset[split][int(i)]["target"] for i in index]
        return score_translations(hyps, refs)


def score_translations(hypotheses: list[str], references: list[str]) -> dict:
    """Corpus BLEU and chrF (sacrebleu's defaults) of ``hypotheses`` against one reference each."""
    import sacrebleu

    return {"bleu": float(sacrebleu.corpus_bleu(hypotheses, [references]).score),
            "chrf": float(sacrebleu.corpus_chrf(hypotheses, [references]).score),
            "num_examples": len(references)}


# =========================================================================== forecasting

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class ForecastingTask(_PromptedGenerationMixin, Task):
    """A window of past values → the next ``horizon`` values.

    Stored rows: one per series and split, ``values`` = the series up to the split's end and
    ``target_start`` = where that split's targets begin (chronological splits: a test
    window may look back into validation and train data, never forward).

    RNN: ``past_values`` [context_length] → ``future_values`` [horizon] (raw scale; the model
    normalises each window). LLM: numbers as digit strings ("5.0, 11.0, 16.0"; SmolLM2
    gives each digit its own token), the model continues with the next values; parsed
    back, a failed parse falls back to the last value and is counted. Scored by MAE and
    RMSE, with the seasonal-naive forecast (the value one season earlier) as the baseline.
    Options: ``series`` (default: the first), ``context_length``, ``horizon``, ``decimals``.
    """

    kind = "forecasting"
    columns = ("series", "values", "target_start", "season")
    option_specs = {"value_column": Option(str, "the column of values"),
                    "season": Option(int, "the seasonal period, for the seasonal-naive forecast", minimum=1),
                    "series": Option(str, "which series to forecast"),
                    "context_length": Option(int, "past values a model reads", minimum=1),
                    "horizon": Option(int, "future values a model predicts", minimum=1),
                    "decimals": Option(int, "digits after the point in the LLM's number strings", minimum=0,
                                       maximum=6)}
    metric_names = ("mae", "rmse", "naive_mae", "naive_rmse")
    variant_option = "series"  # a comparison on another series than the recipe's is reported apart
    primary_metric = "mae"
    greater_is_better = False
    max_new_tokens = 12
    default_context = 24

    def __init__(self, dataset: DatasetDict, source: str = "builtin", **options: Any) -> None:
        super().__init__(dataset, source, **options)
        names = list(dict.fromkeys(dataset["train"]["series"]))
        self.series = options.get("series") or names[0]
        if self.series not in names:
            raise DataError(f"{self.name}: unknown series {self.series!r}; available: {names}")
        self.context_length = int(options.get("context_length") or self.default_context)
        self.horizon = int(options.get("horizon") or 1)
        self.decimals = 1 if options.get("decimals") is None else int(options["decimals"])
        if self.context_length < 1 or self.horizon < 1:
            raise DataError("context_length and horizon must be positive")
        self.max_new_tokens = 8 * self.horizon + 4
        for s in SPLITS:
            if not self.windows(s):
                raise DataError(f"{self.name}: the {s} split of {self.series!r} is too short for "
                                f"context_length={self.context_length} + horizon={self.horizon}")

    def _row(self, split: str) -> dict:
        ds = self.dataset[split]
        i = list(ds["series"]).index(self.series)
        return ds[i]

    def windows(self, split: str) -> list[tuple[list[float], list[float], int]]:
        """``(past, future, t)`` for every target position ``t`` of ``split``."""
        row = self._row(split)
        v, start = row["values"], row["target_start"]
        c, h = self.context_length, self.horizon
        return [(v[t - c:t], v[t:t + h], t) for t in range(max(start, c), len(v) - h + 1)]

    @property
    def season(self) -> int:
        return int(self._row("train")["season"])

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        out["series"] = self.series
        out["windows"] = {s: len(self.windows(s)) for s in SPLITS}
        return out

    def subset(self, sizes, seed=0):  # windows are derived; a subset keeps the series whole
        return self

    @classmethod
    def standardize(cls, raw: DatasetDict, value_column: str | None = None, season: int = 1, **_: Any) -> DatasetDict:
        first = raw[next(iter(raw))]
        where = f"{cls.name} data"
        col = pick_column(first.column_names, value_column, ("value", "values", "y", "target"), "value",
                          "value_column", where)
        values: list[float] = []
        for split, ds in raw.items():
            for i, v in enumerate(ds[col]):
                if isinstance(v, str):  # a CSV column with one bad cell is read as text throughout
                    try:
                        v = float(v)
                    except ValueError:
                        pass
                if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or \
                        not math.isfinite(float(v)):
                    raise DataError(f"{where}: column {col!r} must hold finite numbers; row {i} of {split} is {v!r}")
                values.append(float(v))
        return series_splits({"series": values}, {"series": season or 1})

    @classmethod
    def ensure_splits(cls, dd: DatasetDict) -> DatasetDict:
        return dd  # standardize already made chronological splits

    def _format(self, values) -> str:
        return ", ".join(f"{v:.{self.decimals}f}" for v in values)

    def prompt_head(self) -> str:
        """What every window's prompt starts with (the app's maps begin after it)."""
        return f"Continue the series {self.series}:"

    def prompt(self, past) -> str:
        return f"{self.prompt_head()} {self._format(past)},"

    def encode(self, tokenizer, encoding=DIRECT, splits=SPLITS, max_length=None, for_generation=False) -> DatasetDict:
        out = DatasetDict()
        for s in splits:
            wins = self.windows(s)
            if encoding == DIRECT:
                out[s] = Dataset.from_dict({"past_values": [w[0] for w in wins], "future_values": [w[1] for w in wins],
                                            "example_index": list(range(len(wins)))})
            else:
                rows = [self._encode_prompted(tokenizer, self.prompt(p), " " + self._format(f), max_length or 512,
                                              for_generation) for p, f, _ in wins]
                cols = {k: [r[k] for r in rows] for k in rows[0]}
                cols["example_index"] = list(range(len(wins)))
                out[s] = Dataset.from_dict(cols)
        return out

    def collator(self, tokenizer, encoding=DIRECT, for_generation=False):
        if encoding == DIRECT:
            return default_data_collator
        return super().collator(tokenizer, encoding, for_generation)

    def model_inputs(self, batch):
        return {k: v for k, v in batch.items() if k != "example_index"}

    def prediction_step(self, model, batch, tokenizer=None, **generate_kwargs) -> dict[str, torch.Tensor]:
        if input_family(model) == DIRECT:  # values in, values out: an RNN or a patch forecaster
            pred = model(past_values=batch["past_values"]).prediction
            return {"prediction": pred.float(), "example_index": batch["example_index"]}
        return {"generated": self.generate_ids(model, batch, tokenizer, **generate_kwargs),
                "example_index": batch["example_index"]}

    def parse(self, text: str, fallback: float) -> tuple[list[float], bool]:
        """The first ``horizon`` numbers in generated ``text``; pad with ``fallback``."""
        found = [float(x) for x in _NUMBER.findall(text)][: self.horizon]
        ok = len(found) == self.horizon
        return found + [fallback] * (self.horizon - len(found)), ok

    def compute_metrics(self, outputs, tokenizer=None, split="test") -> dict:
        wins = self.windows(split)
        index = _cat(outputs, "example_index").astype(int)
        failures = 0
        if "prediction" in outputs:
            pred = np.concatenate([np.asarray(a).reshape(len(a), -1) for a in outputs["prediction"]])
        else:
            if tokenizer is None:
                raise ValueError("forecasting metrics of an LLM need the tokenizer to decode generated ids")
            texts = tokenizer.batch_decode(np.concatenate(outputs["generated"]), skip_special_tokens=True)
            rows = []
            for text, i in zip(texts, index):
                values, ok = self.parse(text, fallback=wins[i][0][-1])
                failures += not ok
                rows.append(values)
            pred = np.asarray(rows)
        gold = np.asarray([wins[i][1] for i in index])
        full = self._row(split)["values"]
        season = self.season
        naive = np.asarray([[full[wins[i][2] + h - season * (1 + h // season)] for h in range(self.horizon)]
                            for i in index])
        err, nerr = pred - gold, naive - gold
        out = {"mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err ** 2))),
               "naive_mae": float(np.mean(np.abs(nerr))), "naive_rmse": float(np.sqrt(np.mean(nerr ** 2))),
               "num_windows": int(len(gold))}
        if "generated" in outputs:
            out["parse_failures"] = failures
        return out


def series_splits(series: dict[str, list[float]], seasons: dict[str, int], fractions=(0.8, 0.1, 0.1)) -> DatasetDict:
    """Chronological train / validation / test of each series (see ``ForecastingTask``)."""
    rows = {s: {"series": [], "values": [], "target_start": [], "season": []} for s in SPLITS}
    for name, values in series.items():
        n = len(values)
        if n < 10:
            raise DataError(f"series {name!r} has {n} values: at least 10 are needed")
        ends = {"train": round(fractions[0] * n), "validation": round((fractions[0] + fractions[1]) * n), "test": n}
        starts = {"train": 0, "validation": ends["train"], "test": ends["validation"]}
        for s in SPLITS:
            rows[s]["series"].append(name)
            rows[s]["values"].append([float(v) for v in values[: ends[s]]])
            rows[s]["target_start"].append(starts[s])
            rows[s]["season"].append(int(seasons.get(name, 1)))
    return DatasetDict({s: Dataset.from_dict(r) for s, r in rows.items()})
