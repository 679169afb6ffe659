"""Is one model really better than another on the same test examples? Paired tests on per-example predictions.

Every test and interval here is the field's library's (statsmodels, scipy, sacrebleu); this module only lines the
two models' records (``hf_rnn.runs.predictions``) up by example and says what each number is:

=====================  ====================================================================================
metric                 test (p-value)                          95% interval of the difference
=====================  ====================================================================================
accuracy               exact McNemar (statsmodels)             paired bootstrap over texts (scipy); Wilson
                                                               intervals of each model's accuracy (statsmodels)
POS token accuracy     paired permutation test over sentences  paired bootstrap over sentences (scipy): the
                       (scipy; whole sentences swap models)    ratio of correct to scored words
bits per character     paired permutation test over blocks     paired bootstrap over blocks (scipy); where the
                       (scipy)                                 models cut the text into different blocks
                                                               (different tokenizers) both are unpaired
chrF / BLEU            approximate randomisation (sacrebleu    paired bootstrap over sentences (scipy) of
                       ``PairedTest``); its paired bootstrap   sacrebleu's corpus score from its sentence
                       p-value beside it                       statistics
MAE                    Diebold-Mariano, Harvey-corrected       paired bootstrap over windows (scipy)
                       (statsmodels)
=====================  ====================================================================================

Bootstraps draw ``N_RESAMPLES`` resamples from a fixed seed (``SEED``): the same predictions give the same
numbers. ``holm`` corrects the p-values of one report's pairs together (statsmodels ``multipletests``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from hf_rnn.errors import HfRnnError

N_RESAMPLES = 9999
SEED = 0
CONFIDENCE = 0.95
_BATCH = 500  # resamples scipy evaluates at once: an index array [_BATCH, n] at a time, not [N_RESAMPLES, n]


class PairingError(HfRnnError):
    """Two models' predictions cannot be compared example by example (another task, no common examples)."""


@dataclass
class PairedResult:
    """One paired comparison of model ``a`` against model ``b`` on one metric (``results.json``'s
    ``paired_tests`` entries are ``asdict`` of it)."""

    a: str
    b: str
    metric: str
    value_a: float  # the metric on the examples both answered
    value_b: float
    difference: float  # value_a - value_b, in the metric's units
    ci_low: float  # the 95% interval of the difference
    ci_high: float
    ci_method: str  # what computed the interval
    test: str  # the test's name
    statistic: float  # its statistic
    p_value: float
    library: str  # the function that computed the p-value
    n: int  # units compared (texts, sentences, blocks, pairs, windows)
    unit: str
    paired: bool  # False: the units differ between the models (resampled independently)
    greater_is_better: bool = True
    p_holm: float | None = None  # Holm-corrected over the report's pairs (``holm``)
    intervals: dict[str, list[float]] = field(default_factory=dict)  # each model's own 95% interval, where made
    other_tests: list[dict[str, Any]] = field(default_factory=list)  # further p-values of the same pair

    @property
    def better(self) -> str | None:
        """The name of the model ahead on the metric (None for a tie)."""
        if self.difference == 0:
            return None
        return self.a if (self.difference > 0) == self.greater_is_better else self.b

    @property
    def significant(self) -> bool:
        """Whether the difference holds at the 5% level (Holm-corrected where corrected)."""
        p = self.p_holm if self.p_holm is not None else self.p_value
        return bool(p < 1 - CONFIDENCE)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# =========================================================================== the entry point

def paired_test(test: str | None, metric: str, name_a: str, records_a: Sequence[dict], name_b: str,
                records_b: Sequence[dict], greater_is_better: bool = True) -> PairedResult:
    """Compare model ``a`` with model ``b`` on ``metric`` from their per-example records, with ``test`` (one of
    ``TESTS``: the task kind's ``Task.paired_test``).

    Records pair by ``index``; only the examples both answered count (``n``).

    Raises:
        PairingError: no such test, a test that reads another metric, or the two share no example.
    """
    if test is None:
        raise PairingError("the task's kind names no paired test (Task.paired_test): its models are compared "
                           "by their scores alone")
    if test not in TESTS:
        raise PairingError(f"no paired test named {test!r} (the task's kind names one of: {', '.join(TESTS)})")
    result = TESTS[test](metric, name_a, records_a, name_b, records_b)
    if result.metric != metric:
        raise PairingError(f"the {test} test reads {result.metric}, not {metric!r}")
    result.greater_is_better = greater_is_better
    return result


def holm(results: Sequence[PairedResult]) -> None:
    """Set each result's ``p_holm``: Holm's step-down correction over ``results`` (one report's pairs)."""
    from statsmodels.stats.multitest import multipletests

    if not results:
        return
    _, corrected, _, _ = multipletests([r.p_value for r in results], alpha=1 - CONFIDENCE, method="holm")
    for r, p in zip(results, corrected):
        r.p_holm = float(p)


# =========================================================================== pairing


def _common(records_a: Sequence[dict], records_b: Sequence[dict]) -> tuple[list[dict], list[dict]]:
    """The records of the examples both models answered, in index order."""
    by_a = {r["index"]: r for r in records_a}
    by_b = {r["index"]: r for r in records_b}
    shared = sorted(by_a.keys() & by_b.keys())
    if not shared:
        raise PairingError("the two models' predictions share no test example")
    return [by_a[i] for i in shared], [by_b[i] for i in shared]


def bootstrap_interval(statistic: Callable[..., np.ndarray], n_a: int, n_b: int | None = None
                       ) -> tuple[float, float, str]:
    """The 95% interval of ``statistic(idx_a, idx_b)`` (vectorised over leading axes of index arrays) by
    ``scipy.stats.bootstrap``: paired (the same resampled indices for both) when ``n_b`` is None, else each side
    resampled on its own. BCa; the percentile interval where BCa is undefined (a degenerate resample)."""
    from scipy.stats import bootstrap

    paired = n_b is None
    data = (np.arange(n_a), np.arange(n_a if paired else n_b))
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BCa's degenerate-data warning: the percentile interval follows
            res = bootstrap(data, statistic, paired=paired, vectorized=True, n_resamples=N_RESAMPLES,
                            batch=_BATCH, confidence_level=CONFIDENCE, method=method,
                            random_state=np.random.default_rng(SEED))
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            break
    else:  # every resample gives the same value (e.g. two models that agree everywhere)
        value = float(statistic(data[0], data[1]))
        low = high = value
    kind = "paired" if paired else "unpaired"
    return low, high, f"scipy.stats.bootstrap ({kind}, {method}, {N_RESAMPLES} resamples, seed {SEED})"


def permutation_p(statistic: Callable[..., np.ndarray], n_a: int, n_b: int | None = None) -> tuple[float, float]:
    """``(observed, p)`` of ``statistic(idx_a, idx_b)`` (indices into pooled arrays: 0..n_a-1 are model a's
    units, n_a.. model b's) by ``scipy.stats.permutation_test``, two-sided: paired (each unit's two answers swap
    models) when ``n_b`` is None, else the units are shuffled between the models."""
    from scipy.stats import permutation_test

    paired = n_b is None
    data = (np.arange(n_a), n_a + np.arange(n_a if paired else n_b))
    res = permutation_test(data, statistic, permutation_type="samples" if paired else "independent",
                           vectorized=True, n_resamples=N_RESAMPLES, batch=_BATCH, alternative="two-sided",
                           random_state=np.random.default_rng(SEED))
    return float(res.statistic), float(res.pvalue)


def _ratio_difference(num_a: np.ndarray, den_a: np.ndarray, num_b: np.ndarray, den_b: np.ndarray,
                      pooled: bool = False) -> Callable[..., np.ndarray]:
    """``sum(num_a[ia]) / sum(den_a[ia]) - sum(num_b[ib]) / sum(den_b[ib])`` over index arrays [..., n] (the last
    axis); ``pooled``: the indices read one array of both models' units (a's first), as a permutation needs."""
    if pooled:
        num_a = num_b = np.concatenate([num_a, num_b])
        den_a = den_b = np.concatenate([den_a, den_b])

    def statistic(ia, ib, axis=-1):
        ia, ib = np.asarray(ia), np.asarray(ib)
        return num_a[ia].sum(-1) / den_a[ia].sum(-1) - num_b[ib].sum(-1) / den_b[ib].sum(-1)

    return statistic


def ratio_result(metric: str, name_a: str, name_b: str, num_a, den_a, num_b, den_b, unit: str,
                  paired: bool, test: str) -> PairedResult:
    """A ratio metric (correct/scored words, bits/characters) compared by bootstrap and permutation."""
    num_a, den_a, num_b, den_b = (np.asarray(x, dtype=np.float64) for x in (num_a, den_a, num_b, den_b))
    n_b = None if paired else len(num_b)
    low, high, how = bootstrap_interval(_ratio_difference(num_a, den_a, num_b, den_b), len(num_a), n_b)
    observed, p = permutation_p(_ratio_difference(num_a, den_a, num_b, den_b, pooled=True), len(num_a), n_b)
    value_a, value_b = num_a.sum() / den_a.sum(), num_b.sum() / den_b.sum()
    return PairedResult(a=name_a, b=name_b, metric=metric, value_a=float(value_a), value_b=float(value_b),
                        difference=float(value_a - value_b), ci_low=low, ci_high=high, ci_method=how,
                        test=test, statistic=observed, p_value=p,
                        library=f"scipy.stats.permutation_test ({'paired' if paired else 'independent'}, "
                                f"{N_RESAMPLES} resamples, seed {SEED})",
                        n=len(num_a) if paired else len(num_a) + len(num_b), unit=unit, paired=paired)


# =========================================================================== by kind


def _accuracy(metric: str, name_a: str, records_a: Sequence[dict], name_b: str, records_b: Sequence[dict]) -> PairedResult:
    from statsmodels.stats.contingency_tables import mcnemar
    from statsmodels.stats.proportion import proportion_confint

    ra, rb = _common(records_a, records_b)
    ca = np.asarray([r["pred"] == r["gold"] for r in ra], dtype=np.float64)
    cb = np.asarray([r["pred"] == r["gold"] for r in rb], dtype=np.float64)
    n = len(ca)
    table = [[int(np.sum((ca == 1) & (cb == 1))), int(np.sum((ca == 1) & (cb == 0)))],
             [int(np.sum((ca == 0) & (cb == 1))), int(np.sum((ca == 0) & (cb == 0)))]]
    test = mcnemar(table, exact=True)
    low, high, how = bootstrap_interval(lambda ia, ib, axis=-1: ca[ia].mean(-1) - cb[ib].mean(-1), n)
    intervals = {name: [float(v) for v in proportion_confint(int(c.sum()), n, alpha=1 - CONFIDENCE, method="wilson")]
                 for name, c in ((name_a, ca), (name_b, cb))}
    return PairedResult(a=name_a, b=name_b, metric="accuracy", value_a=float(ca.mean()), value_b=float(cb.mean()),
                        difference=float(ca.mean() - cb.mean()), ci_low=low, ci_high=high, ci_method=how,
                        test="exact McNemar", statistic=float(test.statistic), p_value=float(test.pvalue),
                        library="statsmodels.stats.contingency_tables.mcnemar(exact=True)", n=n, unit="texts",
                        paired=True, intervals=intervals,
                        other_tests=[{"name": "Wilson intervals of each model's accuracy",
                                      "library": "statsmodels.stats.proportion.proportion_confint(method='wilson')",
                                      "only_a_right": table[0][1], "only_b_right": table[1][0]}])


def _tagging(metric: str, name_a: str, records_a: Sequence[dict], name_b: str, records_b: Sequence[dict]) -> PairedResult:
    ra, rb = _common(records_a, records_b)
    correct_a = [sum(p == g for p, g in zip(r["pred"], r["gold"])) for r in ra]
    correct_b = [sum(p == g for p, g in zip(r["pred"], r["gold"])) for r in rb]
    # a sentence cut by one model's token limit scores fewer words for it: each ratio keeps its own denominator
    total_a, total_b = [len(r["gold"]) for r in ra], [len(r["gold"]) for r in rb]
    return ratio_result("accuracy", name_a, name_b, correct_a, total_a, correct_b, total_b, "sentences", True,
                         "paired permutation test over sentences")


def _bits_per_char(metric: str, name_a: str, records_a: Sequence[dict], name_b: str, records_b: Sequence[dict]) -> PairedResult:
    if any("chars" not in r for r in [*records_a, *records_b]):
        raise PairingError("bits per character needs each block's character count (chars)")
    by_b = {r["index"]: r["chars"] for r in records_b}
    # one unit of text for both only where the blocks are the same characters (the same tokenizer)
    paired = len(records_a) == len(records_b) and all(by_b.get(r["index"]) == r["chars"] for r in records_a)
    ra, rb = (_common(records_a, records_b) if paired else (list(records_a), list(records_b)))
    result = ratio_result("bpc", name_a, name_b, [r["bits"] for r in ra], [r["chars"] for r in ra],
                           [r["bits"] for r in rb], [r["chars"] for r in rb], "blocks", paired,
                           "paired permutation test over blocks" if paired else
                           "permutation test over blocks (unpaired: the models cut the text into different blocks)")
    return result


def _forecasts(metric: str, name_a: str, records_a: Sequence[dict], name_b: str, records_b: Sequence[dict]) -> PairedResult:

    ra, rb = _common(records_a, records_b)
    truth_a, truth_b = np.asarray([r["true"] for r in ra]), np.asarray([r["true"] for r in rb])
    if truth_a.shape != truth_b.shape or not np.allclose(truth_a, truth_b):
        raise PairingError("the two models' forecasts are of different windows (another series or horizon)")
    # each window's mean absolute error over its horizon: the MAE is their mean
    loss_a = np.abs(np.asarray([r["pred"] for r in ra]) - truth_a).mean(1)
    loss_b = np.abs(np.asarray([r["pred"] for r in rb]) - truth_b).mean(1)
    return diebold_mariano(name_a, loss_a, name_b, loss_b, horizon=truth_a.shape[1])


def diebold_mariano(name_a: str, loss_a: np.ndarray, name_b: str, loss_b: np.ndarray, horizon: int) -> PairedResult:
    """Two models' absolute errors on the same windows [n] (each a window's mean over its ``horizon``) compared:
    Diebold-Mariano on the loss differential (statsmodels), a paired bootstrap interval of the MAE difference."""
    from statsmodels.tsa.stattools import diebold_mariano_test

    loss_a, loss_b = np.asarray(loss_a, dtype=np.float64), np.asarray(loss_b, dtype=np.float64)
    # the losses as forecasts of zero under the absolute loss: DM on the windows' own loss differential
    if np.array_equal(loss_a, loss_b):  # no loss differential: DM's variance is zero, the difference is nil
        statistic, p_value, lags = 0.0, 1.0, 0
    else:
        dm = diebold_mariano_test(np.zeros(len(loss_a)), loss_a, loss_b, criterion="mae", harvey_adj=True,
                                  horizon=horizon)
        statistic, p_value, lags = float(dm.statistic), float(dm.pvalue), int(dm.lags)
    low, high, how = bootstrap_interval(lambda ia, ib, axis=-1: loss_a[ia].mean(-1) - loss_b[ib].mean(-1),
                                        len(loss_a))
    return PairedResult(a=name_a, b=name_b, metric="mae", value_a=float(loss_a.mean()), value_b=float(loss_b.mean()),
                        difference=float(loss_a.mean() - loss_b.mean()), ci_low=low, ci_high=high, ci_method=how,
                        test=f"Diebold-Mariano (Harvey-corrected, {lags} Newey-West lags)",
                        statistic=statistic, p_value=p_value,
                        library="statsmodels.tsa.stattools.diebold_mariano_test(criterion='mae', harvey_adj=True)",
                        n=len(loss_a), unit="windows", paired=True)


def corpus_scores(scorer, stats: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """sacrebleu's corpus score of each resample: ``stats`` [n, k] its sentence statistics, ``idx`` [..., m] indices
    into them; the sums over the last axis scored, [...]."""
    flat = idx.reshape(-1, idx.shape[-1])
    return np.asarray([scorer._compute_score_from_stats(stats[i].sum(0)).score for i in flat]).reshape(idx.shape[:-1])


def sacrebleu_scorer(metric: str):
    from sacrebleu.metrics import BLEU, CHRF

    if metric == "chrf":
        return CHRF()
    if metric == "bleu":
        return BLEU()
    raise PairingError(f"no paired test of translations for metric {metric!r} (chrf or bleu)")


def _translation(metric: str, name_a: str, records_a: Sequence[dict], name_b: str,
                 records_b: Sequence[dict]) -> PairedResult:
    import logging

    from sacrebleu.significance import PairedTest

    ra, rb = _common(records_a, records_b)
    refs = [r["ref"] for r in ra]
    if refs != [r["ref"] for r in rb]:
        raise PairingError("the two models' translations are of different references")
    hyps_a, hyps_b = [r["hyp"] for r in ra], [r["hyp"] for r in rb]
    scorer = sacrebleu_scorer(metric)
    # sacrebleu's own sentence statistics, summed over a resample, give its corpus score of that resample
    stats_a = np.asarray(scorer._extract_corpus_statistics(hyps_a, [refs]), dtype=np.float64)
    stats_b = np.asarray(scorer._extract_corpus_statistics(hyps_b, [refs]), dtype=np.float64)

    def score(stats: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return corpus_scores(scorer, stats, idx)

    low, high, how = bootstrap_interval(lambda ia, ib, axis=-1: score(stats_a, np.asarray(ia))
                                        - score(stats_b, np.asarray(ib)), len(refs))
    value_a = scorer._compute_score_from_stats(stats_a.sum(0)).score
    value_b = scorer._compute_score_from_stats(stats_b.sum(0)).score
    p = {}
    logger = logging.getLogger("sacrebleu")
    level = logger.level
    logger.setLevel(logging.WARNING)  # its per-test progress lines
    try:
        # the same translations everywhere: nothing to test (sacrebleu's count of shuffles beyond a zero difference
        # would read as p = 1 / (trials + 1))
        for test_type in () if hyps_a == hyps_b else ("ar", "bs"):  # b is the baseline: sacrebleu tests each other system against it
            _, scores = PairedTest([(name_b, hyps_b), (name_a, hyps_a)], {metric: sacrebleu_scorer(metric)},
                                   [refs], test_type=test_type, n_samples=0, n_ar_confidence=-1)()
            p[test_type] = float(next(iter(v for k, v in scores.items() if k != "System"))[1].p_value)
    finally:
        logger.setLevel(level)
    p = p or {"ar": 1.0, "bs": 1.0}
    return PairedResult(a=name_a, b=name_b, metric=metric, value_a=float(value_a), value_b=float(value_b),
                        difference=float(value_a - value_b), ci_low=low, ci_high=high,
                        ci_method=how + " of sacrebleu's corpus score", test="approximate randomisation",
                        statistic=float(abs(value_a - value_b)), p_value=p["ar"],
                        library="sacrebleu.significance.PairedTest(test_type='ar', 10000 trials)",
                        n=len(refs), unit="sentence pairs", paired=True,
                        other_tests=[{"name": "paired bootstrap", "p_value": p["bs"],
                                      "library": "sacrebleu.significance.PairedTest(test_type='bs', 1000 resamples)"}])


# the tests a task kind can name (``Task.paired_test``), by what they resample
TESTS: dict[str, Callable[..., PairedResult]] = {
    "mcnemar": _accuracy,  # one label per text: exact McNemar, Wilson intervals, paired bootstrap
    "sentence-permutation": _tagging,  # tags: whole sentences resampled (a sentence's tokens are not independent)
    "block-permutation": _bits_per_char,  # bits per character: blocks of text resampled
    "sacrebleu": _translation,  # chrF / BLEU: sacrebleu's paired bootstrap and approximate randomisation
    "diebold-mariano": _forecasts,  # forecast errors: Diebold-Mariano, bootstrap over windows
}
