"""Quality against training-set size: the comparison at several numbers of labelled examples.

How much a pretrained transformer buys depends on how many labels the user has (pretraining is worth most
when they are few), and one training-set size gives one point of that curve. ``compare_sizes`` runs the same
comparison (``hf_rnn.compare``) once per size on nested random subsets of the training split (the task's
seeded shuffle, cut to the first ``n``: the 100 examples are inside the 300, and every model gets the same
ones), all scored on the same test split, and writes into its folder::

    n100/ n300/ ... all/      one comparison each (report.md, results.json, the runs)
    curve.json                the primary metric of every model at every size, and the equivalence sentences
    curve.png                 the metric against labelled examples (log scale), zero-shot as a horizontal line
    curve.md                  the figure and the sentences

The data equivalence is read from the curve: for each size, how many labelled examples the best RNN needs
to reach the fine-tuned LLM's score there (interpolated on the log scale between measured sizes), or that it
does not within the data.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hf_rnn.assets.cache import atomic_write_text
from hf_rnn.comparison.schema import REFERENCE_FAMILY, TRAINED, VERDICT_FAMILIES
from hf_rnn.errors import ConfigError

__all__ = ["Curve", "compare_sizes", "curve_from_folder", "data_equivalence", "parse_train_sizes", "publish_curve"]

ALL = "all"


def parse_train_sizes(sizes: str | Sequence[int | str], train_examples: int | None = None,
                      num_labels: int | None = None) -> list[int | str]:
    """``"100,300,all"`` (or a list) → ``[100, 300, "all"]``, sorted, each size checked.

    A size must be a whole number of at least 1 (and at least the number of labels: every class needs a
    chance to be seen), at most the training split's size (``all`` is the whole split), and named once.
    """
    items = [s.strip() for s in sizes.split(",")] if isinstance(sizes, str) else list(sizes)
    if not items or any(i == "" for i in items):
        raise ConfigError(f"--train-sizes {sizes!r}: give sizes separated by commas, e.g. 100,300,1000,all")
    out: list[int | str] = []
    for item in items:
        if isinstance(item, str) and item.lower() == ALL:
            out.append(ALL)
            continue
        n = _whole_number(item)
        if n is None:
            raise ConfigError(f"--train-sizes: {item!r} is not a number of examples (a whole number or 'all')")
        if n < 1:
            raise ConfigError(f"--train-sizes: {n} examples cannot train anything; sizes start at 1")
        if num_labels and n < num_labels:
            raise ConfigError(f"--train-sizes: {n} examples are fewer than the task's {num_labels} labels; "
                              f"use at least {num_labels}")
        if train_examples is not None and n > train_examples:
            raise ConfigError(f"--train-sizes: {n:,} is more than the {train_examples:,} examples of the training "
                              "split; the largest size is 'all'")
        out.append(n)
    numbers = [n for n in out if n != ALL]
    if len(set(out)) != len(out) or (ALL in out and train_examples in numbers):
        raise ConfigError(f"--train-sizes {sizes!r} names a size twice")
    return sorted(numbers) + ([ALL] if ALL in out else [])


def _whole_number(item: Any) -> int | None:
    """``item`` as an int when it is one ("300", 300, "-5"), else None ("3e2", "x", 2.5, True)."""
    if isinstance(item, bool):
        return None
    if isinstance(item, int):
        return item
    text = str(item).strip()
    digits = text[1:] if text[:1] in "+-" else text
    return int(text) if digits.isdigit() else None


@dataclass
class Curve:
    """The comparison at each training-set size: ``points[model] = [(examples, score), ...]``."""

    task: str
    profile: str
    metric: str
    greater_is_better: bool
    sizes: list[int]  # labelled training examples of each point ("all" resolved)
    points: dict[str, list[tuple[int, float]]]  # trained models (the mean over seeds where there are several)
    lines: dict[str, float]  # untrained rows (the zero-shot LLM, references): one score at every size
    families: dict[str, str]
    output_dir: str
    equivalence: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    variant: str | None = None  # other data than the task's usual (the user's file, another series)
    # trained models of several seeds: [(examples, mean - sd, mean + sd, seeds), ...]
    bands: dict[str, list[tuple[int, float, float, int]]] = field(default_factory=dict)

    @property
    def seeds(self) -> int:
        """The most seeds any point was trained with (1: no bands)."""
        return max((b[3] for band in self.bands.values() for b in band), default=1)

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "profile": self.profile, "metric": self.metric,
                "greater_is_better": self.greater_is_better, "sizes": self.sizes,
                "points": {k: [list(p) for p in v] for k, v in self.points.items()}, "lines": self.lines,
                "bands": {k: [list(b) for b in v] for k, v in self.bands.items()}, "seeds": self.seeds,
                "families": self.families, "equivalence": self.equivalence, "folders": self.folders,
                "variant": self.variant}


def compare_sizes(task: str, models: list[str] | None = None, train_sizes: str | Sequence[int | str] = "100,300,all",
                  profile: str = "quick", output_dir: str | os.PathLike | None = None, *,
                  overrides: Sequence[str] = (), progress: bool = True, **compare_options: Any) -> Curve:
    """Run ``hf_rnn.compare`` once per training-set size and write the curve (see the module).

    Args:
        task, models, profile: as for ``hf_rnn.compare``.
        train_sizes: ``"100,300,1000,all"`` or a list; checked against the training split first.
        output_dir: the curve's folder (default ``runs/curve-TASK-PROFILE``); size ``n`` compares in ``n<n>/``.
        overrides: recipe overrides for every model at every size.
        **compare_options: the rest of ``hf_rnn.compare``'s arguments (``data=``, ``zero_shot=``, task options).
    """
    from hf_rnn.comparison.compare import compare, comparison_variant
    from hf_rnn.comparison.rows import ZERO_SHOT_CACHE
    from hf_rnn.tasks import get_task_class, load_task
    from hf_rnn.tasks.user_data import data_overrides
    from hf_rnn.training.recipes import load_recipe

    task_class = get_task_class(task)
    if profile not in task_class.profiles:
        raise ConfigError(f"unknown profile {profile!r}; choose {' or '.join(task_class.profiles)}")
    # the training split the sizes cut, read as the comparison will read it (the user's file, options, caps)
    data = compare_options.get("data")
    options = {k: v for k, v in compare_options.items() if k not in _COMPARE_ARGUMENTS}
    given = [*data_overrides(task, data, options, overrides), *overrides]
    if any(o.split("=", 1)[0].strip() == "task.max_train_examples" for o in overrides):
        raise ConfigError("--train-sizes sets task.max_train_examples itself: drop that override")
    first = (models or task_class.default_models)[0]
    recipe = load_recipe(task, first, overrides=given)
    t = recipe.task
    loaded = load_task(task, t.source, **t.options)
    # "all" is what the profile trains on: its own cap (POS quick: 8,000 sentences) where it has one
    cap = task_class.profiles[profile].train_examples
    train_examples = min(len(loaded.dataset["train"]), cap) if cap else len(loaded.dataset["train"])
    sizes = parse_train_sizes(train_sizes, train_examples, len(loaded.label_names or []) or None)
    variant = comparison_variant(task, first, recipe)  # the user's data, another series: a curve of its own
    named = "-".join(p for p in (task, variant) if p)
    out = Path(output_dir or f"runs/curve-{named}-{profile}").expanduser()

    comparisons = []
    zero_shot_from: Path | None = None
    for size in sizes:
        folder = out / (ALL if size == ALL else f"n{size}")
        if zero_shot_from is not None:  # the untrained model's scores do not depend on the size
            _copy_zero_shot(zero_shot_from, folder, ZERO_SHOT_CACHE)
        extra = [] if size == ALL else [f"task.max_train_examples={size}"]
        if progress:
            print(f"[curve] {task}: {size} training examples", flush=True)
        c = compare(task, models, profile, folder, overrides=[*overrides, *extra], progress=progress,
                    **compare_options)
        comparisons.append((train_examples if size == ALL else size, c))
        if (folder / ZERO_SHOT_CACHE).exists():
            zero_shot_from = folder
    curve = _curve_of(task, profile, loaded.primary_metric, loaded.greater_is_better, comparisons, out)
    curve.variant = variant
    write_curve(curve)
    return curve


def curve_from_folder(folder: str | os.PathLike) -> Curve:
    """The curve of a finished ``compare_sizes`` folder, read from its comparisons' ``results.json``
    (``n<size>/`` and ``all/``; the size of ``all`` from a trained run's ``metrics.json``), written again
    (``curve.json``, ``curve.png``, ``curve.md``): nothing is trained or scored."""
    import re

    from hf_rnn.comparison.schema import read_comparison
    from hf_rnn.runs.run import read_run
    from hf_rnn.tasks import get_task_class

    out = Path(folder)
    subfolders = [p for p in (sorted(out.iterdir()) if out.is_dir() else [])
                  if p.is_dir() and (p.name == ALL or re.fullmatch(r"n\d+", p.name)) and (p / "results.json").is_file()]
    if not subfolders:
        raise ConfigError(f"{out} holds no finished curve: no n<size>/ or all/ comparison with a results.json")
    comparisons = []
    for sub in subfolders:
        c = read_comparison(sub)
        if sub.name != ALL:
            comparisons.append((int(sub.name[1:]), c))
            continue
        runs = [r.run_dir for r in c.rows if r.role == TRAINED and r.run_dir]
        if not runs:
            raise ConfigError(f"{sub} has no trained run to read the size of the whole training split from")
        comparisons.append((int(read_run(runs[0]).metrics.task.sizes["train"]), c))
    comparisons.sort(key=lambda nc: nc[0])
    first = comparisons[0][1]
    metric = first.primary_metric or get_task_class(first.task).primary_metric
    curve = _curve_of(first.task, first.profile, metric, get_task_class(first.task).greater_is_better, comparisons, out)
    curve.variant = first.variant
    write_curve(curve)
    return curve


def _copy_zero_shot(source: Path, folder: Path, cache: str) -> None:
    """The zero-shot row's cache and the predictions file it names, from one size's comparison to the next."""
    if (folder / cache).exists():
        return
    try:
        row = json.loads((source / cache).read_text(encoding="utf-8")).get("row", {})
    except (OSError, ValueError, AttributeError):
        return  # unreadable: that size scores it again
    folder.mkdir(parents=True, exist_ok=True)
    predictions = row.get("predictions") if isinstance(row, dict) else None
    if isinstance(predictions, str) and (source / predictions).is_file():
        (folder / predictions).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / predictions, folder / predictions)
    shutil.copy2(source / cache, folder / cache)


# compare()'s own keyword arguments (the rest of **compare_options are task options)
_COMPARE_ARGUMENTS = ("data", "zero_shot", "reuse", "seeds")


def _curve_of(task: str, profile: str, metric: str, greater_is_better: bool, comparisons: list[tuple[int, Any]],
              out: Path) -> Curve:
    """The curve of one comparison per size; a model trained with several seeds (``compare(..., seeds=N)``)
    is its mean over them, with a band of one standard deviation either side."""
    points: dict[str, list[tuple[int, float]]] = {}
    bands: dict[str, list[tuple[int, float, float, int]]] = {}
    lines: dict[str, float] = {}
    families: dict[str, str] = {}
    for n, c in comparisons:
        per_seed = (c.seeds or {}).get("per_model", {})
        for row in c.rows:
            score = row.metrics.get(metric)
            if score is None or not math.isfinite(score):
                continue
            families[row.name] = row.family
            if row.role != TRAINED:  # untrained: the zero-shot LLM, references
                lines.setdefault(row.name, float(score))
                continue
            seeds = per_seed.get(row.name, {})  # the comparison's own mean and sd over seeds (hf_rnn.comparison.seeds)
            values = seeds.get("values", [])
            if len(values) > 1 and seeds.get("std") is not None:
                mean, sd = float(seeds["mean"]), float(seeds["std"])
                points.setdefault(row.name, []).append((n, mean))
                bands.setdefault(row.name, []).append((n, mean - sd, mean + sd, len(values)))
            else:
                points.setdefault(row.name, []).append((n, float(score)))
    curve = Curve(task=task, profile=profile, metric=metric, greater_is_better=greater_is_better,
                  sizes=[n for n, _ in comparisons], points=points, lines=lines, families=families,
                  output_dir=str(out), folders=[Path(c.output_dir).name for _, c in comparisons], bands=bands)
    curve.equivalence = data_equivalence(curve)
    return curve


def _best(curve: Curve, family: str) -> str | None:
    """The model of ``family`` with the best score at the largest size."""
    names = [m for m in curve.points if curve.families.get(m) == family]
    sign = 1 if curve.greater_is_better else -1
    return max(names, key=lambda m: sign * curve.points[m][-1][1], default=None)


def _examples_to_reach(points: list[tuple[int, float]], target: float, greater_is_better: bool) -> float | None:
    """Examples at which a curve first reaches ``target``, linear in log(examples) between its points."""
    def reached(score: float) -> bool:
        return score >= target if greater_is_better else score <= target

    for i, (n, score) in enumerate(points):
        if reached(score):
            if i == 0:
                return float(n)
            (n0, s0) = points[i - 1]
            t = (target - s0) / (score - s0) if score != s0 else 1.0
            return math.exp(math.log(n0) + t * (math.log(n) - math.log(n0)))
    return None


def data_equivalence(curve: Curve) -> list[str]:
    """One sentence per size: how many labelled examples the best RNN needs to reach the fine-tuned LLM's score
    there, or that it does not within the data (both models picked at the largest size)."""
    llm, rnn = (_best(curve, family) for family in VERDICT_FAMILIES)
    if llm is None or rnn is None:
        return []
    sentences = []
    rnn_points = sorted(curve.points[rnn])
    for n, score in sorted(curve.points[llm]):
        need = _examples_to_reach(rnn_points, score, curve.greater_is_better)
        first_n, first = rnn_points[0]
        if need is not None and need <= first_n:  # no interpolation below the fewest examples measured
            sentences.append(f"With {n:,} labelled examples {llm} scores {curve.metric} {score:.4g}; {rnn} already "
                             f"does as well with the fewest measured ({first:.4g} with {first_n:,}).")
        elif need is None:
            best_n, best = rnn_points[-1]
            sentences.append(f"With {n:,} labelled examples {llm} scores {curve.metric} {score:.4g}; {rnn} does not "
                             f"reach it within the data ({best:.4g} with {best_n:,}).")
        else:
            ratio = need / n
            sentences.append(f"With {n:,} labelled examples {llm} scores {curve.metric} {score:.4g}; {rnn} needs "
                             f"about {need:,.0f} to match it ({ratio:.2g}× as many).")
    return sentences


def plot_curve(curve: Curve, path: str | Path) -> Path:
    """The primary metric against labelled examples (log scale): a line per trained model, a horizontal
    line per untrained row (the zero-shot LLM, references)."""
    from hf_rnn.report.plots import _new_figure, save_figure

    fig = _new_figure(6.4, 4.2)
    ax = fig.add_subplot()
    for name, pts in curve.points.items():
        xs, ys = zip(*sorted(pts), strict=True)
        (line,) = ax.plot(xs, ys, marker="o", label=name)
        band = sorted(curve.bands.get(name, []))
        if band:  # one standard deviation across seeds either side of the mean
            ax.fill_between([b[0] for b in band], [b[1] for b in band], [b[2] for b in band],
                            color=line.get_color(), alpha=0.2, linewidth=0)
    for name, score in curve.lines.items():
        ax.axhline(score, linestyle="--", linewidth=1, color="grey" if curve.families.get(name) == REFERENCE_FAMILY
                   else "black", label=f"{name} (no training)")
    ax.set_xscale("log")
    ax.set_xlabel("labelled training examples (log scale)")
    ax.set_ylabel(f"test {curve.metric} ({'higher' if curve.greater_is_better else 'lower'} is better)")
    ax.set_title(f"{curve.task}: quality against training-set size ({curve.profile} budget per point)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path, dpi=110)


def write_curve(curve: Curve) -> None:
    """``curve.json``, ``curve.png`` and ``curve.md`` in the curve's folder."""
    out = Path(curve.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    plot_curve(curve, out / "curve.png")
    atomic_write_text(out / "curve.json", json.dumps(curve.to_dict(), indent=2))
    header = "| model | " + " | ".join(f"{n:,}" for n in curve.sizes) + " |"
    rows = [header, "|---|" + "---|" * len(curve.sizes)]
    for name, pts in curve.points.items():
        by_n = dict(pts)
        spread = {b[0]: (b[2] - b[1]) / 2 for b in curve.bands.get(name, [])}
        rows.append(f"| {name} | " + " | ".join((f"{by_n[n]:.4g}" + (f" ± {spread[n]:.2g}" if n in spread else ""))
                                                 if n in by_n else "—" for n in curve.sizes) + " |")
    for name, score in curve.lines.items():
        rows.append(f"| {name} (no training) | " + " | ".join(f"{score:.4g}" for _ in curve.sizes) + " |")
    md = [f"# {curve.task}: quality against training-set size ({curve.profile} profile)", "",
          f"Test {curve.metric} of every model trained on nested random subsets of the training split (the same "
          f"examples for every model), one comparison per size ({', '.join(curve.folders)}), each under the "
          f"{curve.profile} profile's budget."
          + (f" Trained models: the mean over {curve.seeds} seeds ± one standard deviation (the band in the "
             "figure); the equivalence below reads the means." if curve.seeds > 1 else ""),
          "", *rows, "", "![curve](curve.png)", ""]
    if curve.equivalence:
        md += ["## Data equivalence", "", *[f"- {s}" for s in curve.equivalence], ""]
    atomic_write_text(out / "curve.md", "\n".join(md))


CURVE_FILES = ("curve.json", "curve.md", "curve.png")


def publish_curve(curve_dir: str | os.PathLike, results_root: str | os.PathLike = "results") -> Path:
    """Copy a curve's files (no runs, no weights) into ``results_root/<task>-curve-<profile>/``, replacing that
    folder as a whole through a temporary sibling; return it."""
    src = Path(curve_dir)
    try:
        doc = json.loads((src / "curve.json").read_text(encoding="utf-8"))
        name = "-".join(p for p in (doc["task"], doc.get("variant"), "curve", doc["profile"]) if p)
    except (OSError, ValueError, KeyError) as e:
        raise ConfigError(f"{src} holds no finished curve (curve.json): {e}") from None
    dest = Path(results_root) / name
    if dest.exists() and not (dest.is_dir() and all(p.name in CURVE_FILES for p in dest.iterdir())):
        raise ConfigError(f"{dest} exists and is not a published curve (it holds more than "
                          f"{', '.join(CURVE_FILES)}): move it away or choose another --publish folder")
    tmp = dest.with_name(f".{name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for file in CURVE_FILES:
        shutil.copy2(src / file, tmp / file)
    old = dest.with_name(f".{name}.old-{os.getpid()}")
    if dest.exists():
        os.replace(dest, old)
    os.replace(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)
    return dest
