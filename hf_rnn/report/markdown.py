"""What a comparison writes: its document (``results.json``), ``report.md`` and ``report.html``.

``hf_rnn.comparison.compare`` computes a :class:`Comparison` (``hf_rnn.comparison.schema``: the comparison, its rows and
their roles); this module turns it into files. The document is what ``hf_rnn.report.results`` publishes and the README's
tables are generated from.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from hf_rnn.assets.cache import BUILTIN_LLM_LABEL, atomic_write_text
from hf_rnn.comparison.schema import (
    Comparison,
    ModelResult,
    comparison_document,
    results_table,
    third_families,
)
from hf_rnn.comparison.seeds import averaged_sentence, averaged_third_family_sentence
from hf_rnn.comparison.seeds import lines as seed_lines
from hf_rnn.families import FAMILIES
from hf_rnn.report.results import busy_latency_note, took
from hf_rnn.report.verdict import NO_PREDICTIONS, disagreement_lines, tests_table
from hf_rnn.tasks.kinds import LanguageModelingTask

__all__ = ["Comparison", "ModelResult", "results_table", "write_report"]  # the row and comparison: re-exported


def _hardware_line(hw: dict) -> str:
    cpus = f", {hw['logical_cpus']} logical CPUs" if hw.get("logical_cpus") else ""
    return (f"{hw.get('device_name', '?')} ({hw.get('device', '?')}{cpus}, {hw.get('num_processes', 1)} process(es), "
            f"precision {hw.get('mixed_precision', 'no')}, {hw.get('torch_threads', '?')} torch threads)")


_BUDGET_WARNING = {
    "seconds": ("**Budget: matched wall-clock seconds.** Every model gets the same training time on this machine, "
                "so a faster or busier machine gives each model a different number of steps and can change the "
                "verdict: read the steps and examples columns, and the learning curves against seconds below."),
    "epochs": "**Budget: epochs** (passes over the same training data, counted below per model): the verdict "
              "does not depend on the machine's speed; only the seconds do.",
    "as trained": "**Budget: as each run was trained** (compared from finished run folders).",
}


def _starts_from_pretrained(family: str) -> bool:
    """Whether a row's family starts from another model's weights (the LLM's): the family says so on its cards,
    so a new pretrained family needs no edit here. A reference row's family is not registered."""
    return family in FAMILIES and FAMILIES[family].card.base_model


def write_report(c: Comparison, task) -> None:
    """``results.json``, ``report.md`` and a self-contained ``report.html`` in ``c.output_dir``."""
    out = Path(c.output_dir)
    atomic_write_text(out / "results.json", json.dumps(comparison_document(c), indent=2))
    metric = task.primary_metric
    better = "higher" if task.greater_is_better else "lower"
    took_sentence = took(c.seconds, [r.train_seconds for r in c.rows], c.seeds)
    took_sentence = took_sentence[0].upper() + took_sentence[1:]
    intro = [
        f"# {c.task}{f' ({c.variant})' if c.variant else ''}: RNN vs LLM ({c.profile} profile)",
        "",
        _verdict_line(c),
        "",
        _BUDGET_WARNING.get(c.budget_kind, ""),
        "",
        *([f"What holds across the learning curves: {c.curve_summary}", ""] if c.curve_summary else []),
        f"- Task: **{c.task}** ({task.kind}); test split of {len(task.dataset['test']):,} examples, the same "
        f"for every model. Primary metric: **{metric}** ({better} is better).",
        f"- Data: {task.data_description()}.",
        f"- Budget: {c.budget}. Each model trained in its own process; memory is that process's peak RSS.",
        *([f"- Models: `smollm2` is the built-in {BUILTIN_LLM_LABEL} (not the Hub's original weights)."]
          if any(r.builtin_llm for r in c.rows) else []),
        *([f"- No zero-shot row: an LLM reads a {task.kind} task only through a trained head (an untrained causal "
           "LM has no per-token answer to read)."]
          if not task.zero_shot and any(_starts_from_pretrained(r.family) for r in c.rows) else []),
        f"- Hardware: {_hardware_line(c.hardware)}. {took_sentence}"
        f"{', written ' + c.date if c.date else ''}.",
        "- Latency: one test input at a time through `Task.predict` (raw input to answer, batch 1), after a "
        "warm-up: a label, a sentence's tags, a translation, a forecast, or a continuation of up to "
        f"{LanguageModelingTask.max_new_tokens} tokens (text generation: the first "
        f"{LanguageModelingTask.prompt_words} words of a test passage continued)."
        + busy_latency_note(c.rows),
        "",
        c.table_markdown(),
        "",
    ]
    notes = [f"- **{r.name}**: {r.note}" for r in c.rows if r.note]
    md = intro + (["Notes:", *notes, ""] if notes else [])
    md += _paired_section(c)
    md += seed_lines(c.seeds, metric)
    if c.examples:
        names = [r.name for r in c.rows]
        md += ["## The lecture's examples", "", "| input | " + " | ".join(names) + " |",
               "|" + "---|" * (len(names) + 1)]
        for example, by_model in c.examples.items():
            cells = [by_model.get(n, "—").replace("|", "\\|") for n in names]
            md.append(f"| {example} | " + " | ".join(cells) + " |")
        md.append("")
    for title, name in c.figures.items():
        md += [f"## {title.replace('_', ' ').capitalize()}", "", f"![{title}]({name})", ""]
    atomic_write_text(out / "report.md", "\n".join(md))
    atomic_write_text(out / "report.html", _html(c, md, out))


def _verdict_line(c: Comparison) -> str:
    """The report's opening: with several seeds the test over all of them first (what the README's table gives),
    the third family's tests over all of them, then how the verdict fares seed by seed, then seed 1's runs (the
    table's) with their cost; else seed 1's verdict (whose paragraph has the third family's pairs too)."""
    verdict = c.verdict or NO_PREDICTIONS
    over_seeds = averaged_sentence(c.seeds.get("averaged") or {})
    third = averaged_third_family_sentence(c.seeds.get("third_family") or [], third_families(c.rows))
    holds = c.seeds.get("holds", "")
    if over_seeds or third:
        pair = {(c.seeds.get("averaged") or {}).get(k) for k in ("a", "b")}
        first = next(({t["a"], t["b"]} for t in c.paired_tests if t.get("role") == "verdict"), pair)
        other = (f" (by seed 1's scores the pair is {' and '.join(sorted(first))}, not {' and '.join(sorted(pair))})"
                 if over_seeds and first != pair else "")
        return (f"**Verdict.** {over_seeds} {third} {holds} Seed 1's runs alone (the table below){other}: "
                f"{verdict}").replace("  ", " ")
    return f"**Verdict.** {verdict}" + (f" {holds}" if holds else "")


def _paired_section(c: Comparison) -> list[str]:
    """The paired tests' table and the examples where the verdict's two models disagree."""
    md = ["## Paired tests", ""]
    if c.paired_tests:
        md += ["Each pair on the same test examples, from each model's per-example predictions (`predictions/`); "
               "the 95% interval is of the difference, the p-values Holm-corrected over the pairs below.", "",
               *tests_table(c.paired_tests), ""]
        wilson = {name: bounds for t in c.paired_tests for name, bounds in t.get("intervals", {}).items()}
        if wilson:
            md += ["Each model's accuracy with its 95% Wilson interval: " + "; ".join(
                f"{name} {low:.3f} to {high:.3f}" for name, (low, high) in wilson.items()) + ".", ""]
    if c.paired_tests_note or not c.paired_tests:
        md += [c.paired_tests_note or NO_PREDICTIONS, ""]
    if c.disagreements:
        md += ["## Where they disagree", "", *disagreement_lines(c.disagreements)]
    return md


def _html(c: Comparison, md_lines: list[str], out: Path) -> str:
    """A self-contained page: ``report.md`` rendered by markdown-it (CommonMark + tables), images inlined as base64.

    Raw HTML in the markdown is escaped, not passed through: table cells hold the lecture's inputs and the
    models' answers, which are text.
    """
    import base64
    import mimetypes

    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse("\n".join(md_lines))
    for token in tokens:
        for child in token.children or ():
            src = child.attrGet("src") if child.type == "image" else None
            # a figure written beside the report (a relative name): embed it, so the page travels alone
            if src and "://" not in src and not src.startswith("data:"):
                mime = mimetypes.guess_type(src)[0] or "application/octet-stream"
                data = base64.b64encode((out / src).read_bytes()).decode("ascii")
                child.attrSet("src", f"data:{mime};base64,{data}")
    body = md.renderer.render(tokens, md.options, {})
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
             "td:first-child,th:first-child{text-align:left}img{max-width:100%}"
             "code{background:#f3f3f3;padding:0 3px;border-radius:3px}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(c.task)}: RNN vs LLM</title>"
            f"<style>{style}</style></head><body>{body}</body></html>")
