"""Compare the families on one task: matched budgets, one test split, one report.

``compare(task, models, profile)`` trains each model from its recipe under the same
budget (or reuses a finished run with the same resolved recipe), scores all on
the same test split, measures inference latency per example, adds the zero-shot LLM as a
reference row where the task has one, and writes to one folder::

    results.json   every number below, machine-readable
    report.md      the table, the plots, what was matched
    report.html    the same, self-contained (images inlined)
    learning_curves.png, quality_vs_parameters.png, attention_<model>.png, attention_side_by_side.png

The pieces live beside it: each model's run (``model_runs``: trained in a child process, resumed or
reused), the table rows (``rows``), the figures (``figures``), the budget sentences (``budget``), the
seeds (``seeds``) and the paired tests and verdict (``hf_rnn.report.verdict``).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from hf_rnn.comparison.budget import budget_line, curve_summary
from hf_rnn.comparison.figures import comparison_figures
from hf_rnn.comparison.lecture_answers import lecture_outputs
from hf_rnn.comparison.model_runs import (
    clashing,
    first_missing,
    folder_names,
    free_cores,
    model_identity,
    no_empty_folders_on_failure,
    say,
    train_or_reuse,
)
from hf_rnn.comparison.profiles import PROFILE_NAMES, Profile
from hf_rnn.comparison.references import references
from hf_rnn.comparison.rows import (
    ZERO_SHOT_CACHE,
    keep_run_predictions,
    keep_seed_predictions,
    reference_row,
    row_from_run,
    unique_row_names,
    zero_shot_row,
)
from hf_rnn.comparison.schema import ZERO_SHOT, Comparison
from hf_rnn.comparison.seeds import check_seeds, pairs_by_role, seed_folder, seed_value
from hf_rnn.comparison.seeds import summary as seed_summary
from hf_rnn.errors import ConfigError
from hf_rnn.families import family_named
from hf_rnn.report.markdown import write_report
from hf_rnn.report.verdict import judge
from hf_rnn.runs.run import Run, RunError, check_comparable, read_run
from hf_rnn.tasks import TASKS

__all__ = ["ZERO_SHOT_CACHE", "compare", "compare_runs", "comparison_variant", "profile_overrides"]

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
            each model's mean ± standard deviation, the verdict pair's test seed by seed and over every seed at once.
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
        same = spelled.setdefault(model_identity(base), name)
        if same != name:  # two names of one model (rnn and bilstm, llm and smollm2, BiLSTM and bilstm)
            raise ConfigError(f"a model is named twice: {same!r} and {name!r} are the same {task} recipe "
                              f"({base.model.name}); name it once")
        layers = family_named(base.family).quick_profile_layers(base)
        recipes[name] = load_recipe(task, name, overrides=[*profile_overrides(prof, base.family, layers, name), *overrides])
    variant = comparison_variant(task, models[0], recipes[models[0]])
    named = f"{task}-{variant}" if variant else task
    out = Path(output_dir or f"runs/compare-{named}-{profile}").expanduser()
    folders = folder_names(models)
    shared = clashing({name: recipe.model.name for name, recipe in recipes.items()})
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
        say(progress, f"[compare] budget: {prof.seconds:g} s of training per model (wall clock: a faster machine "
                      "gives every model more steps; the report shows quality against time)")
    # interrupted before a run wrote anything, no empty folder stays; a stopped run's checkpoints do (resumed)
    seed_runs: dict[str, list[Run]] = {}
    with no_empty_folders_on_failure([out, *(Path(f) for f in every_folder)]):
        out.mkdir(parents=True, exist_ok=True)
        for name, group in seed_recipes.items():
            runs.append(train_or_reuse(name, group[0], reuse=reuse, progress=progress))
            seed_runs[name] = [runs[-1]]
            for k, recipe in enumerate(group[1:], start=2):  # seed 1 is the recipe as it is, in the usual folder
                seed_runs[name].append(train_or_reuse(f"{name} seed {k}", recipe, reuse=reuse, progress=progress))
    check_comparable(runs)
    check_comparable([run for group in seed_runs.values() for run in group])

    from hf_rnn.tasks import load_task

    t = recipes[models[0]].task
    base_task = load_task(task, t.source, **t.options)
    test_size = t.max_test_examples
    eval_task = base_task.subset({"test": test_size}) if test_size else base_task

    with free_cores():
        rows = [row_from_run(run, eval_task, prof.latency_examples, progress) for run in runs]
        keep_run_predictions(rows, runs, out)
        if zero_shot and task_class.zero_shot and not any(r.role == ZERO_SHOT for r in rows):
            rows.append(zero_shot_row(eval_task, prof.latency_examples, progress, cache=out / ZERO_SHOT_CACHE))

        refs = references(eval_task)
        rows += [reference_row(ref, eval_task, out) for ref in refs]
        figures = comparison_figures(task, runs, rows, eval_task, out, progress)
        examples = lecture_outputs(task, rows, out, progress,
                                   answers={r.name: r.answer for r in refs if r.answer}, task=eval_task)
    comparison = Comparison(
        task=task, profile=profile, variant=variant,
        budget=budget_line(recipes.values()),
        rows=rows, output_dir=str(out), hardware=_hardware(runs), figures=figures,
        seconds=round(time.perf_counter() - start, 1), date=_now(),
        budget_kind="epochs" if prof.epochs is not None else "seconds",
        curve_summary=curve_summary(runs, eval_task.primary_metric, eval_task.greater_is_better),
        examples=examples, primary_metric=eval_task.primary_metric,
    )
    _judge(comparison, eval_task, progress)
    if seeds > 1:
        by_row = {row.name: seed_runs[name] for row, name in zip(rows, recipes)}
        verdict, third = pairs_by_role(rows, by_row, eval_task.primary_metric, eval_task.greater_is_better)
        comparison.seeds = seed_summary(
            by_row, {row.name: [seed_value(recipes[name].training.seed, k) for k in range(1, seed_counts[name][0] + 1)]
                     for row, name in zip(rows, recipes)},
            verdict, eval_task, eval_task.primary_metric, eval_task.greater_is_better,
            limits={row.name: seed_counts[name][1] for row, name in zip(rows, recipes) if seed_counts[name][1]},
            third_pairs=third)
        for name, kept in keep_seed_predictions(rows, by_row, out).items():
            comparison.seeds["per_model"][name]["predictions"] = kept  # published with the rows' own
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
    say(progress, "[compare] paired tests on the per-example predictions ...")
    found = judge(comparison.rows, comparison.output_dir, task, task.primary_metric, task.greater_is_better,
                  task)
    comparison.paired_tests, comparison.verdict = found.tests, found.paragraph
    comparison.disagreements, comparison.paired_tests_note = found.disagreements, found.note


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
    rows = [row_from_run(run, task, latency_examples, False) for run in runs]
    unique_row_names(rows, runs)
    # the folder is made when there is something to write; interrupted while writing, the folder this call
    # made goes (a folder that existed before stays)
    made = first_missing(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        keep_run_predictions(rows, runs, out)
        figures = comparison_figures(task.name, runs, rows, task, out, False)
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
