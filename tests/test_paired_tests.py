"""``hf_rnn.comparison.paired_tests`` against known cases, and ``hf_rnn.runs.predictions`` files.

Known values: the exact McNemar p of a hand-built table (a two-sided binomial of the discordant pairs), the
Wilson interval of 8 of 10, Holm's correction of three p-values; simulated models whose true difference is known
must have it inside the 95% interval; a model compared with itself is no different.
"""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import sacrebleu

from hf_rnn.comparison.paired_tests import PairedResult, PairingError, holm, paired_test
from hf_rnn.errors import RunError
from hf_rnn.runs.predictions import read_predictions, write_predictions


def _classified(correct: list[bool], start: int = 0) -> list[dict]:
    return [{"index": start + i, "gold": 1, "pred": 1 if ok else 0} for i, ok in enumerate(correct)]


def test_mcnemar_on_a_hand_built_table_and_wilson_intervals():
    # both right 5, only a right 10, only b right 2, both wrong 3
    a = [True] * 5 + [True] * 10 + [False] * 2 + [False] * 3
    b = [True] * 5 + [False] * 10 + [True] * 2 + [False] * 3
    r = paired_test("mcnemar", "accuracy", "a", _classified(a), "b", _classified(b))
    # exact: two-sided binomial of 2 of 12 discordant pairs, 2 * (1 + 12 + 66) / 2**12
    assert r.p_value == pytest.approx(158 / 4096, rel=1e-9)
    assert r.statistic == 2 and r.n == 20 and r.unit == "texts" and r.paired
    assert r.difference == pytest.approx(0.4) and r.better == "a"
    assert "mcnemar(exact=True)" in r.library
    assert r.other_tests[0]["only_a_right"] == 10 and r.other_tests[0]["only_b_right"] == 2
    # Wilson, 95%: 15 of 20 and 7 of 20 (statsmodels' values; 8 of 10 is the textbook 0.490-0.943)
    assert r.intervals["a"] == pytest.approx([0.5313, 0.8881], abs=1e-3)
    assert r.intervals["b"] == pytest.approx([0.1812, 0.5671], abs=1e-3)
    from statsmodels.stats.proportion import proportion_confint

    assert proportion_confint(8, 10, method="wilson") == pytest.approx((0.4902, 0.9433), abs=1e-4)


def test_the_interval_contains_a_known_difference_and_a_model_equals_itself():
    rng = np.random.default_rng(7)
    n = 2000
    a = rng.random(n) < 0.90  # true accuracies 0.90 and 0.80: a difference of 0.10
    b = rng.random(n) < 0.80
    r = paired_test("mcnemar", "accuracy", "a", _classified(list(a)), "b", _classified(list(b)))
    assert r.ci_low < 0.10 < r.ci_high and r.ci_high - r.ci_low < 0.06
    assert r.ci_low < r.difference < r.ci_high and r.p_value < 1e-6 and r.significant
    same = paired_test("mcnemar", "accuracy", "a", _classified(list(a)), "a2", _classified(list(a)))
    assert same.difference == 0 and same.p_value == 1.0 and same.ci_low == same.ci_high == 0
    assert same.better is None and not same.significant
    # the same records give the same interval: a fixed seed
    again = paired_test("mcnemar", "accuracy", "a", _classified(list(a)), "b", _classified(list(b)))
    assert (again.ci_low, again.ci_high) == (r.ci_low, r.ci_high)


def test_holm_on_known_p_values():
    results = [PairedResult("a", "b", "accuracy", 0, 0, 0, 0, 0, "", "", 0, p, "", 1, "texts", True)
               for p in (0.01, 0.04, 0.03)]
    holm(results)
    assert [r.p_holm for r in results] == pytest.approx([0.03, 0.06, 0.06])
    assert [r.significant for r in results] == [True, False, False]
    holm([])  # nothing to correct


def test_tagging_resamples_whole_sentences():
    rng = np.random.default_rng(3)
    a, b = [], []
    for i in range(1500):
        gold = rng.integers(0, 10, rng.integers(3, 25)).tolist()
        a.append({"index": i, "gold": gold, "pred": [g if rng.random() < 0.95 else -1 for g in gold]})
        b.append({"index": i, "gold": gold, "pred": [g if rng.random() < 0.90 else -1 for g in gold]})
    r = paired_test("sentence-permutation", "accuracy", "a", a, "b", b)
    words = sum(len(x["gold"]) for x in a)
    assert r.n == 1500 and r.unit == "sentences"
    assert r.value_a == pytest.approx(sum(p == g for x in a for p, g in zip(x["pred"], x["gold"])) / words)
    assert r.ci_low < 0.05 < r.ci_high and r.p_value < 0.001
    assert "permutation_test" in r.library and "bootstrap" in r.ci_method


def test_bits_per_character_pairs_blocks_only_when_they_are_the_same_text():
    rng = np.random.default_rng(5)
    blocks = [{"index": i, "chars": 128, "tokens": 127} for i in range(300)]
    a = [{**blk, "bits": float(rng.normal(2.0, 0.2) * 128)} for blk in blocks]
    b = [{**blk, "bits": float(rng.normal(2.1, 0.2) * 128)} for blk in blocks]
    r = paired_test("block-permutation", "bpc", "a", a, "b", b, greater_is_better=False)
    assert r.paired and r.n == 300 and r.better == "a" and r.ci_low < -0.1 + 0.02 and r.ci_high > -0.1 - 0.05
    assert r.ci_low < r.difference < r.ci_high < 0
    # another tokenizer: other blocks (chars differ), so each side is resampled on its own
    c = [{"index": i, "chars": 400, "tokens": 128, "bits": float(rng.normal(2.1, 0.2) * 400)} for i in range(90)]
    u = paired_test("block-permutation", "bpc", "a", a, "c", c, greater_is_better=False)
    assert not u.paired and u.n == 390 and "unpaired" in u.ci_method and "independent" in u.library
    assert u.ci_low < u.difference < u.ci_high


def test_forecasts_diebold_mariano_and_the_mae_interval():
    rng = np.random.default_rng(11)
    truth = rng.normal(100, 10, size=(500, 2))
    a = [{"index": i, "pred": (t + rng.normal(0, 1, 2)).tolist(), "true": t.tolist()} for i, t in enumerate(truth)]
    b = [{"index": i, "pred": (t + rng.normal(0, 3, 2)).tolist(), "true": t.tolist()} for i, t in enumerate(truth)]
    r = paired_test("diebold-mariano", "mae", "a", a, "b", b, greater_is_better=False)
    err_a = np.mean([np.abs(np.subtract(x["pred"], x["true"])).mean() for x in a])
    assert r.value_a == pytest.approx(err_a) and r.better == "a" and r.p_value < 1e-6
    assert "diebold_mariano_test" in r.library and r.ci_low < r.difference < r.ci_high < 0
    same = paired_test("diebold-mariano", "mae", "a", a, "a2", a, greater_is_better=False)
    assert same.p_value == 1.0 and same.difference == 0
    shifted = [{**x, "true": [v + 1 for v in x["true"]]} for x in b]
    with pytest.raises(PairingError, match="different windows"):
        paired_test("diebold-mariano", "mae", "a", a, "s", shifted)


def test_translation_uses_sacrebleus_scores_and_paired_tests():
    rng = np.random.default_rng(2)
    words = "el gato come pescado en la casa del perro grande azul".split()
    refs = [" ".join(rng.choice(words, 7)) for _ in range(200)]

    def noisy(ref, keep):
        return " ".join(w if rng.random() < keep else "x" for w in ref.split())

    a = [{"index": i, "hyp": noisy(ref, 0.9), "ref": ref} for i, ref in enumerate(refs)]
    b = [{"index": i, "hyp": noisy(ref, 0.6), "ref": ref} for i, ref in enumerate(refs)]
    r = paired_test("sacrebleu", "chrf", "a", a, "b", b)
    chrf_a = sacrebleu.corpus_chrf([x["hyp"] for x in a], [refs]).score
    chrf_b = sacrebleu.corpus_chrf([x["hyp"] for x in b], [refs]).score
    assert r.value_a == pytest.approx(chrf_a) and r.difference == pytest.approx(chrf_a - chrf_b)
    assert r.ci_low < r.difference < r.ci_high and r.p_value < 0.01 and r.other_tests[0]["p_value"] < 0.01
    assert "PairedTest" in r.library
    bleu = paired_test("sacrebleu", "bleu", "a", a, "b", b)
    assert bleu.value_a == pytest.approx(sacrebleu.corpus_bleu([x["hyp"] for x in a], [refs]).score)
    same = paired_test("sacrebleu", "chrf", "a", a, "a2", a)
    assert same.p_value == 1.0 and same.difference == 0


def test_records_pair_by_index_and_unpairable_ones_are_named():
    a = _classified([True, False, True])
    b = _classified([True, True, True, True], start=1)  # indices 1..4: two in common with a
    assert paired_test("mcnemar", "accuracy", "a", a, "b", b).n == 2
    with pytest.raises(PairingError, match="share no test example"):
        paired_test("mcnemar", "accuracy", "a", a, "b", _classified([True], start=10))
    with pytest.raises(PairingError, match="no paired test named 'regression'"):
        paired_test("regression", "r2", "a", a, "b", b)
    with pytest.raises(PairingError, match="kind names no paired test"):  # a new kind that names none
        paired_test(None, "r2", "a", a, "b", b)
    with pytest.raises(PairingError, match="the mcnemar test reads accuracy, not 'macro_f1'"):
        paired_test("mcnemar", "macro_f1", "a", a, "b", b)


def test_predictions_files_round_trip_and_a_damaged_one_is_named(tmp_path):
    from types import SimpleNamespace

    task = SimpleNamespace(name="sentiment", kind="sequence-classification")
    records = [{"index": 0, "gold": 1, "pred": 0, "probs": [0.6, 0.4]}, {"index": 1, "gold": 0, "pred": 0}]
    path = write_predictions(tmp_path / "p.jsonl.gz", task, records)
    first = path.read_bytes()
    read = read_predictions(path)
    assert read.records == records and read.kind == "sequence-classification" and read.split == "test"
    assert write_predictions(path, task, records).read_bytes() == first  # no time stamp: the same bytes
    assert read_predictions(tmp_path / "none.jsonl.gz") is None  # a run from before predictions: none
    path.write_bytes(first[: len(first) // 2])
    with pytest.raises(RunError, match="not a readable predictions file"):
        read_predictions(path)
    path.write_bytes(gzip.compress(b'{"format": "hf_rnn.predictions/1", "task": "s", "kind": "k", "split": "test", '
                                   b'"count": 3}\n{"index": 0}\n'))
    with pytest.raises(RunError, match="cut short"):
        read_predictions(path)
