"""The two kinds scored on generated output: translation (text → text) and forecasting (values → values).

An RNN reads the task's own inputs (a source sentence, a window of values) and writes the target; a decoder-only
LLM continues a chat prompt with the target, the loss on the target tokens only (``_PromptedGenerationMixin``).
"""

from __future__ import annotations

import math
import re
import warnings
from typing import Any, ClassVar

import numpy as np
import torch
from datasets import Dataset, DatasetDict
from transformers import DataCollatorForSeq2Seq, default_data_collator

from hf_rnn.errors import DataError, InputError
from hf_rnn.generation import generate_batch, pad_id
from hf_rnn.tasks.base import DIRECT, PROMPTED, SPLITS, Answer, Task, input_family
from hf_rnn.tasks.example_views import ForecastView, TranslationView
from hf_rnn.tasks.kind_tools import by_index, concat_batches, generated_answers, left_padding, unicode_text
from hf_rnn.tasks.options import Option
from hf_rnn.tasks.sources import distinct_columns, pick_column, warn_dropped
from hf_rnn.tokenization import IGNORE_INDEX, chat_prompt_ids, ids_with_eos

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
            tokenizer = left_padding(tokenizer)
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
    paired_test = "sacrebleu"
    examples = TranslationView()
    answer_min_new_tokens = 16
    columns = ("source", "target")
    pipeline_tag = "translation"
    auto_class = "AutoModelForSeq2SeqLM"
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
            if source_lang == target_lang:
                raise DataError(f"{where}: source_lang and target_lang are both {source_lang!r}: a translation "
                                "needs two languages")
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
            distinct_columns(where, source_column=src, target_column=tgt)
            for s, ds in raw.items():
                out[s] = Dataset.from_dict({"source": list(ds[src]), "target": list(ds[tgt])})
        total = dropped = 0
        for s, ds in out.items():
            if any(not isinstance(v, str) for v in [*ds["source"], *ds["target"]]):
                raise DataError(f"{where}: source and target columns must hold text")
            out[s] = ds.filter(lambda r: bool(r["source"].strip()) and bool(r["target"].strip()))
            total, dropped = total + len(ds), dropped + len(ds) - len(out[s])
        warn_dropped(where, dropped, total, "with an empty source or target")
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

    def _encode_pair(self, tokenizer, encoding: str, source: str, target: str, max_length: int | None,
                     for_generation: bool) -> dict[str, list[int]]:
        """An encoder-decoder's source + eos and target + eos (``DIRECT``), or an LLM's chat prompt, then the
        target unless ``for_generation`` (``PROMPTED``); at most ``max_length`` tokens a side (default 128)."""
        max_length = max_length or 128
        if encoding == DIRECT:
            src = ids_with_eos(tokenizer, source, max_length)
            tgt = ids_with_eos(tokenizer, target, max_length)
            return {"input_ids": src, "attention_mask": [1] * len(src), "labels": tgt}
        return self._encode_prompted(tokenizer, self.prompt(source), target, max_length, for_generation)

    def encode(self, tokenizer, encoding=DIRECT, splits=SPLITS, max_length=None, for_generation=False) -> DatasetDict:
        def tok(row, idx):
            return {**self._encode_pair(tokenizer, encoding, row["source"], row["target"], max_length,
                                        for_generation), "example_index": idx}

        return DatasetDict({s: self.dataset[s].map(tok, with_indices=True, remove_columns=self.dataset[s].column_names)
                            for s in splits})

    def encode_inputs(self, tokenizer, inputs, encoding=DIRECT, max_length=None) -> list[dict[str, Any]]:
        rows = []
        for source in inputs:
            if isinstance(source, str):
                unicode_text(source, self.name)
            if not isinstance(source, str) or not tokenizer(source, add_special_tokens=False)["input_ids"]:
                raise InputError(f"{self.name}: each input must be a text with tokens to translate, "
                                 f"not {source!r}")
            if encoding == PROMPTED:  # the whole prompt, or an error: a prompt cut from the left loses its instruction
                rows.append(_whole_prompt(self, tokenizer, self.prompt(source), max_length))
            else:
                rows.append(self._encode_pair(tokenizer, encoding, source, "", max_length, for_generation=True))
        return rows

    def example_inputs(self, split="test") -> list[str]:
        return list(self.dataset[split]["source"])

    def answers(self, model, outputs, inputs, tokenizer=None) -> list[Answer]:
        return generated_answers(outputs, tokenizer, pad_id(model, tokenizer))

    def model_inputs(self, batch):
        return {k: v for k, v in batch.items() if k != "example_index"}

    def prediction_step(self, model, batch, tokenizer=None, **generate_kwargs) -> dict[str, torch.Tensor]:
        return {"generated": self.generate_ids(model, batch, tokenizer, **generate_kwargs),
                "example_index": batch["example_index"]}

    def _hypotheses(self, outputs, tokenizer, split: str) -> tuple[np.ndarray, list[str], list[str]]:
        """The gathered rows' ``example_index``, decoded translations and references, in gathered order."""
        if tokenizer is None:
            raise ValueError("translation metrics need the tokenizer to decode generated ids")
        generated = np.concatenate(outputs["generated"])
        index = concat_batches(outputs, "example_index").astype(np.int64)
        hyps = [t.strip() for t in tokenizer.batch_decode(generated, skip_special_tokens=True)]
        targets = self.dataset[split]["target"]
        return index, hyps, [targets[int(i)] for i in index]

    def compute_metrics(self, outputs, tokenizer=None, split="test") -> dict:
        _, hyps, refs = self._hypotheses(outputs, tokenizer, split)
        return score_translations(hyps, refs)

    def example_records(self, outputs, tokenizer=None, split="test") -> list[dict[str, Any]]:
        """Per pair: ``index``, the hypothesis ``hyp`` and the reference ``ref`` (sacrebleu's paired tests
        rescore the corpus from them)."""
        index, hyps, refs = self._hypotheses(outputs, tokenizer, split)
        return by_index([{"index": int(i), "hyp": h, "ref": r} for i, h, r in zip(index, hyps, refs)])


    def score_hypotheses(self, hypotheses: list[str], references: list[str]) -> dict:
        """The task's metrics of translations made elsewhere (a reference's), one reference each."""
        return score_translations(hypotheses, references)

    def references(self) -> list:
        from hf_rnn.comparison.references import apertium

        found = apertium(self)
        return [found] if found is not None else []

    def app_answer(self, request, raw_input) -> None:
        """The translation: an encoder-decoder (an RNN) with its alignment, or an LLM prompted as the task
        prompts it in training, with its self-attention over prompt and answer."""
        lm, pred, text, tok = request.lm, request.pred, raw_input, request.lm.tokenizer
        n_new = max(request.max_new_tokens, self.answer_min_new_tokens)
        if lm.kind == "direct":  # an encoder-decoder: the source in, the target out
            room, reason = request.limit(reserve=1)
            whole = list(tok(text, add_special_tokens=False)["input_ids"])
            src = request.cut_ids(whole, room, reason)
            if not src:
                raise InputError("the input has no tokens for this model")
            # the source and its eos: room + 1 tokens
            pred.output = self.predict(lm.model, tok, [text], max_length=room + 1, max_new_tokens=n_new)[0].output
            try:  # the decoder-over-encoder alignment, where the model has attention
                pred.maps = lm.family.attention_maps(lm.model, tok, tok.decode(src) if len(src) < len(whole) else text,
                                                     target_text=pred.output)
                pred.maps.model_name = lm.name
            except InputError:  # it has none: say why
                request.no_maps()
            return
        if lm.kind == "head":
            raise InputError("this run has a classification head, not a language-model head")
        template = self.prompt_ids(tok, self.prompt(""))
        room, reason = request.limit(overhead=len(template), reserve=n_new)
        text = request.cut_text(text, room, reason)  # so the whole prompt fits: predict keeps it whole
        answer = self.predict(lm.model, tok, [text], max_new_tokens=n_new)[0]
        pred.output = answer.output
        ids = self.encode_inputs(tok, [text], PROMPTED)[0]["input_ids"]
        request.forward(ids + answer.token_ids, text, prompt_length=len(ids),
                        input_start=request.common_prefix(template, ids))


def _whole_prompt(task, tokenizer, prompt: str, max_length: int | None) -> dict[str, list[int]]:
    """A prompted model's input for generation: the whole chat prompt, at most ``max_length`` tokens."""
    ids = task.prompt_ids(tokenizer, prompt)
    if max_length is not None and len(ids) > max_length:
        raise InputError(f"{task.name}: the prompt has {len(ids)} tokens, more than max_length={max_length}: "
                         "shorten the input or raise max_length")
    return {"input_ids": ids, "attention_mask": [1] * len(ids)}


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
    paired_test = "diebold-mariano"
    examples = ForecastView()
    columns = ("series", "values", "target_start", "season")
    app_input = "window"
    reads_text = False
    app_output = "line"
    pipeline_tag = "time-series-forecasting"
    auto_class = "AutoModelForTimeSeriesPrediction"
    option_specs = {"value_column": Option(str, "the column of values"),
                    "date_column": Option(str, "the column of dates (or years, steps) the rows are sorted by"),
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
                row = self._row(s)
                need = max(row["target_start"], self.context_length) + self.horizon
                raise DataError(f"{self.name}: the {s} split of {self.series!r} is too short for "
                                f"context_length={self.context_length} + horizon={self.horizon}: one window needs "
                                f"{need} values up to the split's end, it has {len(row['values'])}; give a longer "
                                "series or a smaller context_length")

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
    def standardize(cls, raw: DatasetDict, value_column: str | None = None, season: int = 1,
                    date_column: str | None = None, **_: Any) -> DatasetDict:
        first = raw[next(iter(raw))]
        where = f"{cls.name} data"
        col = pick_column(first.column_names, value_column, ("value", "values", "y", "target"), "value",
                          "value_column", where)
        date_col = _date_column(first.column_names, date_column, col, where)
        values: list[float] = []
        dates: list[Any] = []
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
            if date_col is not None:
                dates.extend(ds[date_col])
        if date_col is not None:
            values = _in_date_order(values, dates, date_col, where)
        check_series(values, col, where)
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

    @classmethod
    def without_data(cls, **options: Any):
        raise DataError(f"{cls.name}: a forecasting task needs its series (the prompt names it and the windows "
                        "come from it): load it with hf_rnn.load_task")

    def encode_inputs(self, tokenizer, inputs, encoding=DIRECT, max_length=None) -> list[dict[str, Any]]:
        rows = []
        for past in inputs:
            past = self._window(past)
            if encoding == DIRECT:
                rows.append({"past_values": past, "future_values": [0.0] * self.horizon})
            else:
                rows.append(_whole_prompt(self, tokenizer, self.prompt(past), max_length))
        return rows

    def _window(self, past: Any) -> list[float]:
        try:
            values = [float(v) for v in past]
        except (TypeError, ValueError):
            raise InputError(f"{self.name}: each input must be a window of numbers, not {past!r}") from None
        if len(values) != self.context_length or not all(math.isfinite(v) for v in values):
            raise InputError(f"{self.name}: each window must hold {self.context_length} finite values (the "
                             f"context_length); one has {len(values)}")
        return values

    def example_inputs(self, split="test") -> list[list[float]]:
        return [past for past, _, _ in self.windows(split)]

    def answers(self, model, outputs, inputs, tokenizer=None) -> list[Answer]:
        pasts = [self._window(p) for p in inputs]
        if "prediction" in outputs:  # values in, values out
            rows = [r.reshape(-1)[: self.horizon] for batch in outputs["prediction"] for r in batch]
            return [Answer([float(v) for v in r]) for r in rows]
        result = []
        for answer, past in zip(generated_answers(outputs, tokenizer, pad_id(model, tokenizer)), pasts):
            text = answer.output
            answer.output, ok = self.parse(text, fallback=past[-1])
            if not ok:
                answer.notices.append(f"no number in the answer {text.strip()[:40]!r}: the last value is used "
                                      "as the forecast")
            result.append(answer)
        return result

    @classmethod
    def app_display(cls, output, text=None, series=None):
        """Each forecast value, with the truth and the error where the window's ``series`` has them."""
        truth = (series or {}).get("truth") or []
        return "\n".join(f"forecast {v:.1f}" + (f" · truth {truth[k]:.1f} · error {v - truth[k]:+.1f}"
                                                if k < len(truth) else "") for k, v in enumerate(output))

    @classmethod
    def answer_line(cls, output) -> str:
        return "—" if output is None else ", ".join(f"{v:.1f}" for v in output)

    def references(self) -> list:
        from hf_rnn.comparison.references import seasonal_naive

        return [seasonal_naive(self)]

    def app_answer(self, request, raw_input) -> None:
        """The forecast of the ``horizon`` values after the window ``raw_input`` (the values the model reads)."""
        lm, pred, past = request.lm, request.pred, raw_input
        if lm.kind == "direct":  # a window of values in, values out
            pred.output = self.predict(lm.model, lm.tokenizer, [past])[0].output
            request.no_maps()
            return
        if lm.kind != "causal":
            raise InputError("this run has a classification head, not a forecaster")
        tok = lm.tokenizer
        ids = self.encode_inputs(tok, [past], PROMPTED)[0]["input_ids"]
        if lm.context is not None and len(ids) + self.max_new_tokens > lm.context:
            raise InputError(f"the window's prompt ({len(ids)} tokens) does not fit {lm.name}'s context "
                             f"of {lm.context} tokens")
        answer = self.predict(lm.model, tok, [past])[0]
        pred.output = answer.output
        pred.notices.extend(answer.notices)
        template = self.prompt_ids(tok, self.prompt_head())
        request.forward(ids + answer.token_ids, self.prompt(past), prompt_length=len(ids),
                        input_start=request.common_prefix(template, ids))

    def parse(self, text: str, fallback: float) -> tuple[list[float], bool]:
        """The first ``horizon`` numbers in generated ``text``; pad with ``fallback``."""
        found = [float(x) for x in _NUMBER.findall(text)][: self.horizon]
        ok = len(found) == self.horizon
        return found + [fallback] * (self.horizon - len(found)), ok

    def _forecasts(self, outputs, tokenizer, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The gathered rows' ``example_index`` [N], forecasts and truths [N, horizon], and whether each forecast
        was read whole [N] (an LLM's text may hold too few numbers: the last value fills in)."""
        wins = self.windows(split)
        index = concat_batches(outputs, "example_index").astype(int)
        if "prediction" in outputs:
            pred = np.concatenate([np.asarray(a).reshape(len(a), -1) for a in outputs["prediction"]])
            parsed = np.ones(len(pred), dtype=bool)
        else:
            if tokenizer is None:
                raise ValueError("forecasting metrics of an LLM need the tokenizer to decode generated ids")
            texts = tokenizer.batch_decode(np.concatenate(outputs["generated"]), skip_special_tokens=True)
            read = [self.parse(text, fallback=wins[i][0][-1]) for text, i in zip(texts, index)]
            pred = np.asarray([values for values, _ in read])
            parsed = np.asarray([ok for _, ok in read], dtype=bool)
        gold = np.asarray([wins[i][1] for i in index])
        return index, pred, gold, parsed

    def example_records(self, outputs, tokenizer=None, split="test") -> list[dict[str, Any]]:
        """Per window: ``index``, the forecast ``pred`` and the ``true`` values (``horizon`` each); ``parsed``:
        false where an LLM's text held too few numbers."""
        index, pred, gold, parsed = self._forecasts(outputs, tokenizer, split)
        return by_index([{"index": int(i), "pred": [round(float(v), 6) for v in p], "true": [float(v) for v in g],
                          **({} if ok else {"parsed": False})}
                         for i, p, g, ok in zip(index, pred, gold, parsed)])

    def compute_metrics(self, outputs, tokenizer=None, split="test") -> dict:
        index, pred, gold, parsed = self._forecasts(outputs, tokenizer, split)
        wins = self.windows(split)
        failures = int((~parsed).sum())
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


# What the models compute in: float32, where each window is scaled by its standard deviation (the square of a
# deviation overflows above ~1.8e19); values up to 1e15 leave room for a window's sum of squares
MAX_SERIES_VALUE = 1e15
# the column names read as a series' dates when no date_column is given
DATE_COLUMNS = ("date", "time", "timestamp", "datetime", "ds", "year", "month", "week", "day", "period")


def _date_column(columns: list[str], wanted: str | None, value_column: str, where: str) -> str | None:
    """The column of dates the rows are sorted by: ``wanted``, else the one date-like name (none: file order)."""
    if wanted is not None:
        found = pick_column(columns, wanted, DATE_COLUMNS, "dates", "date_column", where)
        distinct_columns(where, value_column=value_column, date_column=found)
        return found
    found = [c for c in columns if c.lower() in DATE_COLUMNS and c != value_column]
    if len(found) > 1:
        warnings.warn(f"{where}: several date-like columns {found}; the rows are kept in the file's order "
                      "(name the one to sort by with date_column=COLUMN)", UserWarning, stacklevel=4)
    return found[0] if len(found) == 1 else None


def _in_date_order(values: list[float], dates: list[Any], column: str, where: str) -> list[float]:
    """``values`` sorted by ``dates`` (numbers, or text pandas reads as dates); a repeated or missing date is a
    ``DataError``: a series has one value per date."""
    import pandas as pd

    if all(isinstance(d, (int, float, np.integer, np.floating)) and not isinstance(d, bool) for d in dates):
        keys = [float(d) for d in dates]
        bad = next((i for i, k in enumerate(keys) if not math.isfinite(k)), None)
    else:
        try:
            parsed = pd.to_datetime(pd.Series([None if d is None else str(d) for d in dates]), format="mixed")
        except (ValueError, TypeError, OverflowError) as e:
            raise DataError(f"{where}: column {column!r} is not dates ({str(e).splitlines()[0]}); name the date "
                            "column with date_column=COLUMN") from None
        keys = [None if pd.isna(t) else t.value for t in parsed]
        bad = next((i for i, k in enumerate(keys) if k is None), None)
    if bad is not None:
        raise DataError(f"{where}: row {bad} has no date in column {column!r} ({dates[bad]!r}): every value needs one")
    order = sorted(range(len(keys)), key=keys.__getitem__)  # stable
    for a, b in zip(order, order[1:]):
        if keys[a] == keys[b]:
            raise DataError(f"{where}: the date {dates[a]!r} in column {column!r} repeats (rows {min(a, b)} and "
                            f"{max(a, b)}): a series has one value per date (one file per series)")
    if order != sorted(order):
        warnings.warn(f"{where}: the rows were not in date order; they are sorted by column {column!r}",
                      UserWarning, stacklevel=4)
    return [values[i] for i in order]


def check_series(values: list[float], column: str, where: str) -> None:
    """A series a model can learn from: values a float32 model can scale, and not all the same."""
    big = next((i for i, v in enumerate(values) if abs(v) > MAX_SERIES_VALUE), None)
    if big is not None:
        raise DataError(f"{where}: row {big} of column {column!r} is {values[big]:g}, beyond {MAX_SERIES_VALUE:g}: "
                        "the models compute in float32, where scaling such values overflows; rescale the series "
                        "(e.g. divide it by a power of ten)")
    if values and min(values) == max(values):
        raise DataError(f"{where}: all {len(values)} values of column {column!r} are {values[0]:g}: a constant "
                        "series has nothing to forecast")


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
