"""Compare both families on one task: matched budgets, one test split, one report.

``compare(task, models, profile)`` trains each model from its recipe under the same
wall-clock budget (or reuses a finished run with the same resolved recipe), scores all on
the same test split, measures inference latency per example, adds the zero-shot LLM as a
reference row where the task has one, and writes to one folder::

    results.json   every number below, machine-readable
    report.md      the table, the plots, what was matched
    report.html    the same, self-contained (images inlined)
    learning_curves.png, quality_vs_parameters.png, attention_<model>.png, attention_side_by_side.png

Each model trains in a process of its own, which runs ``hf_rnn.train_recipe`` on the resolved recipe
(``python -m hf_rnn.training.recipe_training``), so its peak memory is its own and a crash in one run does not take the
comparison down.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from hf_rnn.assets.cache import atomic_write_bytes, atomic_write_text
from hf_rnn.comparison.cpu_load import BUSY_CORES
from hf_rnn.comparison.lecture_answers import lecture_outputs, zero_shot_model
from hf_rnn.comparison.profiles import PROFILE_NAMES, Profile
from hf_rnn.comparison.references import references
from hf_rnn.comparison.schema import (
    REFERENCE,
    REFERENCE_FAMILY,
    TRAINED,
    VERDICT_FAMILIES,
    ZERO_SHOT,
    Comparison,
    ModelResult,
    ResultsError,
)
from hf_rnn.comparison.seeds import check_seeds, seed_folder, seed_value
from hf_rnn.comparison.seeds import summary as seed_summary
from hf_rnn.errors import ConfigError, HfRnnError
from hf_rnn.families import FAMILIES, LLM, attention_maps, family_for_model_name, family_named
from hf_rnn.report.markdown import write_report
from hf_rnn.report.verdict import judge
from hf_rnn.runs.predictions import FORMAT as PREDICTIONS_FORMAT
from hf_rnn.runs.predictions import PREDICTIONS, PREDICTIONS_DIR, write_predictions
from hf_rnn.runs.run import EVAL_PROGRESS, Run, RunError, check_comparable, load_run_model, read_run
from hf_rnn.tasks import PROMPTED, TASKS, input_family

# What a comparison trains and how long lives with each task (``Task.default_models``, ``Task.profiles``,
# ``Task.zero_shot``, ``Task.lecture_examples``): a new task brings its own.

# In a few CPU minutes a fully fine-tuned 135M-parameter model takes too few steps to
# learn anything (sentiment: 28 steps, 0.63 accuracy); training its top 8 of 30 layers and
# the head at a higher rate takes ~8x more steps in the same time (0.83).
QUICK_LLM_TRAINED_LAYERS = 8
QUICK_LLM = ["training.learning_rate=1e-4", "training.warmup_steps=10"]


def profile_overrides(profile: Profile, family: str, llm_layers: int | None = None,
                      model: str | None = None) -> list[str]:
    """The ``key=value`` overrides that put a recipe of ``family`` (its name: a ``profile.extra`` key) under
    ``profile``'s budget; ``model``, the model's name in the comparison, adds that name's ``extra`` last.

    ``llm_layers``: the LLM's number of decoder layers (the family's ``quick_profile_layers``); the quick
    profile freezes all but the top ``QUICK_LLM_TRAINED_LAYERS`` of them. ``None`` for a model that is not
    a fine-tuned LLM (an RNN; a patch forecaster trains its own small set of weights): its recipe's settings stand.
    """
    if profile.epochs is not None:
        out = [f"training.epochs={profile.epochs:g}", "training.max_seconds=null", "training.max_steps=null"]
    else:
        out = [f"training.max_seconds={profile.seconds:g}", "training.epochs=1000"]  # the clock decides
    out.append("training.progress_bar=false")
    if profile.name == "quick" and llm_layers is not None:
        frozen = max(0, (llm_layers or 0) - QUICK_LLM_TRAINED_LAYERS)
        out += [f"model.freeze_layers={frozen}", *QUICK_LLM]
    for key, n in (("train", profile.train_examples), ("validation", profile.validation_examples),
                   ("test", profile.test_examples)):
        if n is not None:
            out.append(f"task.max_{key}_examples={n}")
    if profile.eval_steps is not None:
        out.append(f"training.eval_steps={profile.eval_steps}")
    return out + profile.extra.get(family, []) + (profile.extra.get(model, []) if model else [])


# =========================================================================== the entry point


def compare(
    task: str,
    models: list[str] | None = None,
    profile: str = "quick",
    output_dir: str | os.PathLike | None = None,
    *,
    zero_shot: bool = True,
    reuse: bool = True,
    overrides: list[str] = (),
    progress: bool = True,
    seeds: int = 1,
    data: str | os.PathLike | None = None,
    **task_options: Any,
) -> Comparison:
    """Train (or reuse) each model under a matched budget and write the report.

    Args:
        task: a task name (``hf_rnn.tasks.TASKS``).
        models: recipe model names (``bilstm``, ``gru``, ``lstm``, ``rnn``, ``smollm2``, an LLM id
            or folder); default: the profile's set (``Profile.models``), else the task's usual one
            (``Task.default_models``).
        profile: ``quick`` (a few minutes a model on a laptop CPU) or ``full``.
        output_dir: the report folder; each model's run goes to ``output_dir/<model>``.
        zero_shot: add the untrained instruct LLM as a reference row (every task but POS).
        reuse: keep a finished run whose resolved recipe equals the one this call would run.
        overrides: extra ``key=value`` recipe overrides applied to every model.
        seeds: train each model this many times, ``training.seed`` varied (``hf_rnn.comparison.seeds``): the report gives
            each model's mean ± standard deviation and whether the verdict holds seed by seed.
        data: your own data, a local file or a Hub dataset id (default: the built-in data); the report and
            its folder (``runs/compare-TASK-FILESTEM-PROFILE``) are named after it.
        **task_options: how to read it, the task's ``load_task`` options (``text_column="review"``,
            ``label_column="stars"``, ``season=52``...).

    Returns:
        the ``Comparison`` (also written as ``results.json``).
    """
    from hf_rnn.arguments import list_argument, path_argument, text_argument
    from hf_rnn.tasks import TASKS
    from hf_rnn.training.recipes import load_recipe

    text_argument(task, "compare: task")
    models = list_argument(models, "compare: models", "model names", optional=True)
    text_argument(profile, "compare: profile")
    path_argument(output_dir, "compare: output_dir", optional=True)
    overrides = list_argument(overrides, "compare: overrides", "key=value overrides")
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose one of: {', '.join(TASKS)}")
    task_class = TASKS[task]
    if profile not in task_class.profiles:
        raise ConfigError(f"unknown profile {profile!r}; choose {' or '.join(task_class.profiles or PROFILE_NAMES)}")
    prof = task_class.profiles[profile]
    models = list((prof.models or task_class.default_models) if models is None else models)
    if not models:
        raise ConfigError("the model list is empty: name at least one model (e.g. --models bilstm,smollm2)")
    if len(set(models)) != len(models):
        raise ConfigError(f"a model is named twice in {models}")
    seeds = check_seeds(seeds)
    from hf_rnn.tasks.user_data import data_overrides, unknown_keyword

    for key in task_options:  # a misspelled argument of compare() must not read as a task option
        unknown_keyword("compare", compare, task_class, key)
    overrides = [*data_overrides(task, data, task_options, overrides), *overrides]
    start = time.perf_counter()

    # resolve every recipe first: a bad model name or override fails before any training or any folder
    recipes, spelled = {}, {}
    for name in models:
        base = load_recipe(task, name, overrides=list(overrides))
        same = spelled.setdefault(_model_identity(base), name)
        if same != name:  # two names of one model (rnn and bilstm, llm and smollm2, BiLSTM and bilstm)
            raise ConfigError(f"a model is named twice: {same!r} and {name!r} are the same {task} recipe "
                              f"({base.model.name}); name it once")
        layers = family_named(base.family).quick_profile_layers(base)
        recipes[name] = load_recipe(task, name, overrides=[*profile_overrides(prof, base.family, layers, name), *overrides])
    variant = comparison_variant(task, models[0], recipes[models[0]])
    named = f"{task}-{variant}" if variant else task
    out = Path(output_dir or f"runs/compare-{named}-{profile}").expanduser()
    folders = _folder_names(models)
    shared = _clashing({name: recipe.model.name for name, recipe in recipes.items()})
    for name, recipe in recipes.items():
        recipe.output_dir = str(out / folders[name])
        if name in shared:  # two LLM folders /a/model and /b/model: rows, plots and goals tell them apart
            recipe.model.name = folders[name]
    from hf_rnn.runs.folder import check_report_dir

    # a model whose one run takes hours trains fewer seeds where the profile says so (``Profile.seed_limits``)
    seed_counts = {name: prof.seeds_for(name, recipe.family, seeds) for name, recipe in recipes.items()}
    seed_recipes = {name: [recipe, *(_seed_recipe(recipe, k) for k in range(2, seed_counts[name][0] + 1))]
                    for name, recipe in recipes.items()}
    every_folder = [r.output_dir for group in seed_recipes.values() for r in group]
    clash = next((f for i, f in enumerate(every_folder) if f in every_folder[:i]), None)
    if clash is not None:  # a model named like another's seed folder (an LLM folder "bilstm-seed2")
        raise ConfigError(f"two runs of this comparison would share the folder {clash}: rename a model")
    # writable, new or a comparison's own, each model's folder new or a run; nothing is created yet
    check_report_dir(out, every_folder)

    runs: list[Run] = []
    if prof.epochs is None:
        _say(progress, f"[compare] budget: {prof.seconds:g} s of training per model (wall clock: a faster machine "
                       "gives every model more steps; the report shows quality against time)")
    # interrupted before a run wrote anything, no empty folder stays; a stopped run's checkpoints do (resumed)
    seed_runs: dict[str, list[Run]] = {}
    with _no_empty_folders_on_failure([out, *(Path(f) for f in every_folder)]):
        out.mkdir(parents=True, exist_ok=True)
        for name, group in seed_recipes.items():
            runs.append(_train_or_reuse(name, group[0], reuse=reuse, progress=progress))
            seed_runs[name] = [runs[-1]]
            for k, recipe in enumerate(group[1:], start=2):  # seed 1 is the recipe as it is, in the usual folder
                seed_runs[name].append(_train_or_reuse(f"{name} seed {k}", recipe, reuse=reuse, progress=progress))
    check_comparable(runs)
    check_comparable([run for group in seed_runs.values() for run in group])

    from hf_rnn.tasks import load_task

    t = recipes[models[0]].task
    base_task = load_task(task, t.source, **t.options)
    test_size = t.max_test_examples
    eval_task = base_task.subset({"test": test_size}) if test_size else base_task

    with _free_cores():
        rows = [_row_from_run(run, eval_task, prof.latency_examples, progress) for run in runs]
        _keep_run_predictions(rows, runs, out)
        if zero_shot and task_class.zero_shot and not any(r.role == ZERO_SHOT for r in rows):
            rows.append(_zero_shot_row(eval_task, prof.latency_examples, progress, cache=out / ZERO_SHOT_CACHE))

        refs = references(eval_task)
        rows += [reference_row(ref, eval_task, out) for ref in refs]
        figures = _figures(task, runs, rows, eval_task, out, progress)
        examples = lecture_outputs(task, rows, out, progress,
                                   answers={r.name: r.answer for r in refs if r.answer}, task=eval_task)
    comparison = Comparison(
        task=task, profile=profile, variant=variant,
        budget=_budget_line(recipes.values()),
        rows=rows, output_dir=str(out), hardware=_hardware(runs), figures=figures,
        seconds=round(time.perf_counter() - start, 1), date=_now(),
        budget_kind="epochs" if prof.epochs is not None else "seconds",
        curve_summary=curve_summary(runs, eval_task.primary_metric, eval_task.greater_is_better),
        examples=examples, primary_metric=eval_task.primary_metric,
    )
    _judge(comparison, eval_task, progress)
    if seeds > 1:
        verdict = next(((t["a"], t["b"]) for t in comparison.paired_tests if t["role"] == "verdict"), None)
        by_row = {row.name: seed_runs[name] for row, name in zip(rows, recipes)}
        comparison.seeds = seed_summary(
            by_row, {row.name: [seed_value(recipes[name].training.seed, k) for k in range(1, seed_counts[name][0] + 1)]
                     for row, name in zip(rows, recipes)},
            verdict, eval_task, eval_task.primary_metric, eval_task.greater_is_better,
            limits={row.name: seed_counts[name][1] for row, name in zip(rows, recipes) if seed_counts[name][1]})
    write_report(comparison, eval_task)
    return comparison


def _seed_recipe(recipe, k: int):
    """``recipe`` with seed ``k``'s ``training.seed``, in seed ``k``'s folder (``hf_rnn.comparison.seeds``)."""
    import copy

    again = copy.deepcopy(recipe)
    again.training.seed = seed_value(recipe.training.seed, k)
    if not 0 <= again.training.seed < 2**32:  # checked here, before seed 1 trains, not in seed k's child
        raise ConfigError(f"seed {k} of {recipe.model.name} would train with training.seed={again.training.seed}, "
                          "outside 0 to 2**32-1: lower training.seed")
    again.output_dir = str(seed_folder(recipe.output_dir, k))
    return again


def _judge(comparison: Comparison, task, progress: bool) -> None:
    """The paired tests of the comparison's rows and its verdict (``hf_rnn.report.verdict``), into ``comparison``."""
    _say(progress, "[compare] paired tests on the per-example predictions ...")
    found = judge(comparison.rows, comparison.output_dir, task, task.primary_metric, task.greater_is_better,
                  task)
    comparison.paired_tests, comparison.verdict = found.tests, found.paragraph
    comparison.disagreements, comparison.paired_tests_note = found.disagreements, found.note


def _unique_row_names(rows: list[ModelResult], runs: list[Run]) -> None:
    """Rows of runs that share a model name (``--runs a/bilstm b/bilstm``) take their folders in their names:
    the paired tests and the predictions files tell rows apart by name."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.name] = counts.get(row.name, 0) + 1
    taken: set[str] = set()
    for i, (row, run) in enumerate(zip(rows, runs)):
        if counts[row.name] > 1:
            name = f"{row.name} ({run.path.parent.name}/{run.path.name})"
            row.name = name if name not in taken else f"{name} #{i + 1}"
        taken.add(row.name)


def _keep_run_predictions(rows: list[ModelResult], runs: list[Run], out: Path) -> None:
    """Copy each run's per-example predictions into ``out/predictions/`` (a row without them keeps ``None``),
    named after the row (unique in a comparison)."""
    for row, run in zip(rows, runs):
        source = run.path / PREDICTIONS
        if source.is_file():
            relative = f"{PREDICTIONS_DIR}/{_folder_name(row.name.replace('/', '_'))}.jsonl.gz"
            atomic_write_bytes(out / relative, source.read_bytes())
            row.predictions = relative


def _write_row_predictions(out: Path | None, name: str, task, records: list[dict] | None) -> str | None:
    """Write a row's per-example records into ``out/predictions/``; the file's path relative to ``out``."""
    if out is None or records is None:
        return None
    relative = f"{PREDICTIONS_DIR}/{_folder_name(name)}.jsonl.gz"
    write_predictions(out / relative, task, records)
    return relative


def comparison_variant(task: str, model: str, recipe) -> str | None:
    """The value of the task's ``variant_option`` (e.g. the forecast series) when the recipe changes it from
    the built-in recipe's: such a comparison is kept apart (``runs/compare-TASK-VARIANT-PROFILE``,
    ``results/TASK-VARIANT-PROFILE``); so is a comparison on the user's own data (the file's stem first).
    ``None`` for the usual data."""
    from hf_rnn.training.recipes import load_recipe

    parts = []
    if recipe.task.source not in (None, "builtin"):  # the user's data: never in the built-in data's folder
        parts.append(_source_slug(recipe.task.source))
    option = getattr(TASKS[task], "variant_option", None)
    if option is not None:
        value = recipe.task.options.get(option)
        usual = load_recipe(task, model).task.options.get(option)
        if value is not None and value != usual:
            parts.append(str(value))
    return "-".join(parts) or None


def _source_slug(source: str) -> str:
    """A folder-name-safe name of a data source: a file's stem, a Hub id with ``/`` as ``-``."""
    import re

    from hf_rnn.tasks.sources import looks_like_file

    name = Path(source).name.split(".")[0] if looks_like_file(source) else source.replace("/", "-")
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._-")[:60] or "data"


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def _hardware(runs: list[Run]) -> dict[str, Any]:
    """The first run's device, precision and threads, plus the machine: CPU model, logical cores, OS."""
    import platform

    hw = runs[0].metrics.hardware.to_dict()
    hw.setdefault("cpu_count", os.cpu_count())
    hw["logical_cpus"] = os.cpu_count()
    hw["platform"] = f"{platform.system()} {platform.machine()}"
    return hw


def curve_summary(runs: list[Run], metric: str, greater_is_better: bool) -> str:
    """One sentence on what holds across the validation curves against training seconds.

    Compares the best-scoring model of each family (by its last evaluation) at every evaluation time of
    either, over the span where both have been evaluated (a curve holds its last value between evaluations).
    The sentence says whether one family leads throughout, or when the lead changes.
    """
    by_family: dict[str, tuple[str, list[tuple[float, float]]]] = {}
    for run in runs:
        points = [(seconds, value) for _, seconds, value in run.curve() if value == value]  # drop NaN
        if not points:
            continue
        last = points[-1][1]
        held = by_family.get(run.family)
        if held is None or (last > held[1][-1][1]) == greater_is_better and last != held[1][-1][1]:
            by_family[run.family] = (run.label, points)
    if len(by_family) < 2:
        return ""
    # the lecture's two sides where both trained (the RNN and the LLM), else the first two families by name
    pair = list(VERDICT_FAMILIES[::-1]) if set(VERDICT_FAMILIES) <= set(by_family) else sorted(by_family)[:2]
    (name_a, a), (name_b, b) = (by_family[f] for f in pair)
    start, end = max(a[0][0], b[0][0]), min(a[-1][0], b[-1][0])

    def at(curve, t):
        return [v for s, v in curve if s <= t][-1]

    times = sorted({s for s, _ in a + b if start <= s <= end})
    if not times:
        return (f"The validation curves do not overlap in time ({name_a} evaluated {a[0][0]:.0f}-{a[-1][0]:.0f} s, "
                f"{name_b} {b[0][0]:.0f}-{b[-1][0]:.0f} s).")
    leaders = []
    for t in times:
        va, vb = at(a, t), at(b, t)
        leader = None if va == vb else (name_a if (va > vb) == greater_is_better else name_b)
        if leader and (not leaders or leaders[-1][1] != leader):
            leaders.append((t, leader))
    span = f"from {start:.0f} s to {end:.0f} s of training"
    if not leaders:
        return f"{name_a} and {name_b} have equal validation {metric} at every evaluation {span}."
    if len(leaders) == 1:
        return (f"{leaders[0][1]} has the better validation {metric} at every evaluation {span}, so the verdict "
                "holds for any budget in that range (on this machine; a faster one moves along the same curves).")
    changes = ", then ".join(f"{who} from {t:.0f} s" for t, who in leaders)
    return (f"The lead changes {span}: {changes}. A budget in seconds on another machine can land on either "
            "side: compare the curves, not one number.")


def _budget_line(recipes) -> str:
    """What was matched, read from the resolved recipes (overrides included)."""
    seconds = {r.training.max_seconds for r in recipes}
    epochs = {r.training.epochs for r in recipes}
    examples = {r.task.max_train_examples for r in recipes}
    if len(seconds) == 1 and None not in seconds:
        line = f"matched wall-clock budget: {seconds.pop():g} s of training per model"
    elif seconds == {None} and len(epochs) == 1 and None not in epochs:
        line = (f"matched budget: {epochs.pop():g} epochs of training per model (early stopping on the "
                "validation metric may end a run sooner)")
    elif seconds == {None} and None not in epochs:
        # each family at its own schedule over the same data (e.g. an LLM fine-tuned for about one epoch)
        line = ("budget in epochs over the same training data, each model at its own schedule: " + ", ".join(
            f"{r.model.name} {r.training.epochs:g}" for r in recipes)
            + " (early stopping on the validation metric may end a run sooner)")
    else:
        line = "training budgets differ: " + ", ".join(
            f"{r.model.name} {r.training.max_seconds or 'no'} s" for r in recipes)
    from hf_rnn.tasks import TASKS

    windows = all(TASKS[r.task.name].app_input == "window" for r in recipes)  # a series is never cut
    if len(examples) == 1 and None not in examples and not windows:
        line += f", on {examples.pop():,} training examples"
    return line


def compare_runs(run_dirs: list[str | os.PathLike], output_dir: str | os.PathLike,
                 allow_different_tokenizers: bool = False, latency_examples: int = 30) -> Comparison:
    """Compare finished run folders as they are (no training): same checks, same report."""
    from hf_rnn.arguments import list_argument, path_argument
    from hf_rnn.runs.folder import check_report_dir, usable_path
    from hf_rnn.tasks import load_task

    run_dirs = list_argument(run_dirs, "compare_runs: run_dirs", "run folders", paths=True)
    path_argument(output_dir, "compare_runs: output_dir")
    if not run_dirs:
        raise RunError("nothing to compare: the run list is empty")
    seen: dict[Path, str | os.PathLike] = {}
    for d in run_dirs:
        where = Path(d).expanduser().resolve()
        if where in seen:  # one run, two rows
            raise RunError(f"a run folder is named twice: {str(seen[where])!r} and {str(d)!r}; name it once")
        seen[where] = d
    check_report_dir(output_dir)  # writable, new or a comparison's own: never a saved model's folder
    runs = [read_run(d) for d in run_dirs]
    check_comparable(runs, allow_different_tokenizers=allow_different_tokenizers)
    meta = runs[0].metrics.task
    task = load_task(meta.name, None if meta.source == "builtin" else meta.source, **meta.options)
    if meta.sizes["test"] < len(task.dataset["test"]):
        task = task.subset({"test": meta.sizes["test"]})
    out = usable_path(output_dir, "report folder")
    start = time.perf_counter()
    rows = [_row_from_run(run, task, latency_examples, False) for run in runs]
    _unique_row_names(rows, runs)
    # the folder is made when there is something to write; interrupted while writing, the folder this call
    # made goes (a folder that existed before stays)
    made = _first_missing(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        _keep_run_predictions(rows, runs, out)
        figures = _figures(task.name, runs, rows, task, out, False)
        comparison = Comparison(task=task.name, profile="runs", budget="as trained (see each run's config.yaml)",
                                rows=rows, output_dir=str(out), hardware=_hardware(runs),
                                figures=figures, seconds=round(time.perf_counter() - start, 1), date=_now(),
                                budget_kind="as trained",
                                curve_summary=curve_summary(runs, task.primary_metric, task.greater_is_better),
                                primary_metric=task.primary_metric)
        _judge(comparison, task, False)
        write_report(comparison, task)
    except BaseException:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
        raise
    return comparison


# =========================================================================== training


def _is_llm_name(name: str) -> bool:
    """Whether ``--model name`` is an LLM's (a name no other family answers to is a Hub id or folder)."""
    family = family_for_model_name(name)
    return family is None or family.catch_all


def _folder_name(name: str) -> str:
    """A model name as a folder name: its last path part, other characters than ``-_.`` made ``_``, no leading
    dot (``..`` must not name the report folder's parent)."""
    folder = "".join(c if c.isalnum() or c in "-_." else "_" for c in name.strip("/").split("/")[-1])
    return folder.lstrip(".") or "model"


def _clashing(names: dict[str, str]) -> set[str]:
    """The keys whose value another key has too, case aside (one folder on a macOS or Windows disk)."""
    counts = collections.Counter(v.lower() for v in names.values())
    return {k for k, v in names.items() if counts[v.lower()] > 1}


def _folder_names(models: list[str]) -> dict[str, str]:
    """Each model's run folder name under the report folder: unique, and the same whatever the order of the list.

    The model's name as a folder name (``_folder_name``); names that clash take their parent folder in front
    (``/a/model`` and ``/b/model``: ``a_model`` and ``b_model``), and where that clashes still, a short hash
    of the name as typed.
    """
    folders = {m: _folder_name(m) for m in models}
    for m in _clashing(folders):
        folders[m] = _folder_name("_".join(Path(m.rstrip("/")).parts[-2:]))
    for m in _clashing(folders):
        folders[m] = f"{folders[m]}-{hashlib.sha1(m.encode()).hexdigest()[:8]}"
    return folders


def _model_identity(recipe) -> str:
    """What two recipes that train the same model share: the recipe but where it is written and its display
    name, a local LLM folder by its resolved path (``/a/model`` and ``/a/model/`` are one model)."""
    data = recipe.to_dict()
    data.pop("output_dir", None)
    model = dict(data.get("model") or {})
    model.pop("name", None)
    path = model.get("name_or_path")
    if isinstance(path, str) and Path(path).expanduser().exists():
        model["name_or_path"] = str(Path(path).expanduser().resolve())
    data["model"] = model
    return json.dumps(data, sort_keys=True, default=str)


def _first_missing(folder: Path) -> Path | None:
    """The outermost folder that ``folder.mkdir(parents=True)`` would make; ``None`` when ``folder`` exists."""
    missing = None
    for path in [folder.absolute(), *folder.absolute().parents]:
        if path.exists():
            return missing
        missing = path
    return missing


@contextlib.contextmanager
def _no_empty_folders_on_failure(folders: list[Path]):
    """On an error or interrupt in the block, remove what it made of ``folders`` (and of their parents) that
    holds no file. A folder that existed before stays, and so does one with a file in it (a stopped run's
    checkpoints, which the next comparison resumes)."""
    made = {top for f in folders if (top := _first_missing(f)) is not None}
    try:
        yield
    except BaseException:
        for top in sorted(made, key=lambda p: len(p.parts), reverse=True):  # inner first: an outer one empties
            if top.is_dir():
                for path, _, _ in os.walk(top, topdown=False):
                    with contextlib.suppress(OSError):  # not empty: kept
                        os.rmdir(path)
        raise


def _train_or_reuse(name: str, recipe, reuse: bool, progress: bool) -> Run:
    from hf_rnn.training.recipes import dump_yaml

    folder = Path(recipe.output_dir)
    wanted = dump_yaml(recipe.to_dict())
    if reuse and (folder / "metrics.json").exists() and (folder / "config.yaml").exists():
        if not (folder / PREDICTIONS).is_file():  # its test predictions are what the paired tests read
            _say(progress, f"[compare] {name}: the finished run in {folder} kept no per-example predictions "
                           "(trained before they were kept): training it again")
        elif _same_recipe(folder / "config.yaml", recipe):
            try:
                run = read_run(folder)
                _say(progress, f"[compare] {name}: reusing the finished run in {folder}")
                return run
            except RunError:
                pass
    from hf_rnn.runs.folder import latest_checkpoint

    # A run of the same recipe that was stopped (killed, machine restarted) continues from its last checkpoint.
    resume = (reuse and not (folder / "metrics.json").exists() and latest_checkpoint(folder) is not None
              and (folder / "config.yaml").exists() and _same_recipe(folder / "config.yaml", recipe))
    folder.mkdir(parents=True, exist_ok=True)
    recipe_file = folder.parent / f".{folder.name}.recipe.yaml"
    recipe_file.write_text(wanted, encoding="utf-8")
    verb = f"resuming from {latest_checkpoint(folder).name}" if resume else "training"
    env, threads = _child_environment()
    on = f", {threads} torch thread(s): the cores other work leaves free" if threads else ""
    _say(progress, f"[compare] {name}: {verb} ({recipe.model.family}) in {folder}{on} ...")
    # the same train_recipe as in-process callers, in a child: its memory peak is its own, its crash is not ours
    cmd = [sys.executable, "-m", "hf_rnn.training.recipe_training", "--config", str(recipe_file), "--output-dir", str(folder),
           "--resume" if resume else "--overwrite"]
    started = time.perf_counter()
    try:
        returncode, tail = _run_with_progress(cmd, name, folder, recipe, progress, env=env)
    finally:
        recipe_file.unlink(missing_ok=True)
    if returncode != 0:
        raise HfRnnError(f"training {name} failed (exit {returncode}); last lines:\n" + "\n".join(tail))
    _say(progress, f"[compare] {name}: done in {time.perf_counter() - started:.0f} s")
    return read_run(folder)


PROGRESS_SECONDS = 15.0  # how often a training child's progress is printed


def _child_environment() -> tuple[dict[str, str] | None, int | None]:
    """The environment of a training child and its torch threads: the cores other processes leave free now
    (``cpu_load.threads_to_use``), unless the user set ``OMP_NUM_THREADS`` (then ``(None, None)``)."""
    from hf_rnn.comparison.cpu_load import threads_to_use

    threads = threads_to_use()
    if threads is None:
        return None, None
    return {**os.environ, "OMP_NUM_THREADS": str(threads)}, threads


@contextlib.contextmanager
def _free_cores():
    """This process's torch threads while scoring: the cores other work leaves free (the user's
    ``OMP_NUM_THREADS`` stands); the caller's setting is back afterwards."""
    import torch

    from hf_rnn.comparison.cpu_load import threads_to_use

    threads, before = threads_to_use(), torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _run_with_progress(cmd: list[str], name: str, folder: Path, recipe, progress: bool,
                       env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """Run one training child; every ``PROGRESS_SECONDS`` print its step, metric and time left, read from the
    run's own event stream (``metrics.jsonl``). Returns the exit status and the child's last 15 output lines."""
    import threading

    from hf_rnn.training.child_process import supervised

    tail: collections.deque[str] = collections.deque(maxlen=15)
    # an interrupt (Ctrl+C, a notebook's stop, SIGTERM under the CLI) stops the child with us; a parent killed
    # outright is noticed by the child itself (hf_rnn.training.child_process)
    with supervised(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as proc:
        reader = threading.Thread(target=lambda: [tail.append(line.rstrip()) for line in proc.stdout], daemon=True)
        reader.start()
        log, last, said = folder / "metrics.jsonl", time.monotonic(), ""
        while proc.poll() is None:
            time.sleep(0.2)
            if progress and time.monotonic() - last >= PROGRESS_SECONDS:
                last = time.monotonic()
                line = progress_line(log, recipe)
                if line and line != said:  # a new step or evaluation only: a slow step does not repeat the line
                    said = line
                    _say(progress, f"[compare] {name}: {line}")
        reader.join(timeout=5)
    return proc.returncode, list(tail)


def _read_json_quiet(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def progress_line(log: Path, recipe) -> str:
    """Where a run stands, from its ``metrics.jsonl``: step, loss, latest validation metric, time left; and
    the evaluation under way, if one is (``runs.EVAL_PROGRESS``)."""
    try:
        lines = log.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    train = evaluation = None
    for raw in lines:
        try:
            event = json.loads(raw)
        except ValueError:
            continue  # a line being written
        if event.get("event") == "train":
            train = event
        elif event.get("event") == "eval" and event.get("split", "validation") == "validation":
            evaluation = event
    if train is None:
        return ""
    seconds = float(train.get("train_seconds", 0.0))
    parts = [f"step {train['step']}", f"epoch {train.get('epoch', 0):.2f}", f"loss {train.get('loss', 0):.3g}"]
    metric = TASKS[recipe.task.name].primary_metric
    if evaluation is not None and metric in evaluation:
        parts.append(f"validation {metric} {evaluation[metric]:.4g}")
    evaluating = _read_json_quiet(log.parent / EVAL_PROGRESS)
    if evaluating.get("of"):
        parts.append(f"scoring {evaluating.get('split', '?')}: batch {evaluating.get('batches', 0)} of "
                     f"{evaluating['of']}")
    budget = recipe.training
    if budget.max_seconds:
        parts.append(f"{seconds:.0f} of {budget.max_seconds:g} s trained")
    elif budget.epochs and train.get("epoch"):
        left = seconds * (budget.epochs - train["epoch"]) / train["epoch"]
        parts.append(f"{seconds:.0f} s trained, about {left / 60:.0f} min left (at most {budget.epochs:g} epochs)")
    return ", ".join(parts)


def _same_recipe(saved: Path, recipe) -> bool:
    """Whether a run folder's ``config.yaml`` is ``recipe``, wherever the folder is (``output_dir`` aside).

    The saved recipe is rebuilt first, so a key added to the recipe format since (with its default) does not
    count as a difference.
    """
    import yaml

    from hf_rnn.training.recipes import build_recipe

    try:
        data = yaml.safe_load(saved.read_text(encoding="utf-8"))
        rebuilt = build_recipe(data).to_dict()
    except (OSError, yaml.YAMLError, HfRnnError, TypeError, AttributeError):
        return False
    wanted = recipe.to_dict()
    return {k: v for k, v in rebuilt.items() if k != "output_dir"} == \
        {k: v for k, v in wanted.items() if k != "output_dir"}


def _every(seconds: float, report: Callable[[int, int], None]) -> Callable[[int, int], None]:
    """``report(done, total)`` at most once every ``seconds``, and for the last batch."""
    last = [time.monotonic()]

    def call(done: int, total: int) -> None:
        if done >= total or time.monotonic() - last[0] >= seconds:
            last[0] = time.monotonic()
            report(done, total)

    return call


def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, file=sys.stderr, flush=True)


# =========================================================================== measuring


def _row_from_run(run: Run, task, latency_examples: int, progress: bool) -> ModelResult:
    m = run.metrics
    scores = _numbers(m.test, f"the run in {run.path}")  # before minutes of loading and timing
    model, tokenizer = load_run_model(run)
    p50, p95, other = measure_latency(model, tokenizer, task, latency_examples)
    _say(progress, f"[compare] {run.name}: latency p50 {p50:.1f} ms, p95 {p95:.1f} ms" + _busy_note(other))
    return ModelResult(
        name=run.name, family=run.family, role=TRAINED, builtin_llm=_is_builtin_llm(run), run_dir=str(run.path),
        metrics=scores,
        parameters_total=m.parameters.total, parameters_trainable=m.parameters.trainable,
        train_seconds=m.training.train_seconds, tokens_per_second=m.training.tokens_per_second,
        latency_ms_p50=p50, latency_ms_p95=p95, latency_other_load=other, peak_memory_mb=m.memory.cpu_peak_rss_mb,
        steps=m.training.steps, examples=m.training.examples, epochs=m.training.epochs,
        note=f"stopped by {m.training.stopped_because}, best at step {m.best.step}",
    )


def _is_builtin_llm(run: Run) -> bool:
    """Whether the run fine-tuned the built-in LLM (an LLM run whose recipe named no other model)."""
    from hf_rnn.assets.cache import builtin_llm_names

    source = run.metrics.model.name_or_path
    return run.family == LLM.name and (source is None or str(source).lower() in builtin_llm_names())


ZERO_SHOT_CACHE = "zero_shot.json"


def _zero_shot_row(task, latency_examples: int, progress: bool, cache: Path | None = None) -> ModelResult:
    """The untrained instruct LLM scored on ``task``'s test split; kept in ``cache`` for the next comparison.

    Nothing about it changes between comparisons of the same test split (no training), so a rerun reuses the
    row when the split's hash, the task's options and the latency sample size match.
    """
    from hf_rnn.families.llm.llm_zero_shot import zero_shot
    from hf_rnn.runs.metrics import data_hash as _data_hash
    from hf_rnn.training.memory import peak_rss_mb
    from hf_rnn.training.parameters import count_parameters

    key = {"task": task.name, "options": {k: v for k, v in sorted(task.options.items())},
           "test": _data_hash(task.dataset["test"]), "latency_examples": latency_examples,
           # what the latency times (a row cached before Task.predict timed a language model's scoring of a block)
           "latency": "Task.predict",
           # a row cached before per-example predictions were kept has none: scored again
           "predictions": PREDICTIONS_FORMAT}
    name = "smollm2 zero-shot"
    if cache is not None and cache.exists():
        try:
            saved = json.loads(cache.read_text(encoding="utf-8"))
            row = ModelResult.from_dict(saved["row"], f"{cache}: row")
            if saved.get("key") == key and row.predictions and (cache.parent / row.predictions).is_file():
                _say(progress, f"[compare] smollm2 zero-shot: reusing the scores in {cache}")
                return row
        except (ValueError, TypeError, KeyError, ResultsError):
            pass  # unreadable: score again
    _say(progress, "[compare] smollm2 zero-shot: scoring the untrained instruct model ...")
    model, scored, tokenizer = zero_shot_model(task)  # timed with the question it is scored with
    metrics, records = zero_shot(task, model=model, tokenizer=tokenizer, with_examples=True,
                                 progress=_every(PROGRESS_SECONDS, lambda done, total: _say(
                                     progress, f"[compare] smollm2 zero-shot: {done:,} of {total:,} test examples "
                                               "scored")))
    p50, p95, other = measure_latency(scored, tokenizer, task, latency_examples)
    _say(progress, f"[compare] smollm2 zero-shot: latency p50 {p50:.1f} ms, p95 {p95:.1f} ms" + _busy_note(other))
    total, _ = count_parameters(model)
    row = ModelResult(
        name=name, family=LLM.name, role=ZERO_SHOT, builtin_llm=True, run_dir=None,
        metrics=_numbers(metrics, "the zero-shot LLM"), parameters_total=total,
        parameters_trainable=0, train_seconds=0.0, tokens_per_second=None, latency_ms_p50=p50,
        latency_ms_p95=p95, latency_other_load=other, peak_memory_mb=peak_rss_mb(),
        note="no training: a prompt asks the instruct model (reference)",
        predictions=_write_row_predictions(cache.parent if cache is not None else None, name, task, records),
    )
    if cache is not None:
        atomic_write_text(cache, json.dumps({"key": key, "row": asdict(row)}, indent=1))
    return row


def _busy_note(other_cores: float) -> str:
    return (f" (other processes kept {other_cores:.1f} cores busy meanwhile: a busy machine's times)"
            if other_cores >= BUSY_CORES else "")


def measure_latency(model, tokenizer, task, n: int = 30) -> tuple[float, float, float]:
    """p50 and p95 milliseconds to answer one test input through ``Task.predict`` (raw input to answer, batch of
    1, after a warm-up), and the cores' worth of other processes' work meanwhile (``cpu_load.OtherLoad``: above
    about 0.25 the times are a busy machine's)."""
    from hf_rnn.comparison.cpu_load import OtherLoad

    sub = task.subset({"test": n}) if task.app_input != "window" else task
    inputs = sub.example_inputs("test")[:n]
    times = []
    with OtherLoad() as load:
        for i, example in enumerate([inputs[0], *inputs]):
            start = time.perf_counter()
            sub.predict(model, tokenizer, [example])
            if i:  # the first call warms up allocations and kernels
                times.append(1000 * (time.perf_counter() - start))
    return (round(float(np.percentile(times, 50)), 2), round(float(np.percentile(times, 95)), 2),
            round(load.cores, 2))


def _numbers(metrics: dict, where: str) -> dict[str, float]:
    """The numeric metrics of a row; a ``RunError`` for one that is not finite (a failed run's NaN must not
    enter a table as a score)."""
    numbers = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    broken = next((k for k, v in numbers.items() if not math.isfinite(v)), None)
    if broken is not None:
        raise RunError(f"{where}: its test {broken} is {numbers[broken]}, not a finite number (a failed training "
                       "or scoring): train or score it again rather than report it")
    return numbers


# =========================================================================== reference rows


def reference_row(ref, task=None, out: Path | None = None) -> ModelResult:
    """A reference (``hf_rnn.comparison.references``) as a table row: its metrics, no parameters, no training; its
    per-example records written into ``out/predictions/`` where given."""
    return ModelResult(name=ref.name, family=REFERENCE_FAMILY, role=REFERENCE, run_dir=None, metrics=_numbers(ref.metrics, f"the reference {ref.name}"),
                       parameters_total=0, parameters_trainable=0, train_seconds=None, tokens_per_second=None,
                       latency_ms_p50=None, latency_ms_p95=None, peak_memory_mb=None, note=ref.note,
                       predictions=_write_row_predictions(out, ref.name, task, ref.examples) if task else None)


# =========================================================================== figures


def _figures(task_name: str, runs: list[Run], rows: list[ModelResult], task, out: Path, progress: bool) -> dict:
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
    figures.update(_attention_figures(task_name, runs, out, progress, task))
    return figures


def _attention_figures(task_name: str, runs: list[Run], out: Path, progress: bool, task=None) -> dict:
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
            _say(progress, f"[compare] {run.name}: no attention map ({str(e).splitlines()[0]})")
            continue
        name = f"attention_{_folder_name(run.name)}.png"
        save_attention(maps, out / name)
        figures[f"attention {run.name}"] = name
        maps_by_family.setdefault(run.family, maps)
    shown = sorted(maps_by_family, key=list(FAMILIES).index)  # registration order: the RNN family's first
    if len(shown) >= 2:
        plot_side_by_side(maps_by_family[shown[0]], maps_by_family[shown[1]], out / "attention_side_by_side.png")
        figures["attention side by side"] = "attention_side_by_side.png"
    return figures
