"""``hf_rnn.comparison.seed_averaged``: one paired test over every seed, each unit's score averaged over a model's
runs.

Known values: the averaged metric is the mean of the runs' own metrics (units are the same in every run); one run
per model gives the single-run test's difference; a difference that holds at every seed is found, one that flips
sign between seeds is not; runs of one model that answered other units are refused by name. Tolerances are
relative 1e-9 for sums of the same numbers in another order, and the intervals are checked to contain the difference.
"""

from __future__ import annotations

import numpy as np
import pytest

from hf_rnn.comparison.paired_tests import PairingError, paired_test
from hf_rnn.comparison.seed_averaged import seed_averaged_test


def _classified(correct, start: int = 0) -> list[dict]:
    return [{"index": start + i, "gold": 1, "pred": 1 if ok else 0} for i, ok in enumerate(correct)]


def _accuracy(records: list[dict]) -> float:
    return float(np.mean([r["pred"] == r["gold"] for r in records]))


def test_accuracy_over_seeds_is_the_mean_and_a_steady_difference_is_found():
    rng = np.random.default_rng(1)
    n = 1500
    runs_a = [_classified(rng.random(n) < 0.88) for _ in range(3)]
    runs_b = [_classified(rng.random(n) < 0.80) for _ in range(3)]
    r = seed_averaged_test("mcnemar", "accuracy", "a", runs_a, "b", runs_b)
    assert r.value_a == pytest.approx(np.mean([_accuracy(x) for x in runs_a]), rel=1e-9)
    assert r.value_b == pytest.approx(np.mean([_accuracy(x) for x in runs_b]), rel=1e-9)
    assert r.paired and r.n == n and r.unit == "texts" and r.better == "a" and r.p_value < 0.001
    assert r.ci_low < r.difference < r.ci_high and r.ci_low < 0.08 < r.ci_high
    assert r.test == ("paired permutation test over texts on each text's mean over 3 seeds and a Welch t-test over the "
                      "seeds (the larger p)")
    assert "permutation_test" in r.library and "bootstrap" in r.ci_method
    # the seeds as a sample too: Welch's t on the runs' own accuracies, and the verdict reads the larger p
    from scipy.stats import ttest_ind

    welch = r.other_tests[-1]
    expected = ttest_ind([_accuracy(x) for x in runs_a], [_accuracy(x) for x in runs_b], equal_var=False)
    assert welch["name"] == "Welch t-test over the seeds" and welch["p_value"] == pytest.approx(expected.pvalue, rel=1e-9)
    assert r.p_value == max(welch["p_value"], welch["p_value_over_examples"])


def test_one_run_each_gives_the_single_run_difference_and_a_model_equals_itself():
    rng = np.random.default_rng(2)
    a, b = _classified(rng.random(400) < 0.9), _classified(rng.random(400) < 0.7)
    once = seed_averaged_test("mcnemar", "accuracy", "a", [a], "b", [b])
    single = paired_test("mcnemar", "accuracy", "a", a, "b", b)
    assert once.difference == pytest.approx(single.difference, rel=1e-9)
    assert once.test.endswith("mean over 1 run each")
    same = seed_averaged_test("mcnemar", "accuracy", "a", [a, b], "a2", [a, b])
    assert same.difference == 0 and same.p_value == 1.0 and same.better is None


def test_a_difference_that_flips_between_seeds_is_not_a_verdict():
    """Seed 1 has a well ahead of b, seed 2 the other way round (independent draws of equally good recipes whose
    runs vary a lot): seed 1 alone is significant, the test over both seeds is not."""
    rng = np.random.default_rng(3)
    n = 1000
    runs_a = [_classified(rng.random(n) < 0.9), _classified(rng.random(n) < 0.7)]
    runs_b = [_classified(rng.random(n) < 0.7), _classified(rng.random(n) < 0.9)]
    assert paired_test("mcnemar", "accuracy", "a", runs_a[0], "b", runs_b[0]).p_value < 1e-6  # seed 1 alone
    r = seed_averaged_test("mcnemar", "accuracy", "a", runs_a, "b", runs_b)
    assert abs(r.difference) < 0.03 and not r.significant and r.ci_low < 0 < r.ci_high


def test_a_model_trained_once_meets_every_seed_of_the_other():
    rng = np.random.default_rng(4)
    once = [_classified(rng.random(600) < 0.85)]
    three = [_classified(rng.random(600) < 0.75) for _ in range(3)]
    r = seed_averaged_test("mcnemar", "accuracy", "llm", once, "rnn", three)
    assert r.value_a == pytest.approx(_accuracy(once[0])) and "1 and 3 runs" in r.test and r.better == "llm"
    assert "Welch" not in r.test and not r.other_tests  # one run has no seed variance to test


def test_tagging_over_seeds_keeps_whole_sentences():
    rng = np.random.default_rng(5)
    gold = [rng.integers(0, 10, rng.integers(3, 20)).tolist() for _ in range(600)]

    def run(p):
        return [{"index": i, "gold": g, "pred": [t if rng.random() < p else -1 for t in g]} for i, g in enumerate(gold)]

    runs_a, runs_b = [run(0.95) for _ in range(3)], [run(0.9) for _ in range(3)]
    r = seed_averaged_test("sentence-permutation", "accuracy", "a", runs_a, "b", runs_b)
    words = sum(len(g) for g in gold)
    per_run = [sum(p == t for x in records for p, t in zip(x["pred"], x["gold"])) / words for records in runs_a]
    assert r.value_a == pytest.approx(np.mean(per_run), rel=1e-9)
    assert r.unit == "sentences" and r.n == 600 and r.p_value < 0.001 and r.ci_low < 0.05 < r.ci_high


def test_bits_per_character_over_seeds_paired_or_not():
    rng = np.random.default_rng(6)
    blocks = [{"index": i, "chars": 128} for i in range(200)]
    runs_a = [[{**blk, "bits": float(rng.normal(2.0, 0.2) * 128)} for blk in blocks] for _ in range(2)]
    runs_b = [[{**blk, "bits": float(rng.normal(2.2, 0.2) * 128)} for blk in blocks] for _ in range(2)]
    r = seed_averaged_test("block-permutation", "bpc", "a", runs_a, "b", runs_b, greater_is_better=False)
    per_run = [sum(x["bits"] for x in records) / (128 * 200) for records in runs_a]
    assert r.paired and r.value_a == pytest.approx(np.mean(per_run), rel=1e-9) and r.better == "a"
    other = [[{"index": i, "chars": 300, "bits": float(rng.normal(2.1, 0.2) * 300)} for i in range(80)]]
    u = seed_averaged_test("block-permutation", "bpc", "a", runs_a, "c", other, greater_is_better=False)
    assert not u.paired and u.n == 280 and "unpaired" in u.test


def test_forecasts_over_seeds_use_diebold_mariano_on_the_mean_errors():
    rng = np.random.default_rng(7)
    truth = rng.normal(100, 10, size=(300, 2))

    def run(noise):
        return [{"index": i, "pred": (t + rng.normal(0, noise, 2)).tolist(), "true": t.tolist()}
                for i, t in enumerate(truth)]

    runs_a, runs_b = [run(1.0) for _ in range(3)], [run(3.0) for _ in range(3)]
    r = seed_averaged_test("diebold-mariano", "mae", "a", runs_a, "b", runs_b, greater_is_better=False)
    maes = [np.mean([np.abs(np.subtract(x["pred"], x["true"])).mean() for x in records]) for records in runs_a]
    assert r.value_a == pytest.approx(np.mean(maes), rel=1e-9) and r.better == "a" and r.p_value < 0.01
    assert r.test.startswith("Diebold-Mariano") and "over 3 seeds" in r.test
    shifted = [[{**x, "true": [v + 1 for v in x["true"]]} for x in records] for records in runs_b]
    with pytest.raises(PairingError, match="different windows"):
        seed_averaged_test("diebold-mariano", "mae", "a", runs_a, "s", shifted)


def test_translations_over_seeds_average_sacrebleus_statistics():
    rng = np.random.default_rng(8)
    words = "el gato come pescado en la casa del perro grande azul".split()
    refs = [" ".join(rng.choice(words, 7)) for _ in range(120)]

    def run(keep):
        return [{"index": i, "ref": ref, "hyp": " ".join(w if rng.random() < keep else "x" for w in ref.split())}
                for i, ref in enumerate(refs)]

    a, b = run(0.9), run(0.6)
    once = seed_averaged_test("sacrebleu", "chrf", "a", [a], "b", [b])
    assert once.difference == pytest.approx(paired_test("sacrebleu", "chrf", "a", a, "b", b).difference, rel=1e-9)
    r = seed_averaged_test("sacrebleu", "chrf", "a", [a, run(0.9)], "b", [b, run(0.6)])
    assert r.better == "a" and r.p_value < 0.01 and r.ci_low < r.difference < r.ci_high
    assert r.unit == "sentence pairs" and "permutation_test" in r.library


def test_runs_that_answered_other_units_or_another_metric_are_refused():
    a = _classified([True, False, True, True])
    with pytest.raises(PairingError, match="a's run 2 answered other test units"):
        seed_averaged_test("mcnemar", "accuracy", "a", [a, a[:3]], "b", [a])
    with pytest.raises(PairingError, match="reads accuracy, not 'macro_f1'"):
        seed_averaged_test("mcnemar", "macro_f1", "a", [a], "b", [a])
    with pytest.raises(PairingError, match="no seed-averaged test"):
        seed_averaged_test(None, "r2", "a", [a], "b", [a])
    with pytest.raises(PairingError, match="share no test example"):
        seed_averaged_test("mcnemar", "accuracy", "a", [a], "b", [_classified([True], start=10)])


def test_the_seed_summary_tests_the_third_family_over_every_seed_too(tmp_path):
    """``seeds.summary`` with a Mamba-2 beside the verdict's two: its pairs are picked on the means (bimamba2,
    better on average, though mamba2 wins seed 1) and each tested over every seed like the verdict pair."""
    from types import SimpleNamespace

    from hf_rnn.comparison.schema import ModelResult
    from hf_rnn.comparison.seeds import pairs_by_role, summary
    from hf_rnn.runs.predictions import PREDICTIONS, write_predictions
    from hf_rnn.tasks.kinds import SequenceClassificationTask

    rng = np.random.default_rng(4)
    task = SimpleNamespace(name="sentiment", kind="sequence-classification")
    rates = {"bilstm": (0.80, 0.80), "mamba2": (0.79, 0.70), "bimamba2": (0.76, 0.78), "smollm2": (0.9, 0.9)}
    families = {"bilstm": "rnn", "mamba2": "mamba2", "bimamba2": "mamba2", "smollm2": "llm"}
    runs = {}
    for name, (first, later) in rates.items():
        runs[name] = []
        for k, rate in enumerate((first, later, later), 1):
            records = _classified(rng.random(1000) < rate)
            folder = tmp_path / f"{name}-{k}"
            write_predictions(folder / PREDICTIONS, task, records)
            runs[name].append(SimpleNamespace(path=folder, metrics=SimpleNamespace(test={"accuracy": _accuracy(records)},
                                                                       training=SimpleNamespace(train_seconds=60.0))))
    rows = [ModelResult.from_dict({"name": n, "family": families[n], "run_dir": n,
                                   "metrics": {"accuracy": runs[n][0].metrics.test["accuracy"]}}) for n in rates]
    pair, third = pairs_by_role(rows, runs, "accuracy", True)
    assert pair == ("smollm2", "bilstm") and third == [("bimamba2", "bilstm"), ("smollm2", "bimamba2")]
    seeds = summary(runs, {n: [42, 43, 44] for n in rates}, pair, SequenceClassificationTask, "accuracy", True,
                    third_pairs=third)
    assert [(t["a"], t["b"]) for t in seeds["third_family"]] == third
    for t in seeds["third_family"]:
        assert t["value_a"] == pytest.approx(seeds["per_model"][t["a"]]["mean"], rel=1e-9)
        assert t["ci_low"] <= t["difference"] <= t["ci_high"] and "mean over 3 seeds" in t["test"]
    assert seeds["third_family"][1]["better"] == "smollm2" and seeds["third_family"][1]["significant"]
    # the two are Holm-corrected together (the verdict's own test is not part of that family)
    p = sorted(t["p_value"] for t in seeds["third_family"])
    assert sorted(t["p_holm"] for t in seeds["third_family"]) == pytest.approx([min(1, 2 * p[0]), max(min(1, 2 * p[0]), p[1])])
    assert seeds["averaged"]["p_holm"] is None
