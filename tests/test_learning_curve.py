"""Quality against training-set size: sizes checked first, nested subsets, one comparison per size, the curve
with its data-equivalence sentences."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from hf_rnn.cli import main as cli
from hf_rnn.comparison.learning_curve import (
    Curve,
    compare_sizes,
    curve_from_folder,
    data_equivalence,
    parse_train_sizes,
    publish_curve,
)
from hf_rnn.errors import ConfigError

TINY = ["task.max_validation_examples=6", "task.max_test_examples=7", "training.max_steps=2",
        "training.batch_size=8", "training.eval_batch_size=8", "training.max_length=32", "training.eval_steps=2",
        "training.logging_steps=1", "training.warmup_steps=0"]


def test_sizes_are_sorted_and_all_comes_last():
    assert parse_train_sizes("300, 100,all,1000", train_examples=5000, num_labels=2) == [100, 300, 1000, "all"]
    assert parse_train_sizes([30, "10"], train_examples=40) == [10, 30]


@pytest.mark.parametrize("sizes,phrase", [
    ("0,100", "sizes start at 1"), ("-5", "sizes start at 1"), ("abc", "'abc' is not a number"),
    ("1e3", "'1e3' is not a number"), ("2.5", "'2.5' is not a number"), ("100,9000", "more than the 5,000"),
    ("1,100", "fewer than the task's 2 labels"), ("100,100", "twice"), ("5000,all", "twice"), ("", "separated by"),
    ("100,,300", "separated by"),
])
def test_bad_sizes_name_the_problem(sizes, phrase):
    with pytest.raises(ConfigError, match=phrase):
        parse_train_sizes(sizes, train_examples=5000, num_labels=2)


def _curve(llm, rnn, zero=None, greater=True):
    return Curve(task="sentiment", profile="quick", metric="accuracy", greater_is_better=greater,
                 sizes=[n for n, _ in rnn], points={"smollm2": llm, "bilstm": rnn},
                 lines={"smollm2 zero-shot": zero} if zero is not None else {},
                 families={"smollm2": "llm", "bilstm": "rnn", "smollm2 zero-shot": "llm"}, output_dir="x")


def test_data_equivalence_interpolates_on_the_log_scale_or_says_not_reached():
    rnn = [(100, 0.6), (300, 0.7), (1000, 0.85)]
    sentences = data_equivalence(_curve([(100, 0.8), (300, 0.9), (1000, 0.91)], rnn))
    # 0.8 lies 2/3 of the way from 0.7 (300) to 0.85 (1000) on log(examples): 300 * (1000/300)^(2/3) = 669
    expected = 300 * (1000 / 300) ** (2 / 3)
    assert f"needs about {expected:,.0f} to match it" in sentences[0]
    assert "does not reach it within the data (0.85 with 1,000)" in sentences[1]
    assert len(sentences) == 3


def test_data_equivalence_says_when_the_rnn_does_as_well_with_the_fewest_examples_measured():
    """POS: the BiLSTM beats the LLM tagger at every size; no "needs about 100 (0.33× as many)" read off the
    curve below its first point."""
    sentences = data_equivalence(_curve([(100, 0.85), (300, 0.88)], [(100, 0.885), (300, 0.92)]))
    assert sentences[1] == ("With 300 labelled examples smollm2 scores accuracy 0.88; bilstm already does as well "
                            "with the fewest measured (0.885 with 100).")
    assert "already does as well" in sentences[0] and "needs about" not in " ".join(sentences)


def test_data_equivalence_when_lower_is_better():
    rnn = [(100, 3.0), (1000, 2.0)]
    sentences = data_equivalence(_curve([(100, 2.5), (1000, 1.5)], rnn, greater=False))
    assert f"needs about {math.sqrt(100 * 1000):,.0f}" in sentences[0]  # halfway on the log scale
    assert "does not reach it" in sentences[1]


@pytest.fixture(scope="module")
def reviews(tmp_path_factory):
    path = tmp_path_factory.mktemp("curve") / "reviews.csv"
    path.write_text("review,stars\n" + "".join(
        f"\"{'a great fun film' if i % 2 else 'a dull awful mess'} number {i}\",{'good' if i % 2 else 'bad'}\n"
        for i in range(80)), encoding="utf-8")
    return path


def test_a_curve_compares_both_families_on_nested_subsets_and_publishes(reviews, tiny_llama, tmp_path):
    curve = compare_sizes("sentiment", ["rnn", str(tiny_llama)], "10,all", "quick", tmp_path / "curve",
                          overrides=TINY, progress=False, zero_shot=False, data=reviews, text_column="review",
                          label_column="stars")
    out = Path(curve.output_dir)
    assert curve.folders == ["n10", "all"]
    train_all = json.loads((out / "all" / "results.json").read_text())
    trained = {}
    for folder in curve.folders:
        for run in (out / folder).iterdir():
            if (run / "metrics.json").exists():
                m = json.loads((run / "metrics.json").read_text())
                trained[(folder, m["model"]["family"])] = m["task"]
    assert trained[("n10", "rnn")]["sizes"]["train"] == 10 and trained[("n10", "llm")]["sizes"]["train"] == 10
    # every size is scored on the same test split
    assert len({t["data_hash"]["test"] for t in trained.values()}) == 1
    assert curve.sizes[-1] == trained[("all", "rnn")]["sizes"]["train"] > 10
    assert set(curve.points) == {r["name"] for r in train_all["rows"] if r["run_dir"]}
    assert all(len(p) == 2 for p in curve.points.values())
    assert len(curve.equivalence) == 2
    doc = json.loads((out / "curve.json").read_text())
    assert doc["sizes"] == curve.sizes and (out / "curve.png").stat().st_size > 1000
    assert "Data equivalence" in (out / "curve.md").read_text()
    assert curve.variant == "reviews" and doc["variant"] == "reviews"  # the user's file: a curve of its own
    again = curve_from_folder(out)  # read back from the comparisons alone, nothing trained
    assert (again.sizes, again.points, again.lines, again.equivalence) == (curve.sizes, curve.points, curve.lines,
                                                                         curve.equivalence)
    assert again.variant == "reviews" and json.loads((out / "curve.json").read_text()) == doc
    published = publish_curve(out, tmp_path / "results")
    assert published.name == "sentiment-reviews-curve-quick"
    assert sorted(p.name for p in published.iterdir()) == ["curve.json", "curve.md", "curve.png"]


@pytest.mark.parametrize("argv,phrase", [
    (["--train-sizes", "0,all"], "sizes start at 1"),
    (["--train-sizes", "100,5000"], "more than the"),
    (["--train-sizes", "10,all", "task.max_train_examples=20"], "drop that override"),
    (["--train-sizes", "10", "--runs", "x"], "--runs"),
])
def test_cli_bad_sizes_exit_2_before_any_folder(argv, phrase, reviews, tmp_path, capsys):
    out = tmp_path / "curve"
    code = cli(["compare", "--task", "sentiment", "--data", str(reviews), "--text-column", "review",
                "--label-column", "stars", "--output-dir", str(out), *argv])
    err = capsys.readouterr().err
    assert code == 2 and phrase in err and "Traceback" not in err
    assert not out.exists()


def test_all_is_what_the_profile_trains_on_and_larger_sizes_are_refused():
    # POS quick trains on 8,000 of the 45,872 training sentences: "all" is 8,000 there, and 9,000 is too many
    with pytest.raises(ConfigError, match="more than the 8,000 examples"):
        compare_sizes("pos", ["bilstm"], "100,9000", "quick", progress=False)


def test_the_zero_shot_scores_travel_with_their_predictions(tmp_path):
    from hf_rnn.comparison.learning_curve import _copy_zero_shot

    first, second = tmp_path / "n100", tmp_path / "all"
    (first / "predictions").mkdir(parents=True)
    (first / "predictions" / "smollm2_zero-shot.jsonl.gz").write_bytes(b"records")
    (first / "zero_shot.json").write_text(json.dumps({"key": {}, "row": {
        "predictions": "predictions/smollm2_zero-shot.jsonl.gz"}}))
    _copy_zero_shot(first, second, "zero_shot.json")
    assert (second / "predictions" / "smollm2_zero-shot.jsonl.gz").read_bytes() == b"records"
    assert (second / "zero_shot.json").read_text() == (first / "zero_shot.json").read_text()


def test_publishing_a_curve_never_replaces_a_folder_it_did_not_write(tmp_path):
    src = tmp_path / "curve"
    src.mkdir()
    (src / "curve.json").write_text(json.dumps({"task": "pos", "profile": "quick"}))
    (src / "curve.md").write_text("# c")
    (src / "curve.png").write_bytes(b"png")
    mine = tmp_path / "results" / "pos-curve-quick"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a published curve"):
        publish_curve(src, tmp_path / "results")
    assert (mine / "notes.txt").read_text() == "mine"


def test_several_seeds_make_a_point_the_mean_and_a_band_of_one_standard_deviation(tmp_path):
    from types import SimpleNamespace as NS

    from hf_rnn.comparison.learning_curve import _curve_of, write_curve

    def comparison(n, rnn_values, llm_values):
        rows = [NS(name="bilstm", family="rnn", role="trained", metrics={"accuracy": rnn_values[0]}),
                NS(name="smollm2", family="llm", role="trained", metrics={"accuracy": llm_values[0]}),
                NS(name="smollm2 zero-shot", family="llm", role="zero-shot", metrics={"accuracy": 0.75})]
        import statistics

        def spread(v):
            return {"values": v, "mean": statistics.fmean(v), "std": statistics.stdev(v) if len(v) > 1 else None}

        seeds = {"per_model": {"bilstm": spread(rnn_values), "smollm2": spread(llm_values)}}
        return n, NS(rows=rows, seeds=seeds, output_dir=str(tmp_path / f"n{n}"))

    curve = _curve_of("sentiment", "quick", "accuracy", True,
                      [comparison(100, [0.6, 0.7, 0.8], [0.80]), comparison(1000, [0.85, 0.87, 0.89], [0.9])],
                      tmp_path)
    assert curve.points["bilstm"] == [(100, pytest.approx(0.7)), (1000, pytest.approx(0.87))]
    n, low, high, k = curve.bands["bilstm"][0]
    assert (n, k) == (100, 3) and low == pytest.approx(0.6) and high == pytest.approx(0.8)  # sd of 0.6/0.7/0.8: 0.1
    assert "smollm2" not in curve.bands and curve.points["smollm2"][0] == (100, 0.8)  # one seed: its score
    assert curve.seeds == 3 and curve.lines == {"smollm2 zero-shot": 0.75}
    write_curve(curve)
    md = (tmp_path / "curve.md").read_text()
    assert "0.7 ± 0.1" in md and "mean over 3 seeds" in md
    assert json.loads((tmp_path / "curve.json").read_text())["seeds"] == 3
