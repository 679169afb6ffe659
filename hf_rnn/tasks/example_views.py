"""How a kind's per-example test predictions read in a report: which examples two models disagree on.

Each kind's records (``predictions.jsonl.gz``, ``hf_rnn.runs.predictions``) hold what its metric needs per test
example. A kind names its view (``Task.examples``): how close one record is to the truth (``score``, or ``None``:
no examples shown), and how its input, its truth and a model's answer read in a table cell. The report
(``hf_rnn.report.verdict.disagreements``) picks the widest gaps each way through it, whatever the kind.
"""

from __future__ import annotations

from typing import Any


def _label(task: Any, i: int) -> str:
    names = getattr(task, "label_names", None) if task is not None else None
    return names[i] if names and 0 <= i < len(names) else str(i)


def _test_row(task: Any, index: int) -> dict[str, Any] | None:
    return task.dataset["test"][index] if task is not None else None


def _numbers(values) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


class ExampleView:
    """A kind without disagreement examples (the default of a new kind): nothing is scored."""

    exact = False  # right or wrong outright (a label), else closer or further from the truth
    lower_is_better = False  # ``score`` is an error
    no_examples = ""  # where ``score`` is None: why the report shows no examples (said under its paired tests)

    def score(self, record: dict[str, Any]) -> float | None:
        return None

    def input_text(self, task: Any, index: int) -> str:
        return f"test example {index}"

    def truth(self, task: Any, record: dict[str, Any]) -> str:
        return "—"

    def answer(self, task: Any, record: dict[str, Any]) -> str:
        return "—"


class LabelView(ExampleView):
    """One label per text: right or wrong."""

    exact = True

    def score(self, record):
        return float(record["pred"] == record["gold"])

    def input_text(self, task, index):
        row = _test_row(task, index)
        return row["text"] if row else super().input_text(task, index)

    def truth(self, task, record):
        return _label(task, record["gold"])

    def answer(self, task, record):
        return _label(task, record["pred"])


class TagsView(ExampleView):
    """A tag per word: the share of a sentence's words tagged right; wrong tags marked in bold."""

    def score(self, record):
        gold = record["gold"]
        return sum(p == g for p, g in zip(record["pred"], gold)) / max(len(gold), 1)

    def input_text(self, task, index):
        row = _test_row(task, index)
        return " ".join(row["tokens"]) if row else super().input_text(task, index)

    def truth(self, task, record):
        return " ".join(_label(task, t) for t in record["gold"])

    def answer(self, task, record):
        return " ".join(_label(task, p) if p == g else f"**{_label(task, p)}**"
                        for p, g in zip(record["pred"], record["gold"]))


class TranslationView(ExampleView):
    """A generated sentence: its sentence-level chrF against the reference (sacrebleu)."""

    def score(self, record):
        import sacrebleu

        return sacrebleu.sentence_chrf(record["hyp"], [record["ref"]]).score

    def input_text(self, task, index):
        row = _test_row(task, index)
        return row["source"] if row else super().input_text(task, index)

    def truth(self, task, record):
        return record["ref"]

    def answer(self, task, record):
        return record["hyp"]


class ForecastView(ExampleView):
    """A window's forecast: its mean absolute error (lower is better)."""

    lower_is_better = True

    def score(self, record):
        return sum(abs(p - t) for p, t in zip(record["pred"], record["true"])) / max(len(record["true"]), 1)

    def input_text(self, task, index):
        return f"test window {index}"

    def truth(self, task, record):
        return _numbers(record["true"])

    def answer(self, task, record):
        return _numbers(record["pred"])


class TextBlocksView(ExampleView):
    """A language model's test text, scored in bits over blocks: no example is an answer."""

    no_examples = ("No examples where they disagree: a language model's score is the bits it spends on a block "
                   "of the test text, not an answer that is right or wrong, and models with different tokenizers "
                   "cut the text into different blocks.")


__all__ = ["ExampleView", "ForecastView", "LabelView", "TagsView", "TextBlocksView", "TranslationView"]
