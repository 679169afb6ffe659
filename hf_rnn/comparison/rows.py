"""A comparison's table rows: a trained run's, the zero-shot LLM's and a reference's, each with its test metrics,
cost (parameters, training seconds, latency, peak memory) and per-example predictions for the paired tests."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from hf_rnn.assets.cache import atomic_write_bytes, atomic_write_text
from hf_rnn.comparison import model_runs
from hf_rnn.comparison.cpu_load import BUSY_CORES
from hf_rnn.comparison.lecture_answers import zero_shot_model
from hf_rnn.comparison.model_runs import every, folder_name, say
from hf_rnn.comparison.schema import (
    REFERENCE,
    REFERENCE_FAMILY,
    TRAINED,
    ZERO_SHOT,
    ModelResult,
    ResultsError,
)
from hf_rnn.families import LLM
from hf_rnn.runs.predictions import FORMAT as PREDICTIONS_FORMAT
from hf_rnn.runs.predictions import PREDICTIONS, PREDICTIONS_DIR, write_predictions
from hf_rnn.runs.run import Run, RunError, load_run_model


def row_from_run(run: Run, task, latency_examples: int, progress: bool) -> ModelResult:
    m = run.metrics
    scores = finite_metrics(m.test, f"the run in {run.path}")  # before minutes of loading and timing
    model, tokenizer = load_run_model(run)
    p50, p95, other = measure_latency(model, tokenizer, task, latency_examples)
    say(progress, f"[compare] {run.name}: latency p50 {p50:.1f} ms, p95 {p95:.1f} ms" + busy_note(other))
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


def zero_shot_row(task, latency_examples: int, progress: bool, cache: Path | None = None) -> ModelResult:
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
                say(progress, f"[compare] smollm2 zero-shot: reusing the scores in {cache}")
                return row
        except (ValueError, TypeError, KeyError, ResultsError):
            pass  # unreadable: score again
    say(progress, "[compare] smollm2 zero-shot: scoring the untrained instruct model ...")
    model, scored, tokenizer = zero_shot_model(task)  # timed with the question it is scored with
    metrics, records = zero_shot(task, model=model, tokenizer=tokenizer, with_examples=True,
                                 progress=every(model_runs.PROGRESS_SECONDS, lambda done, total: say(
                                     progress, f"[compare] smollm2 zero-shot: {done:,} of {total:,} test examples "
                                               "scored")))
    p50, p95, other = measure_latency(scored, tokenizer, task, latency_examples)
    say(progress, f"[compare] smollm2 zero-shot: latency p50 {p50:.1f} ms, p95 {p95:.1f} ms" + busy_note(other))
    total, _ = count_parameters(model)
    row = ModelResult(
        name=name, family=LLM.name, role=ZERO_SHOT, builtin_llm=True, run_dir=None,
        metrics=finite_metrics(metrics, "the zero-shot LLM"), parameters_total=total,
        parameters_trainable=0, train_seconds=0.0, tokens_per_second=None, latency_ms_p50=p50,
        latency_ms_p95=p95, latency_other_load=other, peak_memory_mb=peak_rss_mb(),
        note="no training: a prompt asks the instruct model (reference)",
        predictions=write_row_predictions(cache.parent if cache is not None else None, name, task, records),
    )
    if cache is not None:
        atomic_write_text(cache, json.dumps({"key": key, "row": asdict(row)}, indent=1))
    return row


def busy_note(other_cores: float) -> str:
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


def finite_metrics(metrics: dict, where: str) -> dict[str, float]:
    """The numeric metrics of a row; a ``RunError`` for one that is not finite (a failed run's NaN must not
    enter a table as a score)."""
    numbers = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    broken = next((k for k, v in numbers.items() if not math.isfinite(v)), None)
    if broken is not None:
        raise RunError(f"{where}: its test {broken} is {numbers[broken]}, not a finite number (a failed training "
                       "or scoring): train or score it again rather than report it")
    return numbers


def reference_row(ref, task=None, out: Path | None = None) -> ModelResult:
    """A reference (``hf_rnn.comparison.references``) as a table row: its metrics, no parameters, no training; its
    per-example records written into ``out/predictions/`` where given."""
    return ModelResult(name=ref.name, family=REFERENCE_FAMILY, role=REFERENCE, run_dir=None, metrics=finite_metrics(ref.metrics, f"the reference {ref.name}"),
                       parameters_total=0, parameters_trainable=0, train_seconds=None, tokens_per_second=None,
                       latency_ms_p50=None, latency_ms_p95=None, peak_memory_mb=None, note=ref.note,
                       predictions=write_row_predictions(out, ref.name, task, ref.examples) if task else None)


def keep_run_predictions(rows: list[ModelResult], runs: list[Run], out: Path) -> None:
    """Copy each run's per-example predictions into ``out/predictions/`` (a row without them keeps ``None``),
    named after the row (unique in a comparison)."""
    for row, run in zip(rows, runs):
        source = run.path / PREDICTIONS
        if source.is_file():
            relative = f"{PREDICTIONS_DIR}/{folder_name(row.name.replace('/', '_'))}.jsonl.gz"
            atomic_write_bytes(out / relative, source.read_bytes())
            row.predictions = relative


def keep_seed_predictions(rows: list[ModelResult], runs_by_row: dict[str, list[Run]],
                          out: Path) -> dict[str, list[str]]:
    """Copy the per-example predictions of each row's seed-k runs (k > 1) into ``out/predictions/``, named after
    seed 1's file (``<file>.jsonl.gz``: ``<file>-seed<k>.jsonl.gz``); each row's files in seed order, seed 1's
    first, relative to ``out`` (a row whose seed 1 kept none: none)."""
    kept: dict[str, list[str]] = {}
    for row in rows:
        runs = runs_by_row.get(row.name, [])
        if not row.predictions or len(runs) < 2:
            continue
        stem = row.predictions[: -len(".jsonl.gz")] if row.predictions.endswith(".jsonl.gz") else row.predictions
        files = [row.predictions]
        for k, run in enumerate(runs[1:], start=2):
            source = run.path / PREDICTIONS
            if source.is_file():
                relative = f"{stem}-seed{k}.jsonl.gz"
                atomic_write_bytes(out / relative, source.read_bytes())
                files.append(relative)
        kept[row.name] = files
    return kept


def write_row_predictions(out: Path | None, name: str, task, records: list[dict] | None) -> str | None:
    """Write a row's per-example records into ``out/predictions/``; the file's path relative to ``out``."""
    if out is None or records is None:
        return None
    relative = f"{PREDICTIONS_DIR}/{folder_name(name)}.jsonl.gz"
    write_predictions(out / relative, task, records)
    return relative


def unique_row_names(rows: list[ModelResult], runs: list[Run]) -> None:
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
