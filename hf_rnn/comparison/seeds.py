"""Several seeds per model: does the verdict survive another initialisation and data order?

``hf-rnn compare --seeds N`` trains each model N times, ``training.seed`` = the recipe's seed + k - 1 for seed k
(initialisation and data order both follow it). Seed 1 is the recipe as it is, in the usual folder
(``<model>``), so a finished comparison's runs are reused; seed k > 1 goes to ``<model>-seed<k>``.

``summary`` gives each model's primary metric over the seeds (mean ± sample standard deviation) and the verdict
pair's paired test seed by seed (seed k of one model against seed k of the other), says whether the sign
of the difference and its significance hold across seeds, and tests the pair once over every seed: each test
example's score averaged over a model's runs (``hf_rnn.comparison.seed_averaged``). That last test is the
verdict the README's table gives for a comparison of several seeds.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hf_rnn.comparison.paired_tests import PairedResult, holm, paired_test
from hf_rnn.errors import ConfigError, HfRnnError
from hf_rnn.runs.predictions import PREDICTIONS, read_predictions

MAX_SEEDS = 20


def check_seeds(seeds: Any) -> int:
    """``seeds`` as a count of runs per model (1 to ``MAX_SEEDS``), or a ``ConfigError`` naming it."""
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
        raise ConfigError(f"seeds must be a whole number from 1 to {MAX_SEEDS} (runs per model), not {seeds!r}")
    return seeds


def seed_folder(folder: str | Path, k: int) -> Path:
    """Seed ``k``'s run folder beside seed 1's (``folder`` itself)."""
    folder = Path(folder)
    return folder if k == 1 else folder.with_name(f"{folder.name}-seed{k}")


def seed_value(base: int, k: int) -> int:
    """``training.seed`` of seed ``k`` (1-based): the recipe's for the first."""
    return base + k - 1


def summary(runs_by_model: dict[str, list], training_seeds: dict[str, list[int]], verdict_pair: tuple[str, str] | None, kind: Any,
            metric: str, greater_is_better: bool, limits: dict[str, str] | None = None,
            third_pairs: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """``results.json``'s ``seeds``: per model the metric of each seed, their mean and standard deviation; the
    verdict ``pair`` (``verdict_pair``: chosen on the means); per seed that pair's paired test; the pair's test over
    every seed at once (``averaged``, ``hf_rnn.comparison.seed_averaged``); the same test of each third family's
    pair (``third_family``: a list, each test naming its ``a`` and ``b``); and a sentence on whether the same model
    leads significantly at every seed (``holds``).

    Args:
        runs_by_model: each model's runs (``hf_rnn.runs.run.Run``), seed 1 first.
        training_seeds: each model's ``training.seed`` of each run, seed 1 first.
        verdict_pair: the verdict's two model names (``a``, ``b``), or None (nothing to test seed by seed).
        limits: why a model trained fewer seeds than the others (``Profile.seed_limits``), by model name.
        third_pairs: each third family's pairs (``pairs_by_role``), tested over every seed like the verdict's.
    """
    count = max(len(r) for r in runs_by_model.values())
    per_model = {}
    for name, runs in runs_by_model.items():
        values = [float(run.metrics.test[metric]) for run in runs if metric in run.metrics.test]
        per_model[name] = {"training_seeds": list(training_seeds.get(name, [])), "values": values, "mean": statistics.fmean(values) if values else None,
                           "std": statistics.stdev(values) if len(values) > 1 else None,
                           # each run's own training seconds (what a report says the comparison took reads them)
                           "train_seconds": [run.metrics.training.train_seconds for run in runs]}
        if limits and limits.get(name):
            per_model[name]["fewer_seeds"] = limits[name]
    per_seed: list[dict[str, Any]] = []
    once = False
    if verdict_pair is not None:
        a, b = verdict_pair
        runs_a, runs_b = runs_by_model[a], runs_by_model[b]
        once = len(runs_a) != len(runs_b) and 1 in (len(runs_a), len(runs_b))
        if once:  # a model trained once meets each seed of the other
            runs_a, runs_b = runs_a * (len(runs_b) if len(runs_a) == 1 else 1), runs_b * (len(runs_a) if len(runs_b) == 1 else 1)
        for k, (run_a, run_b) in enumerate(zip(runs_a, runs_b), 1):
            entry: dict[str, Any] = {"seed": k, "a": a, "b": b}
            try:
                pa, pb = read_predictions(run_a.path / PREDICTIONS), read_predictions(run_b.path / PREDICTIONS)
                if pa is None or pb is None:
                    raise HfRnnError("no per-example predictions (a run from before they were written)")
                r = paired_test(kind.paired_test, metric, a, pa.records, b, pb.records, greater_is_better)
                entry.update(difference=r.difference, ci_low=r.ci_low, ci_high=r.ci_high, p_value=r.p_value,
                             test=r.test, better=r.better, significant=r.significant)
            except HfRnnError as e:
                entry["error"] = str(e)
            per_seed.append(entry)
    averaged = _as_dict(_averaged_test(runs_by_model, verdict_pair, kind, metric, greater_is_better))
    third = [test for pair in third_pairs if (test := _averaged_test(runs_by_model, tuple(pair), kind, metric,
                                                                      greater_is_better))]
    # the verdict is the comparison's one question; the third family's pairs are a family of their own, Holm-corrected
    # together (the README's second table reads p_holm)
    holm([r for r in third if isinstance(r, PairedResult)])
    third = [_as_dict(r) for r in third]
    return {"count": count, "per_model": per_model, "pair": list(verdict_pair) if verdict_pair else None,
            "verdict_per_seed": per_seed, "averaged": averaged, "third_family": third,
            "holds": holds_sentence(per_seed, verdict_pair, once_against_seeds=once)}


def pairs_by_role(rows: list, runs_by_model: dict[str, list], metric: str,
                  greater_is_better: bool) -> tuple[tuple[str, str] | None, list[tuple[str, str]]]:
    """``(verdict pair, third family's pairs)``, chosen as ``hf_rnn.report.verdict.choose_pairs`` chooses them but
    on each model's mean over its runs rather than seed 1's score (with several seeds, the best RNN is the one
    that is best on average): the best fine-tuned LLM and the best RNN (or None), then each third family's best
    against the best RNN and the best LLM against its best."""
    from dataclasses import replace

    from hf_rnn.report.verdict import THIRD_FAMILY, choose_pairs

    averaged = []
    for row in rows:
        values = [float(run.metrics.test[metric]) for run in runs_by_model.get(row.name, [])
                  if metric in run.metrics.test and math.isfinite(float(run.metrics.test[metric]))]
        averaged.append(replace(row, metrics={**row.metrics, metric: statistics.fmean(values)}) if values else row)
    pairs = choose_pairs(averaged, metric, greater_is_better)
    return (next(((a.name, b.name) for a, b, role in pairs if role == "verdict"), None),
            [(a.name, b.name) for a, b, role in pairs if role == THIRD_FAMILY])


def _averaged_test(runs_by_model: dict[str, list], pair: tuple[str, str] | None, kind: Any, metric: str,
                   greater_is_better: bool) -> PairedResult | dict[str, Any]:
    """A pair's test on each test example's score averaged over each model's runs
    (``hf_rnn.comparison.seed_averaged``), or ``{"a", "b", "error"}`` where it cannot be made, or an empty dict for
    one run each or no pair."""
    from hf_rnn.comparison.seed_averaged import seed_averaged_test

    if pair is None:
        return {}
    a, b = pair
    if max(len(runs_by_model[a]), len(runs_by_model[b])) < 2:
        return {}
    try:
        records = {}
        for name in (a, b):
            records[name] = []
            for run in runs_by_model[name]:
                found = read_predictions(run.path / PREDICTIONS)
                if found is None:
                    raise HfRnnError(f"{run.path} kept no per-example predictions (a run from before they were written)")
                records[name].append(found.records)
        r = seed_averaged_test(kind.paired_test, metric, a, records[a], b, records[b], greater_is_better)
    except HfRnnError as e:
        return {"a": a, "b": b, "error": str(e)}
    return r


def _as_dict(result: PairedResult | dict[str, Any]) -> dict[str, Any]:
    """What ``results.json`` keeps of a test over every seed: ``PairedResult.to_dict()`` with ``better`` and
    ``significant``; an error or nothing as it is."""
    if isinstance(result, PairedResult):
        return {**result.to_dict(), "better": result.better, "significant": result.significant}
    return result


def _as_result(test: dict[str, Any]) -> PairedResult:
    """A test ``results.json`` keeps, as the ``PairedResult`` it was (to put it in words)."""
    return PairedResult(**{k: v for k, v in test.items() if k not in ("better", "significant")})


def averaged_sentence(averaged: dict[str, Any]) -> str:
    """The seed-averaged test of the verdict pair in words (``hf_rnn.report.verdict.sentence``)."""
    from hf_rnn.report.verdict import sentence

    if not averaged or "difference" not in averaged:
        return ""
    return (f"Each test example's score averaged over each model's runs (the test over examples holds those runs "
            f"fixed; where both models have several, a Welch t-test over the seeds must agree): "
            f"{sentence(_as_result(averaged))}.")


def averaged_third_family_sentence(tests: list[dict[str, Any]], families: Sequence[str] = ()) -> str:
    """Each third family's pairs tested over every seed (``summary``'s ``third_family``: Holm-corrected together),
    in words; ``families``: their names, to say which."""
    from hf_rnn.report.verdict import sentence

    said = [sentence(_as_result(t)) for t in tests if "difference" in t]
    failed = [f"{t['a']} vs {t['b']} not tested: {t['error']}" for t in tests if t.get("error")]
    if not said and not failed:
        return ""
    which = f" ({', '.join(families)})" if families else ""
    return f"The third family{which}, over every seed the same way: " + "; ".join(said + failed) + "."


def holds_sentence(per_seed: list[dict[str, Any]], pair: tuple[str, str] | None,
                   once_against_seeds: bool = False) -> str:
    """Whether the verdict's sign and significance hold seed by seed, in words."""
    tested = [s for s in per_seed if "difference" in s]
    if pair is None or not tested:
        return ""
    a, b = pair
    ahead_a = sum(s["better"] == a for s in tested)
    ahead_b = sum(s["better"] == b for s in tested)
    significant = sum(bool(s["significant"]) for s in tested)
    n = len(tested)
    leader, count = (a, ahead_a) if ahead_a >= ahead_b else (b, ahead_b)
    holds = ("the same leader, significantly, at every seed" if count == n and significant == n else
             "not the same significant leader at every seed")
    once = "; a model trained once meets every seed of the other" if once_against_seeds else ""
    return (f"Seed by seed (seed k of {a} against seed k of {b}{once}), {leader} is ahead in {count} of {n} and the "
            f"difference is significant (p < 0.05, uncorrected) in {significant} of {n}: {holds}.")


def lines(seeds: dict[str, Any], metric: str) -> list[str]:
    """The report's "Seeds" section (markdown lines)."""
    if not seeds or seeds.get("count", 1) < 2:
        return []
    fewer = {name: m["fewer_seeds"] for name, m in seeds["per_model"].items() if m.get("fewer_seeds")}
    times = {1: "once", 2: "twice"}
    out = ["## Seeds", "", f"Each model trained {seeds['count']} times" + (" (but see below)" if fewer else "")
           + ", `training.seed` varied (initialisation and data order); the table above shows seed 1."
           + "".join(f" {name} trained {times.get(len(seeds['per_model'][name]['values']), 'fewer times')}: {why}"
                     + ("" if why.endswith(".") else ".") for name, why in fewer.items()), "",
           f"| model | {metric}: mean ± sd | per seed |", "|---|---|---|"]
    for name, m in seeds["per_model"].items():
        spread = "—" if m["mean"] is None else f"{m['mean']:.4g}" + (f" ± {m['std']:.2g}" if m["std"] is not None
                                                                     else "")
        out.append(f"| {name} | {spread} | {', '.join(f'{v:.4g}' for v in m['values'])} |")
    out.append("")
    if seeds.get("verdict_per_seed"):
        out += ["| seed | difference | 95% CI | p |", "|---|---|---|---|"]
        for s in seeds["verdict_per_seed"]:
            if "difference" in s:
                out.append(f"| {s['seed']} | {s['difference']:+.4g} | {s['ci_low']:+.4g} to {s['ci_high']:+.4g} | "
                           f"{s['p_value']:.3g} |")
            else:
                out.append(f"| {s['seed']} | — | — | {s.get('error', '')} |")
        out.append("")
    averaged = seeds.get("averaged") or {}
    if "difference" in averaged:
        from hf_rnn.report.verdict import format_p

        welch = next((t for t in averaged.get("other_tests", []) if t.get("name", "").startswith("Welch")), None)
        over_examples = welch["p_value_over_examples"] if welch else averaged["p_value"]
        out += [f"Every seed at once ({averaged['a']} − {averaged['b']}, each test example's score averaged over "
                f"each model's runs): difference {averaged['difference']:+.4g}, 95% CI {averaged['ci_low']:+.4g} to "
                f"{averaged['ci_high']:+.4g} (test examples resampled, the runs held fixed); "
                f"{averaged['test'].split(' and a Welch')[0]} {format_p(over_examples)} ({averaged['library']})"
                + (f"; Welch t-test over the seeds {format_p(welch['p_value'])} ({welch['library']}); the verdict "
                   f"reads the larger" if welch else "") + ".", ""]
    elif averaged.get("error"):
        out += [f"No test over every seed at once: {averaged['error']}", ""]
    third = averaged_third_family_sentence(seeds.get("third_family") or [])
    if third:
        out += [third, ""]
    if seeds.get("holds"):
        out += [seeds["holds"], ""]
    return out
