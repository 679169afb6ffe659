"""A comparison's figures: learning curves, quality against parameters, each model's attention map and the
first two families' maps side by side (``hf_rnn.report.plots``)."""

from __future__ import annotations

from pathlib import Path

from hf_rnn.comparison.model_runs import folder_name, say
from hf_rnn.comparison.schema import REFERENCE, ModelResult
from hf_rnn.families import FAMILIES, attention_maps
from hf_rnn.runs.run import Run, load_run_model
from hf_rnn.tasks import PROMPTED, TASKS, input_family


def comparison_figures(task_name: str, runs: list[Run], rows: list[ModelResult], task, out: Path, progress: bool) -> dict:
    from hf_rnn.report.plots import plot_learning_curves, plot_quality_vs_parameters

    metric = task.primary_metric
    figures = {}
    curves = {run.label: run.curve() for run in runs}
    if any(curves.values()):
        plot_learning_curves({k: v for k, v in curves.items() if v}, f"validation {metric}",
                             out / "learning_curves.png")
        figures["learning_curves"] = "learning_curves.png"
    points = [{"name": r.name, "parameters": r.parameters_total, metric: r.metrics.get(metric),
               "family": r.family} for r in rows if r.metrics.get(metric) is not None and r.role != REFERENCE]
    if points:
        plot_quality_vs_parameters(points, metric, out / "quality_vs_parameters.png")
        figures["quality_vs_parameters"] = "quality_vs_parameters.png"
    figures.update(attention_figures(task_name, runs, out, progress, task))
    return figures


def attention_figures(task_name: str, runs: list[Run], out: Path, progress: bool, task=None) -> dict:
    """One attention map per model that has attention, and the first two families' maps side by side (the
    first RNN and the first LLM).

    A model trained on a prompt (an LLM on translation) sees the example in that prompt, as in training.
    """
    from hf_rnn.report.plots import plot_side_by_side, save_attention

    examples = TASKS[task_name].lecture_examples
    text = examples[0] if examples else None  # the one that makes the task's point
    if text is None:
        return {}
    figures, maps_by_family = {}, {}
    for run in runs:
        model, tokenizer = load_run_model(run, output_attentions=True)
        shown = text
        if input_family(model) == PROMPTED and hasattr(task, "prompt_ids"):
            shown = tokenizer.decode(task.prompt_ids(tokenizer, task.prompt(text)))
        try:
            kind = TASKS[task_name]  # a kind that answers with new text shows the maps of what it generates
            generates = kind.app_new_tokens or kind.answer_min_new_tokens is not None
            maps = attention_maps(model, tokenizer, shown, generate=generates, max_new_tokens=12)
        except ValueError as e:  # an RNN head without attention: say so in the report
            say(progress, f"[compare] {run.name}: no attention map ({str(e).splitlines()[0]})")
            continue
        name = f"attention_{folder_name(run.name)}.png"
        save_attention(maps, out / name)
        figures[f"attention {run.name}"] = name
        maps_by_family.setdefault(run.family, maps)
    shown = sorted(maps_by_family, key=list(FAMILIES).index)  # registration order: the RNN family's first
    if len(shown) >= 2:
        plot_side_by_side(maps_by_family[shown[0]], maps_by_family[shown[1]], out / "attention_side_by_side.png")
        figures["attention side by side"] = "attention_side_by_side.png"
    return figures
