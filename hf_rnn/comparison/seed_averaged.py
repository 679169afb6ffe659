"""One paired test over every seed: each test example's score averaged over a model's runs, then the kind's test.

With one run per model a difference can be the luck of one initialisation (a seed moves a BiLSTM tagger by about a
point). Averaging each example's score over the runs of a model first makes the difference the one between the
runs' means, less tied to one initialisation. The test on those averages resamples test examples only and holds
the runs fixed: its interval and p-value do not include another draw of seeds, which with three seeds can matter as
much as the test set. So where both models have two runs or more, a Welch t-test on the runs' own scores (scipy:
the seeds as the sample) is made too, and the result counts as significant only when both tests are (an
intersection-union test: its p-value is the larger of the two). A model trained once (``Profile.seed_limits``)
enters with its one run, and only the test over examples is made. What is averaged per unit, and the test on the
averages:

=====================  ==============================  ===========================================================
kind's test            per unit (averaged over runs)   test on the averages (interval: bootstrap over units, scipy)
=====================  ==============================  ===========================================================
mcnemar                a text: right (1) or wrong (0)  paired permutation test over texts (scipy): the averages
                                                       are fractions, which McNemar's 2×2 table cannot take
sentence-permutation   a sentence: words right, words  paired permutation test over sentences (scipy)
block-permutation      a block: bits, characters       permutation test over blocks (scipy), paired where both
                                                       models cut the same blocks
diebold-mariano        a window: its absolute error    Diebold-Mariano, Harvey-corrected (statsmodels)
sacrebleu              a sentence: sacrebleu's         paired permutation test over sentences of sacrebleu's
                       sentence statistics             corpus score from the averaged statistics (scipy)
=====================  ==============================  ===========================================================

The averages of ratio metrics are ratios of averaged sums: with the same units in every run (they are, for one
model) the accuracy, bits per character and MAE of the averaged units are the means of the runs' own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hf_rnn.comparison.paired_tests import (
    N_RESAMPLES,
    SEED,
    PairedResult,
    PairingError,
    bootstrap_interval,
    corpus_scores,
    diebold_mariano,
    permutation_p,
    ratio_result,
    sacrebleu_scorer,
)

# per kind's test: the unit's name and the metric it reads
UNITS = {"mcnemar": ("texts", "accuracy"), "sentence-permutation": ("sentences", "accuracy"),
         "block-permutation": ("blocks", "bpc"), "diebold-mariano": ("windows", "mae"),
         "sacrebleu": ("sentence pairs", None)}


def seed_averaged_test(test: str | None, metric: str, name_a: str, runs_a: Sequence[Sequence[dict]], name_b: str,
                       runs_b: Sequence[Sequence[dict]], greater_is_better: bool = True) -> PairedResult:
    """Compare model ``a`` with model ``b`` on ``metric`` from the per-example records of each of their runs
    (``runs_a``: one list of records per seed), each unit's score averaged over a model's runs first.

    Raises:
        PairingError: no such test, a test of another metric, runs of one model that answered different examples,
            or two models with no example in common.
    """
    if test not in UNITS:
        raise PairingError(f"no seed-averaged test for the kind's paired test {test!r} (one of: {', '.join(UNITS)})")
    unit, reads = UNITS[test]
    if reads is not None and reads != metric:
        raise PairingError(f"the {test} test reads {reads}, not {metric!r}")
    if not runs_a or not runs_b:
        raise PairingError("a model has no run to average")
    if test == "sacrebleu":
        result = _translations(metric, name_a, runs_a, name_b, runs_b)
    else:
        units_a, units_b = _averaged(test, runs_a, name_a), _averaged(test, runs_b, name_b)
        shared = sorted(units_a.keys() & units_b.keys())
        paired = test != "block-permutation" or (units_a.keys() == units_b.keys() and all(
            units_a[i][1] == units_b[i][1] for i in shared))  # blocks: the same characters in both
        if paired and not shared:
            raise PairingError("the two models' predictions share no test example")
        ia, ib = (shared, shared) if paired else (sorted(units_a), sorted(units_b))
        a = np.asarray([units_a[i] for i in ia], dtype=np.float64)
        b = np.asarray([units_b[i] for i in ib], dtype=np.float64)
        if test == "diebold-mariano":
            truth_a = {r["index"]: r["true"] for r in runs_a[0]}
            truth_b = {r["index"]: r["true"] for r in runs_b[0]}
            if any(np.shape(truth_a[i]) != np.shape(truth_b[i]) or not np.allclose(truth_a[i], truth_b[i]) for i in shared):
                raise PairingError("the two models' forecasts are of different windows (another series or horizon)")
            result = diebold_mariano(name_a, a[:, 0], name_b, b[:, 0], horizon=int(round(a[0, 2])))
        else:
            what = {"mcnemar": "paired permutation test over texts", "sentence-permutation":
                    "paired permutation test over sentences", "block-permutation":
                    "paired permutation test over blocks" if paired else
                    "permutation test over blocks (unpaired: the models cut the text into different blocks)"}[test]
            result = ratio_result(metric, name_a, name_b, a[:, 0], a[:, 1], b[:, 0], b[:, 1], unit, paired, what)
    result.test += f" on each {unit[:-1] if unit.endswith('s') else unit}'s mean over {_runs(runs_a, runs_b)}"
    result.greater_is_better = greater_is_better
    seeds = welch([_run_score(test, metric, r) for r in runs_a], [_run_score(test, metric, r) for r in runs_b])
    if seeds is not None:  # significant only where both are: the larger p
        result.other_tests.append({**seeds, "p_value_over_examples": result.p_value})
        result.p_value = max(result.p_value, seeds["p_value"])
        result.test += " and a Welch t-test over the seeds (the larger p)"
    return result


def _run_score(test: str, metric: str, records: Sequence[dict]) -> float:
    """One run's own score on the units it answered (its run folder's test metric)."""
    if test == "sacrebleu":
        ordered = sorted(records, key=lambda r: r["index"])
        return float(sacrebleu_scorer(metric).corpus_score([r["hyp"] for r in ordered],
                                                           [[r["ref"] for r in ordered]]).score)
    totals = np.sum([_unit(test, r)[0][:2] for r in records], axis=0)
    return float(totals[0] / totals[1])


def welch(scores_a: Sequence[float], scores_b: Sequence[float]) -> dict[str, Any] | None:
    """Welch's t-test of two models' per-seed scores (``scipy.stats.ttest_ind(equal_var=False)``); None for fewer
    than two runs a side, or where neither side varies between its runs (no seed variance to test: the test over
    examples alone stands)."""
    from scipy.stats import ttest_ind

    if min(len(scores_a), len(scores_b)) < 2 or (np.ptp(scores_a) == 0 and np.ptp(scores_b) == 0):
        return None
    res = ttest_ind(scores_a, scores_b, equal_var=False)
    statistic, p = float(res.statistic), float(res.pvalue)
    return {"name": "Welch t-test over the seeds", "library": "scipy.stats.ttest_ind(equal_var=False)",
            "statistic": statistic, "p_value": p, "runs": [len(scores_a), len(scores_b)]}


def _runs(runs_a: Sequence, runs_b: Sequence) -> str:
    if len(runs_a) == len(runs_b):
        return f"{len(runs_a)} seeds" if len(runs_a) > 1 else "1 run each"
    return f"{len(runs_a)} and {len(runs_b)} runs"


def _unit(test: str, record: dict) -> tuple[list[float], Any]:
    """One record's numbers whose sums over units make the metric ([numerator, denominator, horizon]), and what
    must be the same in every run of a model (the gold label or tags, the block's characters, the true values)."""
    if test == "mcnemar":
        return [float(record["pred"] == record["gold"]), 1.0], record["gold"]
    if test == "sentence-permutation":
        # a sentence cut by one model's token limit scores fewer words for it: each side keeps its own denominator
        gold = record["gold"]
        return [float(sum(p == g for p, g in zip(record["pred"], gold))), float(len(gold))], list(gold)
    if test == "block-permutation":
        if "chars" not in record:
            raise PairingError("bits per character needs each block's character count (chars)")
        return [float(record["bits"]), float(record["chars"])], record["chars"]
    truth = np.asarray(record["true"], dtype=np.float64)  # diebold-mariano: the window's MAE over its horizon
    mae = float(np.abs(np.asarray(record["pred"], dtype=np.float64) - truth).mean())
    return [mae, 1.0, float(truth.size)], truth.round(9).tolist()


def _averaged(test: str, runs: Sequence[Sequence[dict]], name: str) -> dict[int, list[float]]:
    """Each unit's numbers averaged over ``runs`` (one model's), by example index; every run must answer the same
    units with the same gold answers (a model's seeds share the test split and, for blocks, the tokenizer)."""
    per_run = [{r["index"]: _unit(test, r) for r in records} for records in runs]
    first = per_run[0]
    for k, units in enumerate(per_run[1:], start=2):
        if units.keys() != first.keys() or any(units[i][1] != first[i][1] for i in first):
            raise PairingError(f"{name}'s run {k} answered other test units than its run 1 (another split, "
                               "limit, series or tokenizer): its seeds cannot be averaged")
    return {i: list(np.mean([units[i][0] for units in per_run], axis=0)) for i in first}


def _translations(metric: str, name_a: str, runs_a: Sequence[Sequence[dict]], name_b: str,
                  runs_b: Sequence[Sequence[dict]]) -> PairedResult:
    """chrF / BLEU: sacrebleu's sentence statistics averaged over each model's runs, its corpus score of their
    sums; a paired permutation test and bootstrap over sentences."""
    scorer = sacrebleu_scorer(metric)

    def stats(runs, name):
        by_run = [{r["index"]: r for r in records} for records in runs]
        indices = sorted(by_run[0])
        refs = [by_run[0][i]["ref"] for i in indices]
        for k, run in enumerate(by_run[1:], start=2):
            if sorted(run) != indices or [run[i]["ref"] for i in indices] != refs:
                raise PairingError(f"{name}'s run {k} translated other sentences than its run 1: its seeds "
                                   "cannot be averaged")
        mean = np.mean([np.asarray(scorer._extract_corpus_statistics([run[i]["hyp"] for i in indices], [refs]),
                                   dtype=np.float64) for run in by_run], axis=0)
        return dict(zip(indices, mean)), dict(zip(indices, refs))

    (sa, refs_a), (sb, refs_b) = stats(runs_a, name_a), stats(runs_b, name_b)
    shared = sorted(sa.keys() & sb.keys())
    if not shared:
        raise PairingError("the two models' translations share no test sentence")
    if any(refs_a[i] != refs_b[i] for i in shared):
        raise PairingError("the two models' translations are of different references")
    stats_a, stats_b = np.asarray([sa[i] for i in shared]), np.asarray([sb[i] for i in shared])
    pooled = np.concatenate([stats_a, stats_b])

    def score(table: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return corpus_scores(scorer, table, idx)

    n = len(shared)
    low, high, how = bootstrap_interval(lambda ia, ib, axis=-1: score(stats_a, np.asarray(ia))
                                        - score(stats_b, np.asarray(ib)), n)
    observed, p = permutation_p(lambda ia, ib, axis=-1: score(pooled, np.asarray(ia)) - score(pooled, np.asarray(ib)),
                                n)
    value_a = scorer._compute_score_from_stats(stats_a.sum(0)).score
    value_b = scorer._compute_score_from_stats(stats_b.sum(0)).score
    return PairedResult(a=name_a, b=name_b, metric=metric, value_a=float(value_a), value_b=float(value_b),
                        difference=float(value_a - value_b), ci_low=low, ci_high=high,
                        ci_method=how + " of sacrebleu's corpus score", test="paired permutation test over sentences",
                        statistic=observed, p_value=p,
                        library=f"scipy.stats.permutation_test (paired, {N_RESAMPLES} resamples, seed {SEED}) of "
                                "sacrebleu's corpus score", n=n, unit="sentence pairs", paired=True)
