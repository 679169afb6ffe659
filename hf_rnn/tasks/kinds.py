"""The lecture's five kinds of sequence task, each a ``Task`` with encoding and metrics.

=====================  ==============  ===================================================
kind                   lecture         what a model sees / is scored on
=====================  ==============  ===================================================
sequence-classification  sentiment     ids → one label; accuracy, macro-F1
token-classification   word labeling   ids → a label per word (first sub-token); accuracy
causal-lm              text generation  fixed-length blocks; bits per character
translation            translation     source → target text; BLEU, chrF (sacrebleu)
forecasting            time series     a window of values → the next ones; MAE, RMSE
=====================  ==============  ===================================================

Both families share one tokenizer by default, so classification and tagging inputs are
identical for an RNN and an LLM. Translation and forecasting differ by nature: an RNN
encoder-decoder reads the source and writes the target; a decoder-only LLM continues a
prompt, with the loss on the target tokens only.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import torch
from datasets import ClassLabel, Dataset, DatasetDict, Sequence, Value
from transformers import (
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    default_data_collator,
)

from hf_rnn.errors import DataError, InputError
from hf_rnn.generation import generate_batch, pad_id
from hf_rnn.tasks.base import DIRECT, SPLITS, Answer, Task, input_family
from hf_rnn.tasks.class_labels import check_classes, class_label, is_missing
from hf_rnn.tasks.example_views import LabelView, TagsView, TextBlocksView
from hf_rnn.tasks.kind_tools import (
    MAX_LABELS_WITH_PROBABILITIES,
    by_index,
    concat_batches,
    example_order,
    generated_answers,
    macro_f1,
    output_label_names,
    text_input,
    without_labels,
    word_input,
)
from hf_rnn.tasks.options import Option
from hf_rnn.tasks.sources import distinct_columns, pick_column, warn_dropped
from hf_rnn.tokenization import IGNORE_INDEX, encode_words, split_words

DEFAULT_MAX_LENGTH = 256


# =========================================================================== classification


# The zero-shot question for a classification task (the instruct LLM answers with a label word)
GENERIC_PROMPT = ("Classify the text as {labels}. Answer with one word.\n\nText: {text}", "Answer:")


class SequenceClassificationTask(Task):
    """Text → one label. Columns: ``text`` (str), ``label`` (ClassLabel).

    File options: ``text_column``, ``label_column``.
    """

    kind = "sequence-classification"
    paired_test = "mcnemar"
    examples = LabelView()
    columns = ("text", "label")
    accepts_forward = True
    app_output = "label"
    pipeline_tag = "text-classification"
    auto_class = "AutoModelForSequenceClassification"
    llm_head = True
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
        distinct_columns(where, text_column=text_col, label_column=label_col)
        feature = first.features[label_col]
        out = DatasetDict()
        if isinstance(feature, ClassLabel):
            cl = feature
            check_classes(list(cl.names), label_col, where)
            for split, ds in raw.items():
                out[split] = Dataset.from_dict(
                    {"text": list(ds[text_col]), "label": list(ds[label_col])},
                    features=_features_text_label(cl),
                )
        else:  # the classes of every split together: one id for one label in all of them
            all_labels = [v for ds in raw.values() for v in ds[label_col]]
            cl, ids = class_label(all_labels, label_col, where)
            start = 0
            for split, ds in raw.items():
                out[split] = Dataset.from_dict({"text": list(ds[text_col]), "label": ids[start:start + len(ds)]},
                                               features=_features_text_label(cl))
                start += len(ds)
        total = dropped = 0
        for split, ds in out.items():
            if any(not isinstance(t, str) for t in ds["text"]):
                raise DataError(f"{where}: column {text_col!r} must hold text (found non-string values)")
            out[split] = ds.filter(lambda r: bool(r["text"].strip()))
            total, dropped = total + len(ds), dropped + len(ds) - len(out[split])
        warn_dropped(where, dropped, total, f"with an empty text in column {text_col!r}")
        return out

    @staticmethod
    def _encode_texts(tokenizer, texts: list[str], max_length: int | None) -> dict[str, list[list[int]]]:
        """``input_ids`` and ``attention_mask`` of each text, cut to ``max_length`` tokens (default 256)."""
        enc = tokenizer(list(texts), truncation=True, max_length=max_length or DEFAULT_MAX_LENGTH)
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    def encode(self, tokenizer, encoding=DIRECT, splits=SPLITS, max_length=None, for_generation=False) -> DatasetDict:
        def tok(batch, idx):
            return {**self._encode_texts(tokenizer, batch["text"], max_length), "labels": batch["label"],
                    "example_index": idx}

        return DatasetDict({s: self.dataset[s].map(tok, batched=True, with_indices=True,
                                                   remove_columns=self.dataset[s].column_names)
                            for s in splits})

    def encode_inputs(self, tokenizer, inputs, encoding=DIRECT, max_length=None) -> list[dict[str, Any]]:
        texts = [text_input(t, self.name) for t in inputs]
        enc = self._encode_texts(tokenizer, texts, max_length)
        for text, ids in zip(texts, enc["input_ids"]):
            if not ids:
                raise InputError(f"{self.name}: the text {text!r} has no tokens to classify")
        return [{"input_ids": ids, "attention_mask": mask, "labels": 0}
                for ids, mask in zip(enc["input_ids"], enc["attention_mask"])]

    def example_inputs(self, split="test") -> list[str]:
        return list(self.dataset[split]["text"])

    def collator(self, tokenizer, encoding=DIRECT, for_generation=False):
        return DataCollatorWithPadding(tokenizer)

    def prediction_step(self, model, batch, tokenizer=None, forward=None, **_) -> dict[str, torch.Tensor]:
        """``forward``: called as the model is, instead of it (the app's forward pass that also keeps the
        attention maps: one pass for the answer and the maps)."""
        logits = (forward or model)(**without_labels(self.model_inputs(batch))).logits
        return {"predictions": logits.argmax(-1), "labels": batch["labels"], "example_index": batch["example_index"],
                "scores": logits.float()}

    def answers(self, model, outputs, inputs, tokenizer=None) -> list[Answer]:
        if any(np.asarray(s).ndim != 2 for s in outputs["scores"]):
            raise InputError(f"{self.name}: the model answers with scores per token, not per text: a "
                             "classification run or a zero-shot classifier answers here")
        scores = np.concatenate(outputs["scores"])  # [N, num_labels]
        names = output_label_names(self, model, scores.shape[1])
        probs = torch.from_numpy(scores).softmax(-1).tolist()
        return [Answer(dict(zip(names, p)), scores=[float(v) for v in s]) for p, s in zip(probs, scores)]

    def example_records(self, outputs, tokenizer=None, split="test") -> list[dict[str, Any]]:
        """Per text: ``index``, ``gold`` and ``pred`` label ids, and ``probs`` (the softmax of the scores, 4
        decimals) where the step kept scores for at most ``MAX_LABELS_WITH_PROBABILITIES`` labels."""
        pred, gold = concat_batches(outputs, "predictions"), concat_batches(outputs, "labels")
        index = example_order(outputs, len(gold))
        probs = None
        if "scores" in outputs and all(np.asarray(s).ndim == 2 for s in outputs["scores"]):
            scores = np.concatenate(outputs["scores"])  # [N, num_labels]
            if scores.shape[1] <= MAX_LABELS_WITH_PROBABILITIES:
                probs = torch.from_numpy(scores).float().softmax(-1).tolist()
        return by_index([{"index": int(i), "gold": int(g), "pred": int(p),
                          **({"probs": [round(v, 4) for v in probs[k]]} if probs is not None else {})}
                         for k, (i, g, p) in enumerate(zip(index, gold, pred))])

    def compute_metrics(self, outputs, tokenizer=None, split="test") -> dict:
        pred, gold = concat_batches(outputs, "predictions"), concat_batches(outputs, "labels")
        return {"accuracy": float(np.mean(pred == gold)),
                "macro_f1": macro_f1(pred, gold, len(self.label_names)),
                "num_examples": int(len(gold))}


    # ------------------------------------------------------------------ the app, the references, the card
    @classmethod
    def app_display(cls, output, text=None, series=None):
        return dict(output)

    @classmethod
    def answer_line(cls, output) -> str:
        return "—" if output is None else "{} ({:.2f})".format(*max(output.items(), key=lambda kv: kv[1]))

    def app_answer(self, request, raw_input) -> None:
        """Label probabilities of a classifier run, or of an LLM asked the task's question (the zero-shot
        LLM, a prompt-trained run: ``request.prompt_classifier()``); the answer's forward pass keeps the maps."""
        lm, pred, text, asked = request.lm, request.pred, raw_input, request.prompt_classifier()
        if asked is None:  # a classifier run: its one forward pass, with the maps
            return super().app_answer(request, raw_input)
        template = asked.prompt_ids("")
        room, reason = request.limit(overhead=len(template), reserve=1)
        text = request.cut_text(text, room, reason)

        def with_maps(input_ids, attention_mask=None, **_):  # the prompt read once: the answer and the maps
            ids = asked.prompt_ids(asked.texts_from_ids(input_ids, attention_mask)[0])
            start = request.common_prefix(template, ids)
            # the question's head is the same for every text (its last token may merge with the text's first)
            out, pred.maps = request.self_attention(ids, text, input_start=start, head_ids=ids[: max(start - 1, 0)],
                                                    logits_to_keep=1)
            return SimpleNamespace(logits=asked.label_scores(out.logits[:, -1]))
        answer = self.predict(asked, lm.tokenizer, [text], max_length=room, forward=with_maps)[0]
        pred.output = answer.output
        share, how = float(np.exp(answer.scores).sum()), ("prompt-trained" if getattr(
            asked, "answers_with_label_words", False) else "zero-shot")
        pred.notices.append(f"{how}: {f'{100 * share:.0f}%' if share >= 0.01 else 'under 1%'} of the next-token "
                            "probability is on the label words")

    def references(self) -> list:
        from hf_rnn.comparison.references import majority_class
        return [majority_class(self)]


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
    paired_test = "sentence-permutation"
    examples = TagsView()
    app_output = "tags"
    app_prompt_maps = False
    pipeline_tag = "token-classification"
    auto_class = "AutoModelForTokenClassification"
    llm_head = True
    accepts_forward = True
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
        distinct_columns(where, tokens_column=tok_col, tags_column=tag_col)
        feature = first.features[tag_col]
        inner = getattr(feature, "feature", None)
        if isinstance(inner, ClassLabel):
            names = list(inner.names)
            as_ids = True
        else:
            values = {t for ds in raw.values() for tags in ds[tag_col] for t in tags}
            if not all(isinstance(t, str) for t in values):
                raise DataError(f"{where}: tags in column {tag_col!r} must be strings or class ids")
            if any(is_missing(t) for t in values):
                split, i = next((s, i) for s, ds in raw.items() for i, tags in enumerate(ds[tag_col])
                                if any(is_missing(t) for t in tags))
                raise DataError(f"{where}: row {i} of {split} has an empty or missing tag in column {tag_col!r}: "
                                "every word needs a tag")
            # compared without surrounding spaces: " NN" and "NN" are one tag
            names, as_ids = sorted({t.strip() for t in values}), False
        check_classes(names, tag_col, where)
        index = {n: i for i, n in enumerate(names)}
        features = _features_tokens_tags(names)
        out = DatasetDict()
        total = dropped = 0
        for split, ds in raw.items():
            tokens, tags = list(ds[tok_col]), list(ds[tag_col])
            for i, (w, t) in enumerate(zip(tokens, tags)):
                if len(w) != len(t):
                    raise DataError(f"{where}: row {i} of {split} has {len(w)} tokens but {len(t)} tags")
            ids = tags if as_ids else [[index[t.strip()] for t in row] for row in tags]
            out[split] = Dataset.from_dict({"tokens": tokens, "tags": ids}, features=features).filter(
                lambda r: len(r["tokens"]) > 0)
            total, dropped = total + len(tokens), dropped + len(tokens) - len(out[split])
        warn_dropped(where, dropped, total, f"with no words in column {tok_col!r}")
        return out

    def _encode_words(self, tokenizer, words: list[str], tags: list[int], max_length: int | None) -> dict:
        """One sentence's ``input_ids``, ``attention_mask`` and ``labels`` (each word's tag at its first
        sub-token, ``IGNORE_INDEX`` elsewhere), twice over with the ``repeat_input`` option."""
        enc = encode_words(tokenizer, words, tags, max_length=max_length or DEFAULT_MAX_LENGTH,
                           repeat=bool(self.options.get("repeat_input")))
        enc.pop("word_ids")
        return enc

    def encode(self, tokenizer, encoding=DIRECT, splits=SPLITS, max_length=None, for_generation=False) -> DatasetDict:
        def tok(row, idx):
            return {**self._encode_words(tokenizer, row["tokens"], row["tags"], max_length), "example_index": idx}

        return DatasetDict({s: self.dataset[s].map(tok, with_indices=True, remove_columns=self.dataset[s].column_names)
                            for s in splits})

    def encode_inputs(self, tokenizer, inputs, encoding=DIRECT, max_length=None) -> list[dict[str, Any]]:
        # tag 0 for every word: the labels mark which positions are read back (each word's first sub-token)
        return [self._encode_words(tokenizer, words, [0] * len(words), max_length)
                for words in (word_input(w, self.name) for w in inputs)]

    def example_inputs(self, split="test") -> list[list[str]]:
        return [list(t) for t in self.dataset[split]["tokens"]]

    def collator(self, tokenizer, encoding=DIRECT, for_generation=False):
        return DataCollatorForTokenClassification(tokenizer, label_pad_token_id=IGNORE_INDEX)

    def prediction_step(self, model, batch, tokenizer=None, forward=None, **_) -> dict[str, torch.Tensor]:
        """``forward``: called as the model is, instead of it (see the classification kind's)."""
        logits = (forward or model)(**without_labels(self.model_inputs(batch))).logits
        if logits.dim() != 3:
            raise InputError(f"{self.name}: the model answers with one score vector per text, not per token: a "
                             "tagging run answers here")
        out = {"predictions": logits.argmax(-1), "labels": batch["labels"],
               "num_labels": torch.full((len(logits), 1), logits.shape[-1])}
        if "example_index" in batch:  # which sentence each row is: a paired test resamples whole sentences
            out["example_index"] = batch["example_index"]
        return out

    def answers(self, model, outputs, inputs, tokenizer=None) -> list[Answer]:
        names = output_label_names(self, model, int(np.asarray(outputs["num_labels"][0]).ravel()[0]))
        read = (row[gold != IGNORE_INDEX] for pred, labels in zip(outputs["predictions"], outputs["labels"])
                for row, gold in zip(pred, labels))  # each word's tag id, words in order
        result = []
        for words, tags in zip((word_input(w, self.name) for w in inputs), read):
            answer = Answer([(w, names[int(t)]) for w, t in zip(words, tags)])
            if len(tags) < len(words):
                answer.notices.append(f"{len(tags)} of {len(words)} words fit the input's token limit and are "
                                      "labelled.")
            result.append(answer)
        return result

    # ------------------------------------------------------------------ the app, the references, the card
    @classmethod
    def app_input_problem(cls, text: str) -> str | None:
        return None if split_words(text) else "No words to label in the input."

    @classmethod
    def app_display(cls, output, text=None, series=None):
        """Words with their tags, a space between words (the page's highlighted text)."""
        return [span for i, pair in enumerate(output) for span in ([(" ", None)] if i else []) + [tuple(pair)]]

    @classmethod
    def answer_line(cls, output) -> str:
        return "—" if output is None else " ".join(f"{w}/{t}" for w, t in output)

    def app_answer(self, request, raw_input) -> None:
        """A tag per word (``[(word, tag), ...]``: each word's first token), the words that fit."""
        lm, pred = request.lm, request.pred
        if lm.kind == "causal":
            raise InputError("a causal LM cannot label words here; pick a tagging run")
        words = split_words(raw_input)
        room, reason = request.limit()
        answer = self.predict(lm.model, lm.tokenizer, [words], max_length=room,
                              forward=request.keeping_maps(" ".join(words)))[0]
        kept = [w for w, _ in answer.output]
        if len(kept) < len(words):
            def tokens(most):
                return len(self.encode_inputs(lm.tokenizer, [words], input_family(lm.model), most)[0]["input_ids"])
            twice = " (the sentence read twice, as in training)" if self.options.get("repeat_input") else ""
            pred.notices.append(f"The input takes {tokens(10**9):,} tokens{twice}; {tokens(room):,} were used "
                                f"({reason}): {len(kept)} of {len(words)} words are labelled.")
            if pred.maps is not None:
                pred.maps.text = " ".join(kept)
        pred.output = answer.output

    def references(self) -> list:
        from hf_rnn.comparison.references import most_frequent_tag
        return [most_frequent_tag(self)]

    def example_records(self, outputs, tokenizer=None, split="test") -> list[dict[str, Any]]:
        """Per sentence: ``index``, the ``gold`` and ``pred`` tag ids of its scored words (the positions labelled
        ``IGNORE_INDEX`` dropped: later sub-tokens, padding), so a test can resample whole sentences."""
        rows = [(pred_row[gold_row != IGNORE_INDEX], gold_row[gold_row != IGNORE_INDEX])
                for pred, labels in zip(outputs["predictions"], outputs["labels"])
                for pred_row, gold_row in zip(np.asarray(pred).reshape(len(pred), -1),
                                              np.asarray(labels).reshape(len(labels), -1))]
        index = example_order(outputs, len(rows))
        return by_index([{"index": int(i), "gold": [int(t) for t in g], "pred": [int(t) for t in p]}
                         for i, (p, g) in zip(index, rows)])

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
    paired_test = "block-permutation"
    examples = TextBlocksView()
    columns = ("text",)
    app_new_tokens = True
    app_needs_data = False
    pipeline_tag = "text-generation"
    auto_class = "AutoModelForCausalLM"
    option_specs = {"text_column": Option(str, "the column of passages")}
    metric_names = ("bpc", "perplexity", "loss")
    primary_metric = "bpc"
    greater_is_better = False
    default_block_size = 128

    @classmethod
    def standardize(cls, raw: DatasetDict, text_column: str | None = None, **_: Any) -> DatasetDict:
        first = raw[next(iter(raw))]
        where = f"{cls.name} data"
        col = pick_column(first.column_names, text_column, ("text", "content", "line", "passage"), "text",
                          "text_column", where)
        out = DatasetDict({s: Dataset.from_dict({"text": [t for t in ds[col] if isinstance(t, str) and t.strip()]})
                           for s, ds in raw.items()})
        total = sum(len(ds) for ds in raw.values())
        warn_dropped(where, total - sum(len(ds) for ds in out.values()), total,
                     f"with an empty text (or no text) in column {col!r}")
        return out

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

    def too_small_message(self, split: str, tokenizer, max_length: int | None) -> str:
        block = max_length or self.default_block_size
        texts = list(self.dataset[split]["text"])
        tokens = sum(len(ids) + 1 for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]) if texts else 0
        # a split of many passages is cut in batches of 1,000: each batch's remainder is dropped
        return (f"{self.name}: the {split} split is too small: its {len(texts)} passage(s) make {tokens} tokens, "
                f"and a split needs at least one block of {block} tokens (training.max_length) to "
                f"{'train on' if split == 'train' else 'be scored'}; give it more text, or lower training.max_length")

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
        if "example_index" in batch:  # which block each row is (per-example records)
            out["example_index"] = batch["example_index"]
        return out

    # ------------------------------------------------------------------ continuations

    # a continuation's length when ``predict`` is given none (the app's and the report's)
    max_new_tokens: ClassVar[int] = 24
    # the continuation a reader is shown does not loop on a phrase (greedy search does, on a small model)
    continuation_options: ClassVar[dict[str, Any]] = {"no_repeat_ngram_size": 3}
    # a test passage's first words: the prompt ``example_inputs`` gives (the comparison times its continuation)
    prompt_words: ClassVar[int] = 12

    def encode_inputs(self, tokenizer, inputs, encoding=DIRECT, max_length=None) -> list[dict[str, Any]]:
        rows = []
        for text in inputs:
            ids = tokenizer(text_input(text, self.name), add_special_tokens=False, truncation=max_length is not None,
                            max_length=max_length)["input_ids"]
            if not ids:
                raise InputError(f"{self.name}: the prompt {text!r} has no tokens to continue")
            rows.append({"input_ids": list(ids), "attention_mask": [1] * len(ids)})
        return rows

    def example_inputs(self, split="test") -> list[str]:
        """Each passage's first ``prompt_words`` words: a prompt to continue."""
        return [" ".join(t.split()[: self.prompt_words]) for t in self.dataset[split]["text"]]

    def answer_step(self, model, batch, tokenizer=None, **generate_kwargs) -> dict[str, torch.Tensor]:
        """The prompt's greedy continuation [B, max_new_tokens] (pad after its end)."""
        options = {**self.continuation_options, **generate_kwargs}
        max_new = options.pop("max_new_tokens", self.max_new_tokens)
        return {"generated": generate_batch(model, self.model_inputs(batch), tokenizer, max_new_tokens=max_new,
                                            **options)}

    def answers(self, model, outputs, inputs, tokenizer=None) -> list[Answer]:
        # as generated: a continuation's leading space separates it from the prompt
        return generated_answers(outputs, tokenizer, pad_id(model, tokenizer), strip=False)

    def predict(self, model, tokenizer, inputs, *, max_length=None, batch_size=None, **generate_kwargs):
        """As ``Task.predict``, one prompt at a time whatever ``batch_size`` says (prompts of different lengths
        would need padding, which an RNN language model reads as text)."""
        return super().predict(model, tokenizer, inputs, max_length=max_length, batch_size=1, **generate_kwargs)

    @classmethod
    def app_display(cls, output, text=None, series=None):
        """The prompt, then its continuation."""
        return (text.strip() if text is not None else "") + str(output)

    def app_answer(self, request, raw_input) -> None:
        """The text's greedy continuation (``request.max_new_tokens`` at most), the maps over prompt and answer."""
        lm, pred, n_new = request.lm, request.pred, request.max_new_tokens
        if lm.kind == "head":
            raise InputError("this run has a classification head, not a language-model head")
        room, reason = request.limit(reserve=n_new)
        ids = request.cut_ids(list(lm.tokenizer(raw_input, add_special_tokens=False)["input_ids"]), room, reason)
        if not ids:
            raise InputError("the input has no tokens for this model")
        answer = self.predict(lm.model, lm.tokenizer, [raw_input], max_length=room, max_new_tokens=n_new)[0]
        pred.output = answer.output
        request.forward(ids + answer.token_ids, raw_input, prompt_length=len(ids))

    def references(self) -> list:
        from hf_rnn.comparison.references import char_ngram
        return [char_ngram(self)]

    def example_records(self, outputs, tokenizer=None, split="test") -> list[dict[str, Any]]:
        """Per block: ``index``, ``bits`` (the summed negative log-likelihood of its predicted tokens, in bits),
        ``chars`` (the characters they spell: bpc's denominator, absent without ``n_chars``) and ``tokens``."""
        bits = concat_batches(outputs, "loss_sum") / math.log(2)
        tokens = concat_batches(outputs, "n_tokens")
        chars = concat_batches(outputs, "n_chars") if "n_chars" in outputs else None
        index = example_order(outputs, len(bits))
        return by_index([{"index": int(i), "bits": round(float(b), 4), "tokens": int(t),
                          **({"chars": int(chars[k])} if chars is not None else {})}
                         for k, (i, b, t) in enumerate(zip(index, bits, tokens))])

    def compute_metrics(self, outputs, tokenizer=None, split="test") -> dict:
        total = float(np.sum(concat_batches(outputs, "loss_sum")))
        n = float(np.sum(concat_batches(outputs, "n_tokens")))
        loss = total / max(n, 1.0)
        out = {"perplexity": float(math.exp(min(loss, 50.0))), "loss": loss, "num_tokens": int(n)}
        if "n_chars" in outputs:
            n_chars = float(np.sum(concat_batches(outputs, "n_chars")))
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
