"""Reference rows: what either family must beat that is no trained model.

Each reference answers the same test examples and is scored by the same metric as the models, so a
comparison shows whether a model learned more than a rule of thumb. Which references a task has is its kind's
(``Task.references``, in ``hf_rnn.tasks``); the built-in kinds' are made here:

=====================  ==========================================================================
task kind              reference
=====================  ==========================================================================
classification         the majority class of the training split
text generation        a character 5-gram model of the training text (Witten-Bell smoothing), in bits per char
token classification   each word's most frequent training tag (unseen words: the most frequent tag)
translation            rule-based Apertium (``apertium eng-spa``), where Debian's packages are installed
forecasting            the seasonal-naive forecast: the value one season earlier
=====================  ==========================================================================
"""

from __future__ import annotations

import math
import shutil
import subprocess
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hf_rnn.tokenization import split_words

APERTIUM_PAIRS = {("English", "Spanish"): "eng-spa"}


@dataclass
class Reference:
    """One reference row: its name, its test metrics and a note on how it answers."""

    name: str
    metrics: dict[str, float]
    note: str
    answer: Callable[[str], str] | None = field(default=None, repr=False)  # a lecture example -> its answer
    # its per-example records on the test split (``Task.example_records``' format), for paired tests
    examples: list[dict] | None = field(default=None, repr=False)


def references(task) -> list[Reference]:
    """The references that apply to ``task`` (scored on its test split; its kind's ``references``); empty where
    none applies."""
    return list(task.references())


def majority_class(task) -> Reference:
    train = task.dataset["train"]["label"]
    gold = np.asarray(task.dataset["test"]["label"])
    top = Counter(train).most_common(1)[0][0]
    outputs = {"predictions": [np.full(len(gold), top)], "labels": [gold]}
    metrics = task.compute_metrics(outputs)
    label = task.label_names[top]
    return Reference("majority class", metrics, f"always {label!r}, the most frequent training label",
                     answer=lambda text: f"{label} (always)", examples=task.example_records(outputs))


def most_frequent_tag(task) -> Reference:
    """Per-word accuracy of tagging each test word with its most frequent training tag."""
    counts: dict[str, Counter] = defaultdict(Counter)
    overall: Counter = Counter()
    for words, tags in zip(task.dataset["train"]["tokens"], task.dataset["train"]["tags"]):
        for w, t in zip(words, tags):
            counts[w][t] += 1
            overall[t] += 1
    fallback = overall.most_common(1)[0][0]
    best = {w: c.most_common(1)[0][0] for w, c in counts.items()}
    # one sentence a batch (its words [1, n]): the records keep sentences whole
    pred, gold = [], []
    for words, tags in zip(task.dataset["test"]["tokens"], task.dataset["test"]["tags"]):
        pred.append(np.asarray([[best.get(w, fallback) for w in words]]))
        gold.append(np.asarray([list(tags)]))
    outputs = {"predictions": pred, "labels": gold}
    metrics = task.compute_metrics(outputs)
    names = task.label_names

    def answer(text: str) -> str:
        return " ".join(f"{w}/{names[best.get(w, fallback)]}" for w in split_words(text))

    return Reference("most frequent tag", metrics,
                     f"each word's most frequent training tag; unseen words get {names[fallback]!r}", answer,
                     examples=task.example_records(outputs))


def seasonal_naive(task) -> Reference:
    """The value one season earlier, scored by the task's own forecasting metrics."""
    windows = task.windows("test")
    full = task._row("test")["values"]
    season = task.season
    pred = np.asarray([[full[t + h - season * (1 + h // season)] for h in range(task.horizon)]
                       for _, _, t in windows])
    outputs = {"prediction": [pred], "example_index": [np.arange(len(windows))]}
    metrics = task.compute_metrics(outputs)
    first = ", ".join(f"{v:.1f}" for v in pred[0])
    return Reference("seasonal-naive", metrics, f"the value one season ({season} steps) earlier",
                     answer=lambda _: first, examples=task.example_records(outputs))


def apertium(task) -> Reference | None:
    """Rule-based translation of every test source with Apertium (scored by the task's
    ``score_hypotheses``); None where it is not installed."""
    pair = APERTIUM_PAIRS.get((getattr(task, "source_language", None), getattr(task, "target_language", None)))
    hyps = apertium_translate(list(task.dataset["test"]["source"]), pair) if pair else None
    if hyps is None:
        return None
    refs = list(task.dataset["test"]["target"])
    metrics = task.score_hypotheses(hyps, refs)
    return Reference("apertium", metrics, f"rule-based Apertium {pair} (Debian apertium-en-es), no training",
                     answer=lambda text: (apertium_translate([text], pair) or ["—"])[0],
                     examples=[{"index": i, "hyp": h, "ref": r} for i, (h, r) in enumerate(zip(hyps, refs))])


def apertium_translate(texts: list[str], pair: str = "eng-spa") -> list[str] | None:
    """Translate ``texts`` with Apertium, one line each (``-u``: unknown words unmarked); None where the
    ``apertium`` program or the language pair is missing."""
    if shutil.which("apertium") is None:
        return None
    lines = [" ".join(t.split()) for t in texts]
    done = subprocess.run(["apertium", "-u", pair], input="\n".join(lines) + "\n", capture_output=True, text=True,
                          timeout=600)
    out = done.stdout.split("\n")[: len(lines)]
    return [o.strip() for o in out] if done.returncode == 0 and len(out) == len(lines) else None


class CharNGram:
    """A character n-gram language model with Witten-Bell interpolation (each order backs off to the one below,
    down to a uniform distribution over the training characters plus one unseen character).

    P(c | h) = (C(hc) + N(h) P(c | h')) / (C(h) + N(h)), with C(h) the count of context h, N(h) the number of
    distinct characters seen after it, and h' the context one character shorter.
    """

    def __init__(self, text: str, order: int = 5) -> None:
        self.order = order
        self.vocab = sorted(set(text))
        self.grams: Counter = Counter()
        self.context: Counter = Counter()
        self.distinct: Counter = Counter()
        for n in range(1, order + 1):
            grams = Counter(text[i:i + n] for i in range(len(text) - n + 1))
            self.grams.update(grams)
            for gram, count in grams.items():
                self.context[gram[:-1]] += count
                self.distinct[gram[:-1]] += 1

    def prob(self, history: str, char: str) -> float:
        p = 1.0 / (len(self.vocab) + 1)
        for k in range(self.order):  # contexts of 0 .. order-1 characters
            if k > len(history):
                break
            h = history[len(history) - k:] if k else ""
            total = self.context.get(h, 0)
            if total:
                n = self.distinct[h]
                p = (self.grams.get(h + char, 0) + n * p) / (total + n)
        return p

    def bits(self, text: str) -> float:
        """Total -log2 P of every character of ``text`` given the ones before it."""
        return float(sum(self.char_bits(text)))

    def char_bits(self, text: str) -> list[float]:
        """-log2 P of each character of ``text`` given the ones before it."""
        return [-math.log2(self.prob(text[max(0, i - self.order + 1):i], c)) for i, c in enumerate(text)]

    def continue_text(self, prompt: str, n: int = 40) -> str:
        """The most probable next character, ``n`` times (greedy)."""
        out = prompt
        for _ in range(n):
            history = out[max(0, len(out) - self.order + 1):]
            out += max(self.vocab, key=lambda c: self.prob(history, c))
        return out[len(prompt):]


def char_ngram(task, order: int = 5) -> Reference:
    """Bits per character of a character ``order``-gram model on the test passages (joined as the models see
    them: a passage break counts as one character, like the models' eos)."""
    model = CharNGram("".join(p + "\n" for p in task.dataset["train"]["text"]), order)
    passages = [p + "\n" for p in task.dataset["test"]["text"]]
    bits = model.char_bits("".join(passages))
    metrics = {"bpc": float(sum(bits)) / max(len(bits), 1), "num_characters": len(bits)}
    # per passage (its units are not the models' blocks: a paired test with a model is an unpaired one)
    ends = np.cumsum([len(p) for p in passages])
    examples = [{"index": i, "bits": round(float(sum(bits[start:end])), 4), "chars": int(end - start)}
                for i, (start, end) in enumerate(zip([0, *ends[:-1]], ends))]
    return Reference(f"char {order}-gram", metrics, f"character {order}-gram of the training text, Witten-Bell "
                     "interpolation, no neural network", answer=lambda text: " ".join(model.continue_text(text).split()),
                     examples=examples)
