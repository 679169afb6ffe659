"""``hf_rnn.report.verdict``: the pairs a comparison tests, the paragraph its report opens with, where two models
disagree; rows without predictions (old ``results.json`` files) and hostile paths. No training: rows and their
predictions files are built here."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from hf_rnn.comparison.schema import ModelResult
from hf_rnn.report.verdict import NO_PREDICTIONS, choose_pairs, judge
from hf_rnn.runs.predictions import read_predictions, write_predictions
from hf_rnn.tasks.kinds import SequenceClassificationTask

TASK = SimpleNamespace(name="sentiment", kind="sequence-classification")


def _row(name, family, run_dir, accuracy, predictions=None, **cost):
    """A row as results.json holds it, read through its schema (no role: inferred as for an older file)."""
    return ModelResult.from_dict({
        "name": name, "family": family, "run_dir": run_dir, "metrics": {"accuracy": accuracy},
        "predictions": predictions, "train_seconds": cost.get("train", 0.0), "latency_ms_p50": cost.get("p50"),
        "peak_memory_mb": cost.get("mb"), "parameters_total": cost.get("params", 0)})


def _rows_with_predictions(tmp_path, n=600):
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 2, n)
    answers = {"smollm2": rng.random(n) < 0.88, "bilstm": rng.random(n) < 0.80, "smollm2 zero-shot": rng.random(n) < 0.76,
               "majority class": gold == 0}
    paths = {}
    for name, right in answers.items():
        records = [{"index": i, "gold": int(g), "pred": int(g if ok else 1 - g)} for i, (g, ok) in enumerate(zip(gold, right))]
        paths[name] = f"predictions/{name.replace(' ', '_')}.jsonl.gz"
        write_predictions(tmp_path / paths[name], TASK, records)
    rows = [_row("bilstm", "rnn", "bilstm", float(answers["bilstm"].mean()), paths["bilstm"], train=64, p50=4.0,
                 mb=960, params=29_000_000),
            _row("smollm2", "llm", "smollm2", float(answers["smollm2"].mean()), paths["smollm2"], train=2800, p50=190.0,
                 mb=4200, params=134_500_000),
            _row("smollm2 zero-shot", "llm", None, float(answers["smollm2 zero-shot"].mean()),
                 paths["smollm2 zero-shot"], p50=360.0, mb=1760, params=134_500_000),
            _row("majority class", "reference", None, float((gold == 0).mean()), paths["majority class"])]
    return rows


def test_the_pairs_start_with_the_best_llm_against_the_best_rnn():
    rows = [_row("lstm", "rnn", "lstm", 0.70), _row("bilstm", "rnn", "bilstm", 0.80),
            _row("smollm2", "llm", "smollm2", 0.85), _row("smollm2 zero-shot", "llm", None, 0.75),
            _row("majority class", "reference", None, 0.5)]
    pairs = [(a.name, b.name, role) for a, b, role in choose_pairs(rows, "accuracy", True)]
    assert pairs[0] == ("smollm2", "bilstm", "verdict")
    assert pairs[1] == ("smollm2", "smollm2 zero-shot", "fine-tuned vs zero-shot")
    assert ("lstm", "bilstm", "trained pair") in pairs and ("lstm", "smollm2", "trained pair") in pairs
    assert pairs[-1] == ("smollm2", "majority class", "against a reference")
    assert len(pairs) == 5  # the verdict pair is not tested twice as a trained pair
    # lower is better (bpc): the best RNN is the lowest
    lower = choose_pairs([_row("a", "rnn", "a", 2.0), _row("b", "rnn", "b", 1.5), _row("c", "llm", "c", 1.8)],
                         "accuracy", False)
    assert [x.name for x in lower[0][:2]] == ["c", "b"]


def test_a_third_family_is_asked_the_question_too():
    """Mamba-2 (or a plug-in family): its best against the best RNN, the best LLM against its best, before the
    other trained pairs; its weaker member meets the others only as a trained pair."""
    rows = [_row("bilstm", "rnn", "bilstm", 0.80), _row("mamba2", "mamba2", "mamba2", 0.74),
            _row("bimamba2", "mamba2", "bimamba2", 0.78), _row("smollm2", "llm", "smollm2", 0.85),
            _row("smollm2 zero-shot", "llm", None, 0.75)]
    pairs = [(a.name, b.name, role) for a, b, role in choose_pairs(rows, "accuracy", True)]
    assert pairs[:4] == [("smollm2", "bilstm", "verdict"), ("smollm2", "smollm2 zero-shot", "fine-tuned vs zero-shot"),
                         ("bimamba2", "bilstm", "third family"), ("smollm2", "bimamba2", "third family")]
    assert {frozenset(p[:2]) for p in pairs[4:]} == {frozenset(("bilstm", "mamba2")), frozenset(("mamba2", "bimamba2")),
                                                      frozenset(("mamba2", "smollm2"))}
    assert {p[2] for p in pairs[4:]} == {"trained pair"}
    # without an RNN the third family still meets the LLM; without either, it has no third-family pair
    alone = choose_pairs([rows[1], rows[3]], "accuracy", True)
    assert [(a.name, b.name, role) for a, b, role in alone] == [("smollm2", "mamba2", "third family")]
    assert [role for *_, role in choose_pairs(rows[1:3], "accuracy", True)] == ["trained pair"]


def test_the_paragraph_gives_the_third_familys_tests_with_its_cost(tmp_path):
    rows = _rows_with_predictions(tmp_path)
    rng = np.random.default_rng(1)
    records = read_predictions(tmp_path / rows[0].predictions).records
    right = rng.random(len(records)) < 0.70  # clearly under the BiLSTM (0.80) and the LLM (0.88)
    mamba = [dict(r, pred=r["gold"] if ok else 1 - r["gold"]) for r, ok in zip(records, right)]
    write_predictions(tmp_path / "predictions/mamba2.jsonl.gz", TASK, mamba)
    rows.append(_row("mamba2", "mamba2", "mamba2", float(right.mean()), "predictions/mamba2.jsonl.gz", train=32,
                     p50=6.0, mb=500, params=1_200_000))
    v = judge(rows, tmp_path, SequenceClassificationTask, "accuracy", True)
    third = [t for t in v.tests if t["role"] == "third family"]
    assert [(t["a"], t["b"]) for t in third] == [("mamba2", "bilstm"), ("smollm2", "mamba2")]
    assert third[0]["difference"] < 0 < third[1]["difference"] and all(t["p_holm"] < 0.05 for t in third)
    assert "The third family (mamba2): **bilstm is ahead of mamba2 by" in v.paragraph
    assert "mamba2 takes 0.50× the training seconds" in v.paragraph  # its own cost over the RNN's
    assert "**smollm2 is ahead of mamba2 by" in v.paragraph


def test_the_verdict_paragraph_names_the_leader_the_interval_the_test_and_the_cost(tmp_path):
    rows = _rows_with_predictions(tmp_path)
    v = judge(rows, tmp_path, SequenceClassificationTask, "accuracy", True)
    assert [t["role"] for t in v.tests] == ["verdict", "fine-tuned vs zero-shot", "against a reference"]
    main = v.tests[0]
    assert (main["a"], main["b"]) == ("smollm2", "bilstm") and main["p_holm"] >= main["p_value"]
    lead = 100 * main["difference"]
    assert v.paragraph.startswith(f"**smollm2 is ahead of bilstm by {lead:.1f} points** (95% CI "
                                  f"{100 * main['ci_low']:.1f} to {100 * main['ci_high']:.1f}; exact McNemar p < 0.001")
    assert "smollm2 takes 43.8× the training seconds, 47.5× the latency (p50), 4.38× the peak memory, 4.64× the " \
           "parameters of bilstm" in v.paragraph
    assert "Against the untrained instruct model: **smollm2 is ahead of smollm2 zero-shot" in v.paragraph
    assert v.note == ""
    # where they disagree: up to three each way, right against wrong, with both answers
    sides = [(d["right"], d["wrong"]) for d in v.disagreements]
    assert sides.count(("smollm2", "bilstm")) == 3 and sides.count(("bilstm", "smollm2")) == 3
    for d in v.disagreements:
        assert d["answers"][d["right"]] == d["truth"] != d["answers"][d["wrong"]]
    json.dumps(v.tests)  # results.json takes them as they are


def test_no_significant_difference_is_said_so(tmp_path):
    gold = [0, 1] * 20
    a = [{"index": i, "gold": g, "pred": g if i % 10 else 1 - g} for i, g in enumerate(gold)]  # 36 of 40
    b = [{"index": i, "gold": g, "pred": g if i % 10 != 1 else 1 - g} for i, g in enumerate(gold)]  # 36 of 40
    b[2]["pred"] = 1 - b[2]["gold"]  # 35 of 40
    for name, records in (("a", a), ("b", b)):
        write_predictions(tmp_path / f"predictions/{name}.jsonl.gz", TASK, records)
    rows = [_row("b", "rnn", "b", 35 / 40, "predictions/b.jsonl.gz"), _row("a", "llm", "a", 36 / 40, "predictions/a.jsonl.gz")]
    v = judge(rows, tmp_path, SequenceClassificationTask, "accuracy", True)
    assert v.paragraph.startswith("**No significant difference between a and b at this budget** (a ahead by 2.5 "
                                  "points, 95% CI")
    assert "exact McNemar p = " in v.paragraph


def test_rows_without_predictions_say_a_rerun_is_needed(tmp_path):
    """An old results.json: its rows have no predictions key at all; the report says so and nothing fails."""
    old = [ModelResult.from_dict({k: v for k, v in r.to_dict().items() if k not in ("predictions", "role")})
           for r in _rows_with_predictions(tmp_path)]
    v = judge(old, tmp_path, SequenceClassificationTask, "accuracy", True)
    assert v.tests == [] and v.paragraph == NO_PREDICTIONS == v.note and v.disagreements == []
    assert NO_PREDICTIONS == "No per-example predictions in this run; paired tests need a re-run."
    # one row without them: the other pairs are tested, the missing one named
    rows = _rows_with_predictions(tmp_path)
    rows[2].predictions = None
    v = judge(rows, tmp_path, SequenceClassificationTask, "accuracy", True)
    assert [t["role"] for t in v.tests] == ["verdict", "against a reference"]
    assert "Not tested" in v.note and "smollm2 vs smollm2 zero-shot" in v.note


@pytest.mark.parametrize("path, message", [
    ("../outside.jsonl.gz", "not in the report's predictions/ folder"),
    ("/etc/passwd", "not in the report's predictions/ folder"),
    ("predictions/damaged.jsonl.gz", "not a readable predictions file"),
])
def test_a_hostile_or_damaged_predictions_path_is_named_not_read(tmp_path, path, message):
    rows = _rows_with_predictions(tmp_path)
    (tmp_path / "predictions" / "damaged.jsonl.gz").write_bytes(b"\x1f\x8b not gzip")
    rows[0].predictions = path
    v = judge(rows, tmp_path, SequenceClassificationTask, "accuracy", True)
    assert message in v.note and all("bilstm" not in (t["a"], t["b"]) for t in v.tests)


def test_a_language_model_comparison_says_why_it_shows_no_examples(tmp_path):
    """Bits per character score blocks of text, not answers: the report says so under its tests instead of
    leaving "Where they disagree" out silently; a classifier's report shows examples and no such line."""
    from hf_rnn.tasks.kinds import LanguageModelingTask

    rng = np.random.default_rng(3)
    lm_task = SimpleNamespace(name="textgen", kind="causal-lm")
    rows = []
    for name, family, bpc in (("lstm", "rnn", 2.2), ("smollm2", "llm", 1.6), ("smollm2 zero-shot", "llm", 1.9)):
        records = [{"index": i, "chars": 128, "tokens": 127, "bits": float(rng.normal(bpc, 0.2) * 128)}
                   for i in range(200)]
        path = f"predictions/{name.replace(' ', '_')}.jsonl.gz"
        write_predictions(tmp_path / path, lm_task, records)
        rows.append(ModelResult.from_dict({"name": name, "family": family, "run_dir": None if "zero" in name else name,
                                           "metrics": {"bpc": bpc}, "predictions": path}))
    v = judge(rows, tmp_path, LanguageModelingTask, "bpc", False)
    assert v.tests and v.tests[0]["role"] == "verdict" and v.disagreements == []
    assert v.note.startswith("No examples where they disagree") and "blocks" in v.note
    labelled = judge(_rows_with_predictions(tmp_path / "cls"), tmp_path / "cls", SequenceClassificationTask,
                     "accuracy", True)
    assert labelled.disagreements and "No examples" not in labelled.note
