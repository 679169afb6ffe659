"""``results.json``'s schema (``hf_rnn.comparison.schema``): every committed file reads through it, each row with a
role that agrees with what its report shows; files round-trip; bad files are one clear error; the report never
imports the app. No training."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hf_rnn.comparison.schema import (
    REFERENCE,
    ROLES,
    TRAINED,
    ZERO_SHOT,
    Comparison,
    ModelResult,
    ResultsError,
    comparison_document,
    read_comparison,
)

REPO = Path(__file__).resolve().parent.parent
COMMITTED = sorted(p.parent for p in (REPO / "results").glob("*/results.json"))


def test_there_are_committed_results_to_read():
    assert len(COMMITTED) >= 5  # one per task at least: the tests below read every one


@pytest.mark.parametrize("folder", COMMITTED, ids=[p.name for p in COMMITTED])
def test_every_committed_results_json_reads_through_the_schema_with_a_role_per_row(folder):
    c = read_comparison(folder)
    raw = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert c.folder == folder.name and len(c.rows) == len(raw["rows"]) > 0
    report = (folder / "report.md").read_text(encoding="utf-8")
    for row, data in zip(c.rows, raw["rows"]):
        assert row.role in ROLES
        assert row.role == data.get("role", row.role)  # a file that records roles keeps them
        # the roles agree with what the report shows: trained rows have a run folder, references the family
        # "reference", and the zero-shot rows are exactly those the report names as zero-shot
        assert (row.role == TRAINED) == (data["run_dir"] is not None), row.name
        assert (row.role == REFERENCE) == (row.family == "reference"), row.name
        assert (row.role == ZERO_SHOT) == ("zero-shot" in row.name), row.name
        assert f"| {row.name} | {row.family} |" in report, row.name
        if row.role == ZERO_SHOT:
            assert "no training" in row.note and row.parameters_trainable == 0
    # the paired tests the report shows pair the rows by their roles
    by_name = {r.name: r for r in c.rows}
    for test in c.paired_tests:
        a, b = by_name[test["a"]], by_name[test["b"]]
        if test["role"] == "verdict":
            assert (a.role, b.role, a.family, b.family) == (TRAINED, TRAINED, "llm", "rnn")
        elif test["role"] == "fine-tuned vs zero-shot":
            assert (a.role, b.role) == (TRAINED, ZERO_SHOT)
        elif test["role"] == "against a reference":
            assert (a.role, b.role) == (TRAINED, REFERENCE)
        else:
            assert (a.role, b.role) == (TRAINED, TRAINED)


@pytest.mark.parametrize("folder", COMMITTED, ids=[p.name for p in COMMITTED])
def test_a_committed_file_round_trips(folder):
    """Written back, every key of the file is as it was (run folders relative again); what older files lack
    comes back as the role, whether the model is the built-in LLM, and the defaults of newer keys."""
    raw = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    again = comparison_document(read_comparison(folder))
    assert {k: again[k] for k in raw if k != "rows"} == {k: v for k, v in raw.items() if k != "rows"}
    for before, after in zip(raw["rows"], again["rows"]):
        assert {k: after[k] for k in before} == before
        assert set(after) - set(before) <= {"role", "builtin_llm", "latency_other_load", "predictions"}
    assert Comparison.from_document(again, folder) == read_comparison(folder)


def test_an_older_file_says_smollm2_is_built_in_and_a_newer_one_says_it_in_the_row(tmp_path):
    """The README's "`smollm2` is the built-in ..." line reads ``builtin_llm``; older files, which do not record
    it, are read as the rows' names said."""
    old = read_comparison(REPO / "results" / "sentiment-quick")
    assert {r.name for r in old.rows if r.builtin_llm} == {"smollm2", "smollm2 zero-shot"}
    row = {"name": "smollm2", "family": "llm", "run_dir": "x", "metrics": {}, "role": "trained",
           "builtin_llm": False}  # a newer file: a Hub LLM that happens to be named smollm2
    assert ModelResult.from_dict(row).builtin_llm is False


def test_a_recorded_role_wins_over_what_an_older_row_would_be_read_as():
    row = {"name": "bm25", "family": "llm", "run_dir": None, "metrics": {"accuracy": 0.5}}
    assert ModelResult.from_dict(row).role == ZERO_SHOT  # an older file: an untrained LLM row
    assert ModelResult.from_dict({**row, "role": "reference"}).role == REFERENCE


@pytest.mark.parametrize("change, message", [
    ({"role": "teacher"}, "role must be one of trained, zero-shot, reference; got 'teacher'"),
    ({"metrics": [0.5]}, r"rows\[0\].metrics must be a mapping"),
    ({"metrics": {"accuracy": "high"}}, r"rows\[0\].metrics.accuracy must be float"),
    ({"parameters_total": "many"}, r"rows\[0\].parameters_total must be int"),
    ({"name": None}, r"rows\[0\].name must be str"),
])
def test_a_damaged_row_is_one_error_that_names_it(tmp_path, change, message):
    doc = {"task": "sentiment", "profile": "quick", "budget": "1 s",
           "rows": [{"name": "bilstm", "family": "rnn", "run_dir": "bilstm", "metrics": {"accuracy": 0.8}, **change}]}
    (tmp_path / "results.json").write_text(json.dumps(doc))
    with pytest.raises(ResultsError, match=message):
        read_comparison(tmp_path)


@pytest.mark.parametrize("content, message", [
    ("[1, 2]", "must be a mapping"),
    ('{"task": "sentiment"}', "lacks profile, rows, budget"),
    ('{"task": "sentiment", "profile": "quick", "budget": "1 s", "rows": {}}', "rows must be a list"),
    ('{"task": "sentiment", "profile": "quick", "budget": "1 s", "rows": [{"name": "x"}]}', "lacks family, metrics"),
    ("{not json", "not valid JSON"),
])
def test_a_file_that_is_no_comparison_is_one_error(tmp_path, content, message):
    (tmp_path / "results.json").write_text(content)
    with pytest.raises(ResultsError, match=message):
        read_comparison(tmp_path)


def test_the_readme_lists_the_tasks_in_the_registrys_order_with_no_list_to_edit(tmp_path, monkeypatch):
    """A task registered after the built-in ones is published and listed after them, and named among those not
    committed yet, without a list of task names to edit."""
    from hf_rnn.report.results import readme_section
    from hf_rnn.tasks import TASKS

    monkeypatch.setitem(TASKS, "toy", TASKS["sentiment"])
    rows = [{"name": "bilstm", "family": "rnn", "run_dir": "bilstm", "metrics": {"accuracy": 0.8},
             "parameters_total": 1, "parameters_trainable": 1}]
    for task in ("toy", "sentiment", "unregistered"):
        folder = tmp_path / f"{task}-quick"
        folder.mkdir()
        (folder / "results.json").write_text(json.dumps({"task": task, "profile": "quick", "budget": "1 s",
                                                         "rows": rows, "primary_metric": "accuracy"}))
    text = readme_section(tmp_path)
    order = [text.index(f"#### {t} · `quick`") for t in ("sentiment", "toy", "unregistered")]
    assert order == sorted(order)
    assert "toy `full`" in text.split("Not committed yet:")[1] and "toy `quick`" not in text.split("Not committed")[1]


def test_the_report_and_the_results_import_nothing_of_the_app():
    """The report depends on tasks and families, never on the app (``hf_rnn.app``)."""
    code = ("import sys; import hf_rnn.comparison.compare, hf_rnn.report.markdown, hf_rnn.report.results, hf_rnn.comparison.schema, "
            "hf_rnn.report.verdict, hf_rnn.report.verdict_table, hf_rnn.comparison.learning_curve, hf_rnn.comparison.lecture_answers; "
            "print(sorted(m for m in sys.modules if m == 'hf_rnn.app' or m.startswith('hf_rnn.app.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_report_modules_name_no_app_module():
    """No import statement of the report's modules names the app, at module level or inside a function."""
    import ast

    for name in (*(f"comparison/{m.stem}" for m in (REPO / "hf_rnn" / "comparison").glob("*.py")),
                 *(f"report/{m.stem}" for m in (REPO / "hf_rnn" / "report").glob("*.py"))):
        tree = ast.parse((REPO / "hf_rnn" / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("app"), (name, node.module)
                assert not (node.module or "").startswith("hf_rnn.app"), (name, node.module)
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("hf_rnn.app") for a in node.names), name
