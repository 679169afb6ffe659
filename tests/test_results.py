"""Committed results: the README's block is generated from results/, goals are checked from the numbers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from hf_rnn.cli import main
from hf_rnn.comparison.budget import curve_summary
from hf_rnn.comparison.schema import Comparison
from hf_rnn.errors import HfRnnError
from hf_rnn.report import performance as performance
from hf_rnn.report import verdict_table as verdict_table
from hf_rnn.report.results import (
    BEGIN,
    END,
    Goal,
    ResultsError,
    check_goal,
    check_publish_root,
    collect,
    goal_line,
    publish,
    readme_section,
    update_readme,
)
from hf_rnn.runs.run import Run

REPO = Path(__file__).resolve().parent.parent


def test_readme_results_block_matches_committed_results():
    """The README's numbers are exactly what `hf-rnn results` generates from the committed results/."""
    update_readme(REPO / "README.md", REPO / "results", check=True)


def test_committed_results_are_complete_and_portable():
    for c in collect(REPO / "results"):
        folder = REPO / "results" / c.folder
        # results/TASK-PROFILE, or results/TASK-VARIANT-PROFILE for other data (e.g. the CO2 series)
        assert c.folder == "-".join(p for p in (c.task, c.variant, c.profile) if p)
        assert c.date and c.hardware.get("device_name"), folder
        doc = json.loads((folder / "results.json").read_text())
        assert "output_dir" not in doc, "absolute paths do not belong in committed results"
        for row in doc["rows"]:
            assert row["run_dir"] is None or not Path(row["run_dir"]).is_absolute(), row["run_dir"]
        for row in c.with_role("trained"):
            assert row.steps and row.examples, f"{folder}: {row.name} lacks steps or examples"
        assert (folder / "report.md").exists()
        for fig in folder.glob("*.png"):
            assert fig.stat().st_size < 500 * 1024, fig
        # no weights, no run folders: only the per-example predictions the paired tests read
        assert not list(folder.glob("*.safetensors"))
        assert [p.name for p in folder.iterdir() if p.is_dir()] in ([], ["predictions"]), folder
        assert all(p.name.endswith(".jsonl.gz") for p in folder.glob("predictions/*")), folder
        assert sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) < 5 * 2**20, f"{folder}: over 5 MB"
        # every seed's training seconds: what says whether "the whole comparison took" or it reused runs
        for name, model in ((doc.get("seeds") or {}).get("per_model") or {}).items():
            seconds = model.get("train_seconds")
            assert seconds and len(seconds) == len(model["values"]), f"{folder}: {name} lacks a seed's train_seconds"


def _doc(task="sentiment", profile="full", rows=None, **extra):
    rows = rows or [
        {"name": "bilstm", "family": "rnn", "run_dir": "bilstm", "metrics": {"accuracy": 0.81}, "steps": 700,
         "examples": 22000, "parameters_total": 10, "parameters_trainable": 5, "train_seconds": 30.0,
         "latency_ms_p50": 2.5},
        {"name": "smollm2", "family": "llm", "run_dir": "smollm2", "metrics": {"accuracy": 0.9}, "steps": 1500,
         "examples": 24000, "parameters_total": 100, "parameters_trainable": 100, "train_seconds": 3000.0,
         "latency_ms_p50": 60.0, "note": "stopped by early_stopping, best at step 500"},
        {"name": "smollm2 zero-shot", "family": "llm", "run_dir": None, "metrics": {"accuracy": 0.75},
         "steps": None, "examples": None, "parameters_total": 100, "parameters_trainable": 0,
         "train_seconds": 0.0, "latency_ms_p50": 120.0},
    ]
    return {"task": task, "profile": profile, "budget": "matched budget: 3 epochs", "rows": rows,
            "primary_metric": "accuracy" if task != "timeseries" else "mae",
            "hardware": {"device_name": "Test CPU", "logical_cpus": 2, "torch_threads": 1}, "date": "2026-11-29",
            "seconds": 10.0, **extra}


def _read(doc: dict) -> Comparison:
    """A results.json document as the schema reads it (no role in its rows: inferred, as for an older file)."""
    return Comparison.from_document(doc, "cmp")


def _write(folder: Path, doc: dict, figure_bytes: int = 100) -> Path:
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(doc))
    (folder / "report.md").write_text("# report\n")
    (folder / "learning_curves.png").write_bytes(b"\x89PNG" + b"0" * figure_bytes)
    (folder / "bilstm").mkdir()  # a run folder: never published
    (folder / "bilstm" / "model.safetensors").write_bytes(b"weights")
    return folder


def test_goals_say_met_or_by_how_much_they_are_missed():
    doc = _read(_doc())
    assert check_goal(Goal("rnn", "accuracy", ">=", 0.80), doc) == "met"
    assert check_goal(Goal("llm", "accuracy", ">=", 0.905), doc) == "missed by 0.005"
    assert check_goal(Goal("llm", "accuracy", ">=", "zero-shot", margin=0.2), doc) == "missed by 0.05"
    assert check_goal(Goal("rnn", "accuracy", ">=", "zero-shot"), doc) == "met"
    assert check_goal(Goal("rnn", "chrf", ">=", 1.0), doc) == "not measured"
    forecast = _read(_doc("timeseries", rows=[{"name": "lstm", "family": "rnn", "run_dir": "lstm",
                                               "metrics": {"mae": 12.0, "naive_mae": 25.0}}]))
    assert check_goal(Goal("rnn", "mae", "<=", "seasonal-naive"), forecast) == "met"


def test_a_goal_met_by_seed_1_is_checked_on_the_seed_means_too():
    per_model = {"smollm2": {"values": [0.9, 0.89, 0.88], "mean": 0.89}, "bilstm": {"values": [0.81], "mean": 0.81}}
    doc = _read(_doc(seeds={"count": 3, "per_model": per_model}))
    goal = Goal("llm", "accuracy", ">=", 0.90)
    assert goal_line(goal, doc) == "llm accuracy ≥ 0.9: **met**, on the mean over 3 seeds **missed by 0.01**"
    # a model trained once keeps its one score; a comparison of one seed says nothing more
    assert goal_line(Goal("rnn", "accuracy", ">=", 0.81), doc) == ("rnn accuracy ≥ 0.81: **met**, on the mean over 3 "
                                                                   "seeds **met**")
    assert goal_line(goal, _read(_doc())) == "llm accuracy ≥ 0.9: **met**"


def test_a_family_goal_names_the_model_that_meets_it_and_the_one_that_misses():
    doc = _doc()
    twice = dict(doc["rows"][1], name="smollm2-twice", run_dir="smollm2-twice", metrics={"accuracy": 0.97})
    doc["rows"].append(twice)
    doc = _read(doc)
    goal = Goal("llm", "accuracy", ">=", 0.95)
    assert check_goal(goal, doc) == "met"  # the family's best decides
    assert goal_line(goal, doc) == "llm accuracy ≥ 0.95: **met** (smollm2-twice; smollm2 missed by 0.05)"
    # one model of the family, or a goal on a named row: no list
    assert goal_line(Goal("rnn", "accuracy", ">=", 0.8), doc) == "rnn accuracy ≥ 0.8: **met**"
    assert goal_line(Goal("smollm2", "accuracy", ">=", 0.95), doc) == "smollm2 accuracy ≥ 0.95: **missed by 0.05**"


def test_publish_copies_the_report_not_the_weights_and_the_readme_follows(tmp_path):
    src = _write(tmp_path / "runs" / "compare", _doc())
    dest = publish(src, tmp_path / "results")
    assert dest == tmp_path / "results" / "sentiment-full"
    assert sorted(p.name for p in dest.iterdir()) == ["learning_curves.png", "report.md", "results.json"]
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{verdict_table.BEGIN}\n{verdict_table.END}\n\n{BEGIN}\nold table\n{END}\n\n## After\n\n"
                      f"{performance.BEGIN}\nold\n{performance.END}\n")
    with pytest.raises(ResultsError, match="do not match"):
        update_readme(readme, tmp_path / "results", check=True)
    assert update_readme(readme, tmp_path / "results") is True
    text = readme.read_text()
    assert "old table" not in text and f"{END}\n\n## After\n" in text
    assert "Not measured yet" in text.split(performance.BEGIN)[1]  # no results/performance/ there
    assert "| smollm2 | llm | 0.9 |" in text and "llm accuracy ≥ 0.905: **missed by 0.005**" in text
    assert "Test CPU, 2 logical CPUs, 1 torch threads" in text
    assert "Runs: smollm2: stopped by early_stopping, best at step 500." in text  # how the run ended
    assert "`smollm2` is the built-in SmolLM2-135M-Instruct (Q4_1 GGUF, dequantized to float32)" in text
    update_readme(readme, tmp_path / "results", check=True)  # now in step
    assert update_readme(readme, tmp_path / "results") is False
    # the CLI: --check exits 2 with one line once a committed number changes
    doc = json.loads((dest / "results.json").read_text())
    doc["rows"][0]["metrics"]["accuracy"] = 0.5
    (dest / "results.json").write_text(json.dumps(doc))
    assert main(["results", "--check", "--readme", str(readme), "--results-dir", str(tmp_path / "results")]) == 2
    assert main(["results", "--readme", str(readme), "--results-dir", str(tmp_path / "results")]) == 0
    assert "| bilstm | rnn | 0.5 |" in readme.read_text()
    verdict = readme.read_text().split(verdict_table.BEGIN)[1].split(verdict_table.END)[0]
    assert "[sentiment](results/sentiment-full/report.md) `full` | bilstm accuracy 0.5 | smollm2 0.9 | +0.400" in verdict
    assert "not tested" in verdict  # no paired test in this results.json: no verdict word from a bare pair


def test_the_blocks_may_live_in_docs_pages_and_their_links_lead_back_to_the_repository(tmp_path):
    publish(_write(tmp_path / "runs" / "compare", _doc()), tmp_path / "results")
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{verdict_table.BEGIN}\n{verdict_table.END}\n")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "results.md").write_text(f"# Results\n\n{BEGIN}\n{END}\n")
    (docs / "other.md").write_text("# Other\n\nno block here\n")
    with pytest.raises(ResultsError, match="no performance block"):
        update_readme(readme, tmp_path / "results")
    assert "| bilstm" not in readme.read_text()  # nothing written while a block is missing
    (docs / "performance.md").write_text(f"# Performance\n\n{performance.BEGIN}\n{performance.END}\n")
    assert update_readme(readme, tmp_path / "results") is True
    assert "(results/sentiment-full/report.md)" in readme.read_text()
    assert "([report](../results/sentiment-full/report.md))" in (docs / "results.md").read_text()
    assert (docs / "other.md").read_text() == "# Other\n\nno block here\n"
    update_readme(readme, tmp_path / "results", check=True)
    (docs / "results.md").write_text(f"# Results\n\n{BEGIN}\nstale\n{END}\n")
    with pytest.raises(ResultsError, match="results.md"):
        update_readme(readme, tmp_path / "results", check=True)


def test_the_verdict_row_reads_the_paired_test_whichever_way_it_was_run(tmp_path):
    doc = _doc()
    doc["paired_tests"] = [{"role": "verdict", "a": "bilstm", "b": "smollm2", "metric": "accuracy",
                            "difference": -0.1, "ci_low": -0.15, "ci_high": -0.05, "test": "exact McNemar",
                            "p_value": 0.0001, "p_holm": 0.0002}]
    publish(_write(tmp_path / "runs" / "compare", doc), tmp_path / "results")
    from hf_rnn.report.results import collect
    from hf_rnn.report.verdict_table import verdict_section

    text = verdict_section(collect(tmp_path / "results"))
    assert "| +0.100 (+0.050 to +0.150) | exact McNemar, p < 0.001 | **LLM ahead** |" in text
    doc["paired_tests"][0].update(p_value=0.2, p_holm=0.4)
    publish(_write(tmp_path / "runs" / "again", doc), tmp_path / "results")
    assert "exact McNemar, p = 0.400 | no significant difference |" in verdict_section(collect(tmp_path / "results"))


def test_publish_never_replaces_a_folder_it_did_not_write(tmp_path):
    src = _write(tmp_path / "runs" / "compare", _doc())
    mine = tmp_path / "results" / "sentiment-full"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(ResultsError, match="not a published comparison"):
        publish(src, tmp_path / "results")
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    (mine / "notes.txt").unlink()
    assert publish(src, tmp_path / "results") == mine  # an earlier publication (or nothing) is replaced
    assert publish(src, tmp_path / "results") == mine
    with pytest.raises(HfRnnError, match="is a file"):  # checked before `compare --publish` trains
        check_publish_root(src / "results.json")
    with pytest.raises(HfRnnError, match="cannot write"):
        publish(src, src / "results.json" / "deeper")


def test_update_readme_refuses_a_results_folder_that_is_not_there(tmp_path):
    src = _write(tmp_path / "runs" / "compare", _doc())
    publish(src, tmp_path / "results")
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{verdict_table.BEGIN}\n{verdict_table.END}\n\n{BEGIN}\nold\n{END}\n\n"
                      f"{performance.BEGIN}\nold\n{performance.END}\n")
    update_readme(readme, tmp_path / "results")
    text = readme.read_text()
    (tmp_path / "empty").mkdir()
    for typo, phrase in ((tmp_path / "resutls", "does not exist"), (tmp_path / "empty", "holds no")):
        for check in (False, True):
            with pytest.raises(ResultsError, match=phrase):
                update_readme(readme, typo, check=check)
        assert readme.read_text() == text  # the committed tables are still there
    with pytest.raises(ResultsError, match="cannot read"):
        update_readme(tmp_path / "READMY.md", tmp_path / "results")


def test_publish_copies_the_rows_predictions_and_keeps_the_folder_small(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from hf_rnn.report import results as results
    from hf_rnn.runs.predictions import read_predictions, write_predictions

    doc = _doc()
    doc["rows"][0]["predictions"] = "predictions/bilstm.jsonl.gz"
    src = _write(tmp_path / "runs" / "compare", doc)
    task = SimpleNamespace(name="sentiment", kind="sequence-classification")
    write_predictions(src / "predictions" / "bilstm.jsonl.gz", task, [{"index": 0, "gold": 1, "pred": 1}])
    (src / "predictions" / "stray.jsonl.gz").write_bytes(b"not named by results.json: stays behind")
    dest = publish(src, tmp_path / "results")
    assert sorted(p.name for p in (dest / "predictions").iterdir()) == ["bilstm.jsonl.gz"]
    assert read_predictions(dest / "predictions" / "bilstm.jsonl.gz").records == [{"index": 0, "gold": 1, "pred": 1}]
    # a folder over 5 MB, a named file missing, a path outside the folder: refused, nothing replaced
    assert results.MAX_FOLDER_BYTES == 5 * 2**20
    monkeypatch.setattr(results, "MAX_FOLDER_BYTES", 2**20)  # 1 MB instead of 5: a smaller file to write
    write_predictions(src / "predictions" / "bilstm.jsonl.gz", task,
                      [{"index": i, "gold": 1, "pred": 1, "noise": os.urandom(400).hex()} for i in range(4000)])
    with pytest.raises(ResultsError, match="under 1 MB"):
        publish(src, tmp_path / "results")
    monkeypatch.undo()
    for bad, message in (("predictions/gone.jsonl.gz", "lacks the predictions"),
                         ("../../secret.jsonl.gz", "outside its predictions/ folder")):
        doc["rows"][0]["predictions"] = bad
        (src / "results.json").write_text(json.dumps(doc))
        with pytest.raises(ResultsError, match=message):
            publish(src, tmp_path / "results")
    assert read_predictions(dest / "predictions" / "bilstm.jsonl.gz").records == [{"index": 0, "gold": 1, "pred": 1}]


def test_publish_refuses_big_figures_and_folders_without_results(tmp_path):
    with pytest.raises(ResultsError, match="does not exist"):
        publish(tmp_path, tmp_path / "results")
    src = _write(tmp_path / "big", _doc(), figure_bytes=600 * 1024)
    with pytest.raises(ResultsError, match="under 500 KB"):
        publish(src, tmp_path / "results")
    assert not (tmp_path / "results" / "sentiment-full").exists()


def test_readme_section_orders_tasks_then_quick_before_full(tmp_path):
    for task, profile in (("timeseries", "quick"), ("sentiment", "full"), ("sentiment", "quick")):
        _write(tmp_path / f"{task}-{profile}", _doc(task, profile))
    text = readme_section(tmp_path)
    order = [text.index(f"#### {t} · `{p}`") for t, p in (("sentiment", "quick"), ("sentiment", "full"),
                                                          ("timeseries", "quick"))]
    assert order == sorted(order)


def _run(tmp_path: Path, name: str, family: str, curve: list[tuple[float, float]]) -> Run:
    folder = tmp_path / name
    folder.mkdir()
    lines = [json.dumps({"event": "eval", "split": "validation", "step": i + 1, "train_seconds": s, "accuracy": v})
             for i, (s, v) in enumerate(curve)]
    (folder / "metrics.jsonl").write_text("\n".join(lines))
    return Run(folder, _untrained_metrics(family, name))


def _untrained_metrics(family: str, name: str):
    """A complete metrics.json of an untrained sentiment model (what curve_summary reads: family, name, metric)."""
    from hf_rnn.app.testing import untrained_metrics
    from hf_rnn.tasks import load_task

    model = torch.nn.Linear(2, 2)
    return untrained_metrics(load_task("sentiment"), model, family, name)


def test_curve_summary_says_whether_the_lead_holds_across_the_curves(tmp_path):
    rnn = _run(tmp_path, "bilstm", "rnn", [(10, 0.70), (20, 0.75), (30, 0.78)])
    llm = _run(tmp_path, "smollm2", "llm", [(15, 0.80), (30, 0.85)])
    text = curve_summary([rnn, llm], "accuracy", True)
    assert text.startswith("smollm2 has the better validation accuracy at every evaluation from 15 s to 30 s")
    slow = _run(tmp_path, "slow", "llm", [(10, 0.60), (20, 0.74), (30, 0.90)])
    text = curve_summary([rnn, slow], "accuracy", True)
    assert "The lead changes from 10 s to 30 s of training: bilstm from 10 s, then slow from 30 s." in text
    assert curve_summary([rnn], "accuracy", True) == ""  # one family: nothing to compare


def test_a_comparison_on_other_data_is_published_and_listed_apart(tmp_path):
    """The CO2 series beside sunspots: its own folder and heading; it does not stand in for the usual data."""
    _write(tmp_path / "runs" / "a", _doc("timeseries", "quick"))
    _write(tmp_path / "runs" / "b", _doc("timeseries", "quick", variant="co2"))
    assert publish(tmp_path / "runs" / "a", tmp_path / "results").name == "timeseries-quick"
    assert publish(tmp_path / "runs" / "b", tmp_path / "results").name == "timeseries-co2-quick"
    text = readme_section(tmp_path / "results")
    assert text.index("#### timeseries · `quick`") < text.index("#### timeseries (co2) · `quick`")
    assert "timeseries `full`" in text  # the variant does not count as the usual full profile


def test_the_variant_is_the_series_a_recipe_changes():
    from hf_rnn.comparison.compare import comparison_variant
    from hf_rnn.training.recipes import load_recipe

    usual = load_recipe("timeseries", "lstm")
    co2 = load_recipe("timeseries", "lstm", overrides=["task.options.series=co2"])
    assert comparison_variant("timeseries", "lstm", usual) is None
    assert comparison_variant("timeseries", "smollm2", co2) == "co2"
    assert comparison_variant("sentiment", "bilstm", load_recipe("sentiment", "bilstm")) is None


def test_a_comparison_that_reused_its_runs_says_so_instead_of_a_whole_time():
    from hf_rnn.report.results import took

    trained = [120.0, 123.0, None]  # a reference row has no training seconds
    assert took(900.0, trained) == "the whole comparison took 900 s"
    assert took(174.0, trained).startswith("the comparison command took 174 s, reusing")
    # with three seeds, the runs of seeds 2 and 3 count too (seed 1's are the table's rows)
    seeds = {"per_model": {"a": {"train_seconds": [120.0, 121.0, 119.0]}, "b": {"train_seconds": [123.0, 120.0, 122.0]}}}
    assert took(500.0, trained) == "the whole comparison took 500 s"
    assert took(500.0, trained, seeds).startswith("the comparison command took 500 s, reusing")
    assert took(900.0, trained, seeds) == "the whole comparison took 900 s"


def test_the_verdict_row_prefers_a_tested_comparison_to_a_larger_untested_one(tmp_path):
    from hf_rnn.report.results import collect
    from hf_rnn.report.verdict_table import verdict_section

    publish(_write(tmp_path / "runs" / "full", _doc()), tmp_path / "results")  # full, no paired tests
    quick = _doc()
    quick["profile"] = "quick"
    quick["paired_tests"] = [{"role": "verdict", "a": "smollm2", "b": "bilstm", "metric": "accuracy",
                              "difference": 0.09, "ci_low": 0.05, "ci_high": 0.13, "test": "exact McNemar",
                              "p_value": 0.0001, "p_holm": 0.0002}]
    publish(_write(tmp_path / "runs" / "quick", quick), tmp_path / "results")
    text = verdict_section(collect(tmp_path / "results"))
    assert "(results/sentiment-quick/report.md) `quick`" in text and "sentiment-full" not in text
    assert "**LLM ahead**" in text


def test_the_verdict_table_says_how_the_verdict_fares_seed_by_seed_and_links_the_curves(tmp_path):
    from hf_rnn.report.results import collect, collect_curves
    from hf_rnn.report.verdict_table import verdict_section

    doc = _doc()
    doc["paired_tests"] = [{"role": "verdict", "a": "smollm2", "b": "bilstm", "metric": "accuracy",
                            "difference": 0.09, "ci_low": 0.05, "ci_high": 0.13, "test": "exact McNemar",
                            "p_value": 0.0001, "p_holm": 0.0002}]
    doc["seeds"] = {"count": 3, "per_model": {"bilstm": {"values": [0.8, 0.81, 0.79]},
                                              "smollm2": {"values": [0.88, 0.8, 0.85]}},
                    "verdict_per_seed": [
                        {"seed": 1, "difference": 0.09, "better": "smollm2", "significant": True},
                        {"seed": 2, "difference": -0.01, "better": "bilstm", "significant": False},
                        {"seed": 3, "difference": 0.06, "better": "smollm2", "significant": False}]}
    publish(_write(tmp_path / "runs" / "compare", doc), tmp_path / "results")
    curve = tmp_path / "results" / "sentiment-curve-quick"
    curve.mkdir()
    (curve / "curve.json").write_text(json.dumps({
        "task": "sentiment", "profile": "quick", "points": {}, "sizes": [100], "equivalence": [
            "With 100 labelled examples smollm2 scores accuracy 0.8; bilstm needs about 900 to match it (9× as many)."]}))
    text = verdict_section(collect(tmp_path / "results"), "../", collect_curves(tmp_path / "results"))
    assert "| **LLM ahead** | 3 seeds: LLM ahead in 2 (1 significant), RNN ahead in 1 (0 significant) |" in text
    assert ("[sentiment](../results/sentiment-curve-quick/curve.md) (quick budget per point): with 100 labelled "
            "examples smollm2 scores accuracy 0.8; bilstm needs about 900 to match it (9× as many).") in text
    # the LLM trained once (a profile's seed limit), its run against each RNN seed: said so
    once = dict(doc, seeds=dict(doc["seeds"], per_model={"bilstm": {"values": [0.8, 0.81, 0.79]},
                                                          "smollm2": {"values": [0.88]}}))
    publish(_write(tmp_path / "runs" / "once", once), tmp_path / "results")
    assert "| 1 LLM run against 3 RNN seeds: LLM ahead in 2" in verdict_section(collect(tmp_path / "results"))
    # folders named like a curve that are none (a user's file "learning-curve.csv", an interrupted publication)
    (tmp_path / "results" / "sentiment-learning-curve-quick").mkdir()
    (tmp_path / "results" / ".sentiment-curve-quick.tmp-1").mkdir()
    assert [c["folder"] for c in collect_curves(tmp_path / "results")] == ["sentiment-curve-quick"]
    # the test over every seed at once (each text's score averaged over each model's runs) judges a comparison of
    # several seeds: its means, interval and p, not seed 1's; its seed predictions travel with the publication
    averaged = {"a": "bilstm", "b": "smollm2", "metric": "accuracy", "value_a": 0.8, "value_b": 0.8433,
                "difference": -0.0433, "ci_low": -0.09, "ci_high": 0.004, "p_value": 0.07,
                "test": "paired permutation test over texts on each text's mean over 3 seeds"}
    folder = _write(tmp_path / "runs" / "averaged", dict(doc, seeds=dict(doc["seeds"], averaged=averaged, per_model={
        "bilstm": {"values": [0.8, 0.81, 0.79], "predictions": ["predictions/bilstm-seed2.jsonl.gz"]},
        "smollm2": {"values": [0.88, 0.8, 0.85]}})))
    (folder / "predictions").mkdir()
    (folder / "predictions" / "bilstm-seed2.jsonl.gz").write_bytes(b"seed 2")
    published = publish(folder, tmp_path / "results")
    assert (published / "predictions" / "bilstm-seed2.jsonl.gz").read_bytes() == b"seed 2"
    text = verdict_section(collect(tmp_path / "results"))
    assert ("| bilstm accuracy 0.8 (over seeds) | smollm2 0.8433 (over seeds) | +0.043 (-0.004 to +0.090) "
            "| paired permutation test over texts on each text's mean over 3 seeds, p = 0.070 | no significant "
            "difference | 3 seeds: LLM ahead in 2") in text
    assert "on each example's score averaged over each model's runs" in text
    doc.pop("seeds")
    publish(_write(tmp_path / "runs" / "one", doc), tmp_path / "results")
    assert "| **LLM ahead** | — |" in verdict_section(collect(tmp_path / "results"))


def test_over_seeds_the_best_rnn_is_the_best_on_average_and_an_older_file_keeps_seed_1s(tmp_path):
    """Two RNNs: gru is best at seed 1, bilstm on average. A comparison judged over its seeds (``seeds.averaged``)
    shows bilstm with its seed means and the averaged test; the same file without ``averaged`` (written before
    the test over seeds) keeps seed 1's pick and test, and says nothing across seeds for a pair it did not test."""
    from hf_rnn.report.verdict_table import verdict_section

    rows = _doc()["rows"] + [{"name": "gru", "family": "rnn", "run_dir": "gru", "metrics": {"accuracy": 0.83},
                              "parameters_total": 10, "parameters_trainable": 10, "train_seconds": 20.0,
                              "latency_ms_p50": 2.0}]
    seed_1 = {"role": "verdict", "a": "smollm2", "b": "gru", "metric": "accuracy", "difference": 0.07,
              "ci_low": 0.03, "ci_high": 0.11, "test": "exact McNemar", "p_value": 0.001, "p_holm": 0.002}
    averaged = {"a": "smollm2", "b": "bilstm", "metric": "accuracy", "value_a": 0.88, "value_b": 0.815,
                "difference": 0.065, "ci_low": 0.02, "ci_high": 0.11, "p_value": 0.03,
                "test": "paired permutation test over texts on each text's mean over 3 seeds"}
    seeds = {"count": 3, "pair": ["smollm2", "bilstm"], "averaged": averaged,
             "per_model": {"bilstm": {"values": [0.81, 0.82, 0.815], "mean": 0.815},
                           "gru": {"values": [0.83, 0.78, 0.79], "mean": 0.8},
                           "smollm2": {"values": [0.9, 0.87, 0.87], "mean": 0.88}},
             "verdict_per_seed": [{"seed": k, "a": "smollm2", "b": "bilstm", "difference": 0.06, "better": "smollm2",
                                   "significant": True} for k in (1, 2, 3)]}
    doc = _doc(rows=rows, paired_tests=[seed_1], seeds=seeds)
    publish(_write(tmp_path / "runs" / "new", doc), tmp_path / "results")
    text = verdict_section(collect(tmp_path / "results"))
    assert ("| bilstm accuracy 0.815 (over seeds) | smollm2 0.88 (over seeds) | +0.065 (+0.020 to +0.110) | paired "
            "permutation test over texts on each text's mean over 3 seeds, p = 0.030 | **LLM ahead** | 3 seeds: LLM "
            "ahead in 3 (3 significant) |") in text
    # no test over the seeds: seed 1's pick (gru) and test; the seed-by-seed tests of another pair are not shown
    other_pair = {k: v for k, v in seeds.items() if k not in ("averaged", "pair")}
    publish(_write(tmp_path / "runs" / "other", dict(doc, seeds=other_pair)), tmp_path / "results")
    seed_1_row = "| gru accuracy 0.83 | smollm2 0.9 | +0.070 (+0.030 to +0.110) | exact McNemar, p = 0.002 | **LLM ahead** |"
    assert f"{seed_1_row} — |" in verdict_section(collect(tmp_path / "results"))
    # a file from before the pair was recorded: its seed-by-seed tests were of seed 1's verdict pair
    older = dict(other_pair, verdict_per_seed=[{k: v for k, v in s.items() if k not in ("a", "b")}
                                               for s in seeds["verdict_per_seed"]])
    publish(_write(tmp_path / "runs" / "old", dict(doc, seeds=older)), tmp_path / "results")
    assert f"{seed_1_row} 3 seeds: LLM ahead in 3 (3 significant) |" in verdict_section(collect(tmp_path / "results"))


def test_a_report_judged_over_seeds_opens_with_that_test_and_names_seed_1s_other_pair():
    from hf_rnn.report.markdown import _verdict_line

    averaged = {"a": "smollm2", "b": "bilstm", "metric": "accuracy", "value_a": 0.88, "value_b": 0.815,
                "difference": 0.065, "ci_low": 0.02, "ci_high": 0.11, "ci_method": "bootstrap", "test":
                "paired permutation test over texts on each text's mean over 3 seeds", "statistic": 0.065,
                "p_value": 0.03, "library": "scipy", "n": 1000, "unit": "texts", "paired": True}
    doc = _read(_doc(paired_tests=[{"role": "verdict", "a": "smollm2", "b": "gru", "metric": "accuracy"}],
                     seeds={"count": 3, "averaged": averaged, "holds": "Seed by seed, ..."}, verdict="Seed 1 says so."))
    line = _verdict_line(doc)
    assert line.startswith("**Verdict.** Each test example's score averaged over each model's runs (the test over "
                           "examples holds those runs fixed; where both models have several, a Welch t-test over the "
                           "seeds must agree): **smollm2 is ahead of bilstm by 6.5 points** (95% CI 2.0 to 11.0;")
    assert line.endswith("Seed by seed, ... Seed 1's runs alone (the table below) (by seed 1's scores the pair is gru "
                         "and smollm2, not bilstm and smollm2): Seed 1 says so.")
    assert _verdict_line(_read(_doc(verdict="Seed 1 says so."))) == "**Verdict.** Seed 1 says so."


def test_the_third_family_gets_the_question_in_its_own_table(tmp_path):
    """A comparison with Mamba-2: a second table gives its best model against the best RNN and the best LLM
    against it, read from seed 1's tests, or from the tests over every seed where the comparison has them; a
    comparison without a third family adds no table."""
    from hf_rnn.report.verdict_table import verdict_section

    rows = _doc()["rows"] + [{"name": "mamba2", "family": "mamba2", "run_dir": "mamba2", "metrics": {"accuracy": 0.76},
                              "parameters_total": 5, "parameters_trainable": 5, "train_seconds": 60.0,
                              "latency_ms_p50": 5.0}]
    seed_1 = [{"role": "third family", "a": "mamba2", "b": "bilstm", "metric": "accuracy", "difference": -0.05,
               "ci_low": -0.08, "ci_high": -0.02, "test": "exact McNemar", "p_value": 0.001, "p_holm": 0.004},
              {"role": "third family", "a": "mamba2", "b": "smollm2", "metric": "accuracy", "difference": -0.14,
               "ci_low": -0.17, "ci_high": -0.11, "test": "exact McNemar", "p_value": 0.0001, "p_holm": 0.0003}]
    publish(_write(tmp_path / "runs" / "one", _doc(rows=rows, paired_tests=seed_1)), tmp_path / "results")
    text = verdict_section(collect(tmp_path / "results"))
    assert ("| [sentiment](results/sentiment-full/report.md) `full` | mamba2 accuracy 0.76 | -0.050 (-0.080 to -0.020), "
            "p = 0.004 | **bilstm ahead** | +0.140 (+0.110 to +0.170), p < 0.001 | **smollm2 ahead** | 2.0× | 2.0× |"
            ) in text  # the LLM's test oriented as LLM − Mamba-2; costs are Mamba-2's over the RNN's
    # over seeds: the averaged tests and Mamba-2's mean
    over = [{"a": "mamba2", "b": "bilstm", "metric": "accuracy", "value_a": 0.8, "value_b": 0.81, "difference": -0.01,
             "ci_low": -0.03, "ci_high": 0.01, "p_value": 0.3, "test": "paired permutation test"},
            {"a": "mamba2", "b": "smollm2", "error": "no per-example predictions"}]
    means = {name: {"values": [v, v], "mean": v} for name, v in (("bilstm", 0.81), ("smollm2", 0.9), ("mamba2", 0.8))}
    averaged = {"a": "smollm2", "b": "bilstm", "metric": "accuracy", "difference": 0.09, "ci_low": 0.06,
                "ci_high": 0.12, "p_value": 0.001, "value_a": 0.9, "value_b": 0.81, "test": "paired permutation test"}
    doc = _doc(rows=rows, paired_tests=seed_1, seeds={"count": 2, "per_model": means, "averaged": averaged,
                                                         "third_family": over})
    publish(_write(tmp_path / "runs" / "two", doc), tmp_path / "results")
    text = verdict_section(collect(tmp_path / "results"))
    assert ("| mamba2 accuracy 0.8 (over seeds) | -0.010 (-0.030 to +0.010), p = 0.300 over seeds | no significant "
            "difference | +0.140 (+0.110 to +0.170), p < 0.001 | **smollm2 ahead** |") in text  # no averaged test: seed 1's
    # lower is better (bits per character): a negative difference puts the first model ahead
    bpc_rows = [dict(r, metrics={"bpc": v}) for r, v in zip(rows, (2.2, 1.8, 2.0, 2.3))]
    bpc_tests = [dict(seed_1[0], metric="bpc", difference=0.1, ci_low=0.05, ci_high=0.15),
                 dict(seed_1[1], metric="bpc", difference=0.5, ci_low=0.4, ci_high=0.6)]
    publish(_write(tmp_path / "runs" / "bpc", _doc(task="textgen", rows=bpc_rows, paired_tests=bpc_tests,
                                                   primary_metric="bpc")), tmp_path / "results")
    assert ("| mamba2 bpc 2.3 | +0.100 (+0.050 to +0.150), p = 0.004 | **bilstm ahead** | -0.500 (-0.600 to -0.400), "
            "p < 0.001 | **smollm2 ahead** |") in verdict_section(collect(tmp_path / "results"))
    (tmp_path / "results" / "textgen-full").rename(tmp_path / "gone-too")
    rows_without = [r for r in rows if r["family"] != "mamba2"]
    (tmp_path / "results" / "sentiment-full").rename(tmp_path / "gone")
    publish(_write(tmp_path / "runs" / "three", _doc(rows=rows_without)), tmp_path / "results")
    assert "third family" not in verdict_section(collect(tmp_path / "results"))


def test_a_report_over_seeds_gives_the_third_familys_tests_after_the_verdict():
    from hf_rnn.report.markdown import _verdict_line

    test = {"metric": "accuracy", "value_a": 0.76, "value_b": 0.81, "difference": -0.05, "ci_low": -0.07,
            "ci_high": -0.03, "ci_method": "bootstrap", "test": "paired permutation test over texts", "statistic": -0.05,
            "p_value": 0.002, "library": "scipy", "n": 1000, "unit": "texts", "paired": True}
    averaged = dict(test, a="smollm2", b="bilstm", value_a=0.9, difference=0.09, ci_low=0.07, ci_high=0.11)
    third = [dict(test, a="mamba2", b="bilstm"), {"a": "smollm2", "b": "mamba2", "error": "no predictions"}]
    line = _verdict_line(_read(_doc(seeds={"count": 3, "averaged": averaged, "third_family": third},
                                    verdict="Seed 1 says so.")))
    assert ("The third family, over every seed the same way: **bilstm is ahead of mamba2 by 5.0 points** (95% CI 3.0 "
            "to 7.0; paired permutation test over texts p = 0.002; n = 1,000 texts); smollm2 vs mamba2 not tested: no "
            "predictions. Seed 1's runs alone") in line
    assert line.index("**smollm2 is ahead of bilstm") < line.index("The third family")
    # no verdict pair over seeds (no RNN trained, say): the third family's tests still open the report, named
    rows = [{"name": "mamba2", "family": "mamba2", "run_dir": "mamba2", "metrics": {"accuracy": 0.76}},
            _doc()["rows"][1]]
    alone = _verdict_line(_read(_doc(rows=rows, seeds={"count": 3, "third_family": third[1:]}, verdict="Seed 1.")))
    assert alone == ("**Verdict.** The third family (mamba2), over every seed the same way: smollm2 vs mamba2 not "
                     "tested: no predictions. Seed 1's runs alone (the table below): Seed 1.")
