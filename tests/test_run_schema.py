"""The run folder's contract: ``metrics.json``'s schema (``hf_rnn.runs.schema``) and ``hf_rnn.train_recipe``.

The schema is checked against a ``metrics.json`` written by the release before it (kept below as it was), so
run folders trained before the schema existed still read, and write back byte for byte; a malformed file is a
``RunError`` that names the key. ``train_recipe`` is checked on a tiny RNN recipe, in this process and through
the child-process entry the comparison and the app use.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

import hf_rnn
from hf_rnn.errors import ConfigError, RunError
from hf_rnn.runs.run import find_runs, read_run
from hf_rnn.runs.schema import ModelInfo, RunMetrics
from hf_rnn.training.recipes import dump_yaml, load_recipe

# metrics.json of a tiny sentiment BiLSTM, as hf_rnn 0.1.0 wrote it before the schema (commit 5fe2211)
LEGACY = {
    "task": {"name": "sentiment", "kind": "sequence-classification", "source": "builtin", "options": {},
             "primary_metric": "accuracy", "greater_is_better": True,
             "sizes": {"train": 32, "validation": 8, "test": 8},
             "data_hash": {"train": "a096e8347bec0677", "validation": "b256771f00e1d334", "test": "c29fdf2fd65e1442"}},
    "tokenizer": {"name_or_path": "/root/.cache/hf_rnn/models/SmolLM2-135M-Instruct", "class": "TokenizersBackend",
                  "vocab_size": 49152, "hash": "33b7dd0ab4327c92"},
    "model": {"family": "rnn", "name": "bilstm", "class": "RNNForSequenceClassification", "name_or_path": None,
              "mode": None},
    "parameters": {"total": 395858, "trainable": 2642},
    "test": {"accuracy": 0.375, "macro_f1": 0.2727272727272727, "num_examples": 8},
    "best": {"metric": "accuracy", "value": 0.375, "step": 2, "model_step": 2},
    "training": {"steps": 2, "epochs": 0.5, "examples": 16, "train_seconds": 0.152, "wall_seconds_this_session": 2.808,
                 "tokens": 376, "tokens_per_second": 2479.8, "padding_share": 0.1607, "final_loss": 0.683924674987793,
                 "stopped_because": "max_steps", "global_batch_size": 8, "resumed": False},
    "memory": {"cpu_peak_rss_mb": 531.7, "cuda_max_allocated_mb": None},
    "hardware": {"device": "cpu", "device_name": "AMD EPYC", "num_processes": 1, "distributed_type": "NO",
                 "mixed_precision": "no", "torch_threads": 1},
    "versions": {"hf_rnn": "0.1.0", "torch": "2.13.0+cpu", "transformers": "5.24.0", "accelerate": "1.15.0"},
}

TINY = ["model.embedding_size=8", "model.init_embeddings=null", "model.hidden_size=8", "model.dropout=0.0",
        "model.classifier_hidden_sizes=[]", "task.max_train_examples=32", "task.max_validation_examples=6",
        "task.max_test_examples=7", "training.max_steps=2", "training.batch_size=8", "training.eval_steps=2",
        "training.progress_bar=false", "training.log_with=null"]


# =========================================================================== the schema


def test_a_metrics_json_of_the_release_before_reads_and_writes_back_unchanged():
    metrics = RunMetrics.from_dict(copy.deepcopy(LEGACY))
    assert metrics.training.steps == 2 and metrics.model.class_name == "RNNForSequenceClassification"
    assert metrics.tokenizer.class_name == "TokenizersBackend" and metrics.best.model_step == 2
    assert metrics.primary_score == 0.375 and isinstance(metrics.test["num_examples"], int)  # a count stays one
    assert json.dumps(metrics.to_dict(), indent=2) == json.dumps(LEGACY, indent=2)  # same keys, order and values


def test_dict_style_reading_is_gone_the_attributes_read_the_same_values():
    # ``metrics["test"]`` was a deprecated read-only copy (removed 2026-12): the attributes are the one way
    metrics = RunMetrics.from_dict(copy.deepcopy(LEGACY))
    with pytest.raises(TypeError, match="not subscriptable"):
        metrics["test"]
    assert metrics.test == LEGACY["test"] and metrics.training.steps == LEGACY["training"]["steps"]


def test_a_forecaster_has_no_tokenizer_and_a_family_keeps_its_own_model_keys():
    doc = copy.deepcopy(LEGACY)
    doc["tokenizer"] = None
    doc["model"] = {"family": "bag", "name": "bag", "class": "Bag", "name_or_path": None, "mode": None, "pooling": "max"}
    metrics = RunMetrics.from_dict(doc)
    assert metrics.tokenizer is None and metrics.model.extra == {"pooling": "max"}
    assert metrics.to_dict() == doc
    # a family's metrics_fields become the section, in their order
    info = ModelInfo.of("bag", "bag", "Bag", {"name_or_path": None, "mode": None, "pooling": "max"})
    assert info.to_dict() == doc["model"]


def test_unknown_keys_of_a_newer_release_are_ignored():
    doc = copy.deepcopy(LEGACY)
    doc["training"]["something_new"] = 1
    doc["carbon"] = {"grams": 2}
    assert RunMetrics.from_dict(doc).to_dict() == LEGACY


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.pop("training"), "metrics.json lacks training$"),
    (lambda d: (d.pop("test"), d.pop("hardware")), "metrics.json lacks test, hardware$"),
    (lambda d: d["training"].pop("steps"), "metrics.json: training lacks steps$"),
    (lambda d: d["model"].pop("class"), "metrics.json: model lacks class$"),
    (lambda d: d["training"].update(steps="2"), "metrics.json: training.steps must be an integer, got '2'"),
    (lambda d: d["parameters"].update(total=1.5), "parameters.total must be an integer, got 1.5"),
    (lambda d: d["test"].update(accuracy="high"), "metrics.json: test.accuracy must be"),
    (lambda d: d["task"].update(sizes=[1, 2]), "metrics.json: task.sizes must be a mapping"),
    (lambda d: d.update(best=None), "metrics.json: best must be a mapping"),
])
def test_a_malformed_document_names_the_key(change, message):
    doc = copy.deepcopy(LEGACY)
    change(doc)
    with pytest.raises(RunError, match=message):
        RunMetrics.from_dict(doc)


def test_a_run_folder_with_a_malformed_metrics_json_is_named_and_skipped(tmp_path):
    folder = tmp_path / "runs" / "broken"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"")
    doc = copy.deepcopy(LEGACY)
    del doc["training"]["train_seconds"]
    (folder / "metrics.json").write_text(json.dumps(doc))
    with pytest.raises(RunError, match=r"broken/metrics.json: training lacks train_seconds"):
        read_run(folder)
    assert find_runs(tmp_path / "runs") == []  # the app and compare list only runs they can read


# =========================================================================== train_recipe


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("recipe") / "run"
    return hf_rnn.train_recipe(load_recipe("sentiment", "bilstm"), out, TINY)


def test_train_recipe_writes_the_run_it_returns(trained):
    assert isinstance(trained.metrics, RunMetrics)
    assert trained.metrics.training.steps == 2 and trained.metrics.test["num_examples"] == 7
    again = read_run(trained.path)
    assert again.metrics == trained.metrics  # the file holds what training returned, through the same schema
    assert json.loads((trained.path / "metrics.json").read_text()) == trained.metrics.to_dict()
    recipe = load_recipe(saved=trained.path / "config.yaml")
    assert recipe.output_dir == str(trained.path) and recipe.training.max_steps == 2  # the overrides, recorded


def test_train_recipe_refuses_before_loading_anything(trained, tmp_path):
    with pytest.raises(ConfigError, match="say what to train"):
        hf_rnn.train_recipe(None, tmp_path / "x")
    with pytest.raises(hf_rnn.HfRnnError, match="already holds a run"):
        hf_rnn.train_recipe(load_recipe("sentiment", "bilstm"), trained.path, TINY)
    with pytest.raises(ConfigError, match="training.batch_size must be >= 1"):
        hf_rnn.train_recipe({**load_recipe("sentiment", "bilstm").to_dict()}, tmp_path / "y", ["training.batch_size=0"])
    assert not (tmp_path / "y").exists()


def test_the_child_process_entry_runs_train_recipe(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(dump_yaml(load_recipe("sentiment", "bilstm").to_dict()))  # what compare writes
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "hf_rnn.training.recipe_training", "--config", str(recipe),
                           "--output-dir", str(out), "--overwrite", *TINY], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert read_run(out).metrics.training.steps == 2
    bad = subprocess.run([sys.executable, "-m", "hf_rnn.training.recipe_training", "--task", "sentiment", "--model", "bilstm",
                          "--output-dir", str(tmp_path / "bad"), "training.batch_size=0"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "hf-rnn train: error: training.batch_size must be >= 1; got 0"]  # it is hf-rnn train, in a child


def test_the_child_process_entry_reads_the_hf_rnn_train_command_line(tmp_path, capsys):
    # one command line: the child's entry is ``hf-rnn train`` (overrides anywhere, --print-config, the same recipe)
    from hf_rnn import cli
    from hf_rnn.training import recipe_training as recipe_training

    argv = ["training.max_steps=7", "--task", "sentiment", "--model", "bilstm", "--output-dir", str(tmp_path / "r"),
            "--print-config", "model.hidden_size=24"]
    assert recipe_training.main(argv) == 0
    child = capsys.readouterr().out
    assert cli.main(["train", *argv]) == 0
    assert capsys.readouterr().out == child
    assert "max_steps: 7" in child and "hidden_size: 24" in child and not (tmp_path / "r").exists()
