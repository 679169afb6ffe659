"""The comparison's verdict: which pairs of rows are tested, the paragraph a report opens with, and the test
examples where two models disagree.

The pairs (``choose_pairs``): the best fine-tuned LLM against the best RNN (the verdict), the best fine-tuned LLM
against the zero-shot LLM, the best model of each third family (Mamba-2, or a plug-in family) against the best RNN and
the best LLM against it, every other pair of trained models, and the best trained model against each reference.
Each pair is tested on the per-example predictions of both rows (``hf_rnn.comparison.paired_tests``), the p-values
Holm-corrected together. A row without predictions (a run trained before they were written) leaves its pairs
untested, and the report says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hf_rnn.comparison.paired_tests import PairedResult, holm, paired_test
from hf_rnn.comparison.schema import (
    REFERENCE,
    TRAINED,
    VERDICT_FAMILIES,
    ZERO_SHOT,
    ModelResult,
    third_families,
)
from hf_rnn.errors import HfRnnError
from hf_rnn.runs.predictions import in_report_folder, read_predictions

NO_PREDICTIONS = "No per-example predictions in this run; paired tests need a re-run."
# the verdict pair first; Holm corrects all of one report's pairs together
ROLES = ("verdict", "fine-tuned vs zero-shot", "third family", "trained pair", "against a reference")
THIRD_FAMILY = "third family"  # a family beside the verdict's two: its best against the best RNN, the best LLM against it
MAX_DISAGREEMENTS = 3  # test examples shown each way


@dataclass
class Verdict:
    """What ``judge`` finds: the tests (``PairedResult.to_dict`` plus ``role``), the opening paragraph, the
    examples where the verdict's two models disagree, and what could not be tested."""

    tests: list[dict[str, Any]] = field(default_factory=list)
    paragraph: str = ""
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""


def _value(row: ModelResult, metric: str) -> float | None:
    value = row.metrics.get(metric)
    return value if isinstance(value, (int, float)) and value == value else None


def _best(rows: Sequence[ModelResult], metric: str, greater_is_better: bool) -> ModelResult | None:
    scored = [r for r in rows if _value(r, metric) is not None]
    if not scored:
        return None
    return (max if greater_is_better else min)(scored, key=lambda r: _value(r, metric))


def choose_pairs(rows: Sequence[ModelResult], metric: str,
                 greater_is_better: bool) -> list[tuple[ModelResult, ModelResult, str]]:
    """``(row a, row b, role)`` for each pair a comparison tests, the verdict's first (a: the LLM, b: the RNN);
    the rows' ``role`` says which are trained, zero-shot or references. A third family's pairs read as the
    lecture's question asked of it: what it buys over the best RNN (a: its best, b: the RNN), and what the best
    LLM buys over it (a: the LLM, b: its best)."""
    trained = [r for r in rows if r.role == TRAINED]
    zero_shot = [r for r in rows if r.role == ZERO_SHOT]
    refs = [r for r in rows if r.role == REFERENCE]
    llm_family, rnn_family = VERDICT_FAMILIES
    best_llm = _best([r for r in trained if r.family == llm_family], metric, greater_is_better)
    best_rnn = _best([r for r in trained if r.family == rnn_family], metric, greater_is_better)
    pairs: list[tuple[ModelResult, ModelResult, str]] = []
    if best_llm is not None and best_rnn is not None:
        pairs.append((best_llm, best_rnn, "verdict"))
    if best_llm is not None:
        pairs += [(best_llm, z, "fine-tuned vs zero-shot") for z in zero_shot]
    for family in third_families(trained):
        best_other = _best([r for r in trained if r.family == family], metric, greater_is_better)
        if best_other is None:
            continue
        if best_rnn is not None:
            pairs.append((best_other, best_rnn, THIRD_FAMILY))
        if best_llm is not None:
            pairs.append((best_llm, best_other, THIRD_FAMILY))
    seen = {frozenset((a.name, b.name)) for a, b, _ in pairs}
    for i, a in enumerate(trained):
        for b in trained[i + 1:]:
            if frozenset((a.name, b.name)) not in seen:
                pairs.append((a, b, "trained pair"))
    best = _best(trained, metric, greater_is_better)
    if best is not None:
        pairs += [(best, ref, "against a reference") for ref in refs]
    return pairs


def judge(rows: Sequence[ModelResult], folder: str | Path, kind: Any, metric: str, greater_is_better: bool,
          task=None) -> Verdict:
    """Test ``choose_pairs(rows)`` on the rows' predictions (``row.predictions``, relative to ``folder``) and write
    the verdict. ``kind``: the task's kind (a ``Task`` class or instance: its ``paired_test`` and ``examples``);
    ``task``: the compared task, to show the inputs of the examples where the verdict's models disagree."""
    folder = Path(folder)
    records: dict[str, list[dict] | None] = {}
    problems: list[str] = []
    for row in rows:
        name, path = row.name, row.predictions
        try:
            if path and not in_report_folder(path):
                raise HfRnnError(f"{name}'s predictions {path!r} are not in the report's predictions/ folder")
            found = read_predictions(folder / path) if path else None
        except HfRnnError as e:
            problems.append(str(e))
            found = None
        records[name] = found.records if found is not None else None
    results: list[tuple[PairedResult, str]] = []
    untested: list[str] = []
    for a, b, role in choose_pairs(rows, metric, greater_is_better):
        name_a, name_b = a.name, b.name
        if records.get(name_a) is None or records.get(name_b) is None:
            untested.append(f"{name_a} vs {name_b}")
            continue
        try:
            results.append((paired_test(kind.paired_test, metric, name_a, records[name_a], name_b, records[name_b],
                                        greater_is_better), role))
        except HfRnnError as e:
            problems.append(f"{name_a} vs {name_b}: {e}")
    holm([r for r, _ in results])
    verdict = Verdict(tests=[{"role": role, **r.to_dict()} for r, role in results])
    if not results:
        verdict.note = NO_PREDICTIONS
    elif untested:
        verdict.note = (f"Not tested (no per-example predictions for one of the two; a re-run writes them): "
                        f"{', '.join(untested)}.")
    if problems:
        verdict.note = " ".join([verdict.note, *problems]).strip()
    verdict.paragraph = paragraph(results, rows, metric) if results else verdict.note
    main = next((r for r, role in results if role == "verdict"), None)
    if main is not None:
        verdict.disagreements = disagreements(kind, main, records[main.a], records[main.b], task)
        if not verdict.disagreements and kind.examples.no_examples:
            verdict.note = " ".join([verdict.note, kind.examples.no_examples]).strip()
    return verdict


# =========================================================================== the words


def _difference_words(r: PairedResult) -> tuple[str, str]:
    """The size of the gap and its interval, in the metric's units (accuracy in points)."""
    scale, unit = (100.0, " points") if r.metric == "accuracy" else (1.0, "")
    ahead = abs(r.difference) * scale
    sign = 1 if r.difference >= 0 else -1  # the interval of the gap's size, on the leader's side
    low, high = sorted((sign * r.ci_low * scale, sign * r.ci_high * scale))
    digits = 1 if r.metric in ("accuracy", "chrf", "bleu") else 3
    size = f"{ahead:.{digits}f}{unit}" + ("" if r.metric == "accuracy" else f" of {_metric_name(r.metric)}")
    return size, f"95% CI {low:.{digits}f} to {high:.{digits}f}"


def _metric_name(metric: str) -> str:
    return {"bpc": "bits per character", "mae": "MAE", "chrf": "chrF", "bleu": "BLEU"}.get(metric, metric)


def format_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _test_words(r: PairedResult) -> str:
    holm_p = "" if r.p_holm is None or r.p_holm == r.p_value else f", Holm-corrected {format_p(r.p_holm)}"
    name = re.sub(r" \([^()]*\)", "", r.test)  # the test's name without its asides (which the tests table keeps)
    return f"{name} {format_p(r.p_value)}{holm_p}; n = {r.n:,} {r.unit}"


def sentence(r: PairedResult) -> str:
    """One pair's result in words: who is ahead, by how much, how sure."""
    size, interval = _difference_words(r)
    if r.better is None:
        return f"**No difference:** {r.a} and {r.b} score the same {_metric_name(r.metric)} ({_test_words(r)})"
    loser = r.b if r.better == r.a else r.a
    if r.significant:
        return f"**{r.better} is ahead of {loser} by {size}** ({interval}; {_test_words(r)})"
    return (f"**No significant difference between {r.better} and {loser} at this budget** ({r.better} ahead by "
            f"{size}, {interval}; {_test_words(r)})")


def cost_ratios(a: ModelResult, b: ModelResult) -> str:
    """What ``a`` costs as multiples of ``b``: training seconds, latency p50, peak memory, parameters."""
    parts = []
    for key, what in (("train_seconds", "the training seconds"), ("latency_ms_p50", "the latency (p50)"),
                      ("peak_memory_mb", "the peak memory"), ("parameters_total", "the parameters")):
        x, y = getattr(a, key), getattr(b, key)
        if x and y:
            ratio = x / y
            parts.append(f"{ratio:,.{1 if ratio >= 10 else 2}f}× {what}")
    return f"{a.name} takes {', '.join(parts)} of {b.name}" if parts else ""


def paragraph(results: list[tuple[PairedResult, str]], rows: Sequence[ModelResult], metric: str) -> str:
    """The report's opening: the verdict pair with its cost, then the fine-tuned LLM against the zero-shot one,
    then each third family's pairs (``third_family_sentence``)."""
    by_name = {r.name: r for r in rows}
    lines = []
    for r, role in results:
        if role not in ("verdict", "fine-tuned vs zero-shot"):
            continue
        text = sentence(r)
        if role == "verdict":
            cost = cost_ratios(by_name[r.a], by_name[r.b])
            lines.append(f"{text}. {cost + '.' if cost else ''}".strip())
        else:
            lines.append(f"Against the untrained instruct model: {sentence(r)}.")
    third = [r for r, role in results if role == THIRD_FAMILY]
    if third:
        lines.append(third_family_sentence(third, by_name))
    if not lines:  # one family only: the first tested pair
        r, _ = results[0]
        lines.append(sentence(r) + ".")
    return " ".join(lines)


def third_family_sentence(results: Sequence[PairedResult], by_name: dict[str, ModelResult]) -> str:
    """A third family's pairs in words: its best model against the best RNN (with the cost), the best LLM against
    it. ``by_name``: the rows, to name the family and give the cost ratios."""
    parts = []
    for r in results:
        a, b = by_name.get(r.a), by_name.get(r.b)
        own = a is not None and b is not None and a.family not in VERDICT_FAMILIES  # its pair with the RNN
        cost = cost_ratios(a, b) if own else ""
        parts.append(sentence(r) + (f" ({cost})" if cost else ""))
    families = third_families([by_name[n] for r in results for n in (r.a, r.b) if n in by_name])
    return f"The third family ({', '.join(families)}): " + "; ".join(parts) + "."


def tests_table(tests: list[dict[str, Any]]) -> list[str]:
    """Markdown lines: one row per tested pair."""
    head = ["pair", "metric", "difference (a − b)", "95% CI", "test", "p", "p (Holm)", "n"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for t in tests:
        digits = 4 if t["metric"] in ("accuracy", "bpc", "mae") else 2
        lines.append(f"| {t['a']} vs {t['b']} ({t['role']}) | {t['metric']} | {t['difference']:+.{digits}f} | "
                     f"{t['ci_low']:+.{digits}f} to {t['ci_high']:+.{digits}f} | {t['test']} | {t['p_value']:.3g} | "
                     f"{'—' if t.get('p_holm') is None else format(t['p_holm'], '.3g')} | {t['n']:,} {t['unit']} |")
    return lines


# =========================================================================== where they disagree


def disagreements(kind: Any, r: PairedResult, records_a: list[dict], records_b: list[dict], task=None,
                  per_side: int = MAX_DISAGREEMENTS) -> list[dict[str, Any]]:
    """Up to ``per_side`` test examples each way where one of the pair is right (or closer: a tagger's share of
    words, a translation's sentence chrF, a forecast's error) and the other is not, the largest gaps first:
    ``{"right", "wrong", "exact", "of", "index", "input", "truth", "answers": {name: text}}``; ``exact``: right
    and wrong outright (classification), else closer and further; ``of``: how many examples differ that way.
    ``kind``: the task's kind (a ``Task`` class or instance): its ``examples`` view scores and writes them."""
    view = kind.examples
    by_b = {x["index"]: x for x in records_b}
    pairs = [(x, by_b[x["index"]]) for x in records_a if x["index"] in by_b]
    if not pairs or view.score(pairs[0][0]) is None:
        return []
    scored = [(view.score(x) - view.score(y), x, y) for x, y in pairs]
    out = []
    for right, wrong, sign in ((r.a, r.b, 1), (r.b, r.a, -1)):
        if view.lower_is_better:  # a's lead is b's error minus a's
            sign = -sign
        ahead = [s for s in scored if sign * s[0] > 0]
        chosen = sorted(ahead, key=lambda s: -abs(s[0]))[:per_side]
        for _, x, y in chosen:
            out.append({"right": right, "wrong": wrong, "exact": view.exact, "of": len(ahead), "index": x["index"],
                        "input": view.input_text(task, x["index"]), "truth": view.truth(task, x),
                        "answers": {r.a: view.answer(task, x), r.b: view.answer(task, y)}})
    return out


def disagreement_lines(items: list[dict[str, Any]]) -> list[str]:
    """Markdown lines of ``disagreements``: a table per direction."""
    lines: list[str] = []
    for right, wrong in dict.fromkeys((d["right"], d["wrong"]) for d in items):
        shown = [d for d in items if d["right"] == right and d["wrong"] == wrong]
        how = f"{right} right, {wrong} wrong" if shown[0].get("exact") else f"{right} closer to the truth than {wrong}"
        lines += [f"**{how}** ({len(shown)} of {shown[0].get('of', len(shown))} such test examples, the widest "
                  "gaps first):", "",
                  f"| input | truth | {right} | {wrong} |", "|---|---|---|---|"]
        for d in shown:
            cells = [_cell(d["input"]), _cell(d["truth"]), _cell(d["answers"][right]), _cell(d["answers"][wrong])]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"
