"""Where a run or a comparison may write: never over a user's files unasked, never into the asset cache.

A folder is a run when its ``config.yaml`` is a recipe (``is_run_folder``); a folder holding anything else (a
``save_pretrained`` model, a user's notes) takes a run only with ``--overwrite``, and even then keeps every
file whose name a run does not write. The asset cache (``$HF_RNN_HOME``), a folder inside it or one holding it
is never an output. The bad-input rows of the CLI are in ``test_hostile_inputs.py``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import hf_rnn
from hf_rnn.errors import ConfigError
from hf_rnn.runs.folder import check_output_dir, check_report_dir, clear_run, is_run_folder
from hf_rnn.training.recipes import dump_yaml, load_recipe

TINY = ["model.embedding_size=8", "model.init_embeddings=null", "model.hidden_size=8", "model.dropout=0.0",
        "model.classifier_hidden_sizes=[]", "task.max_train_examples=32", "task.max_validation_examples=6",
        "task.max_test_examples=7", "training.max_steps=2", "training.batch_size=8", "training.eval_steps=2",
        "training.progress_bar=false", "training.log_with=null"]


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _recipe_yaml() -> str:
    return dump_yaml(load_recipe("sentiment", "bilstm").to_dict())


def test_a_saved_model_is_refused_and_overwrite_keeps_the_users_other_files(tmp_path, tiny_llama):
    mine = tmp_path / "my-model"
    shutil.copytree(tiny_llama, mine)  # save_pretrained's config.json, model.safetensors, tokenizer files
    (mine / "notes.txt").write_text("how I trained it")
    (mine / "data").mkdir()
    (mine / "data" / "train.csv").write_text("text,label\n")
    before = _tree(mine)
    recipe = load_recipe("sentiment", "bilstm")
    with pytest.raises(ConfigError) as caught:
        hf_rnn.train_recipe(recipe, mine, TINY)
    message = str(caught.value)
    assert str(mine) in message and "holds no hf_rnn run" in message and "config.json" in message
    assert "(a saved model)" in message and "--overwrite" in message
    with pytest.raises(ConfigError, match="nothing to resume .* holds no hf_rnn run"):
        hf_rnn.train_recipe(recipe, mine, TINY, resume=True)
    assert _tree(mine) == before  # refused: not a byte changed

    run = hf_rnn.train_recipe(recipe, mine, TINY, overwrite=True)  # the user said so
    after = _tree(mine)
    assert after["notes.txt"] == before["notes.txt"] and after["data/train.csv"] == before["data/train.csv"]
    assert after["config.json"] != before["config.json"]  # the run's model replaced the one of the same name
    assert json.loads(after["config.json"])["model_type"] != "llama"
    assert is_run_folder(mine) and run.metrics.training.steps == 2
    with pytest.raises(ConfigError, match="already holds a run"):  # now it is a run: the usual rules
        check_output_dir(mine)


def test_overwrite_never_deletes_a_users_folder_of_a_runs_name(tmp_path):
    mine = tmp_path / "project"
    for name in ("checkpoints", "tensorboard", "adapter"):
        (mine / name).mkdir(parents=True)
        (mine / name / "mine.pt").write_text("x")
        with pytest.raises(ConfigError, match=f"delete its {name}/ whole"):
            check_output_dir(mine, overwrite=True)
        shutil.rmtree(mine / name)
    (mine / "checkpoints").mkdir()  # an empty folder holds nothing to lose
    assert check_output_dir(mine, overwrite=True) == mine.resolve()


def test_clear_run_removes_only_what_a_run_writes(tmp_path):
    out = tmp_path / "run"
    (out / "checkpoints" / "step-0000002").mkdir(parents=True)
    for name in ("config.yaml", "metrics.jsonl", "metrics.json", "notes.txt"):
        (out / name).write_text("x")
    clear_run(out)
    assert sorted(p.name for p in out.iterdir()) == ["config.yaml", "notes.txt"]


@pytest.mark.parametrize("where", ["cache", "cache/models/SmolLM2-135M-Instruct", "cache/new-folder", ".",
                                   "link-to-cache"])
@pytest.mark.parametrize("flags", [{}, {"overwrite": True}, {"resume": True}])
def test_the_asset_cache_is_never_an_output(tmp_path, monkeypatch, where, flags):
    cache = tmp_path / "cache"
    (cache / "models" / "SmolLM2-135M-Instruct").mkdir(parents=True)
    (cache / "models" / "SmolLM2-135M-Instruct" / "config.json").write_text("{}")
    (tmp_path / "link-to-cache").symlink_to(cache)
    monkeypatch.setenv("HF_RNN_HOME", str(cache))
    before = _tree(cache)
    with pytest.raises(ConfigError, match="asset cache") as caught:
        check_output_dir(tmp_path / where, **flags)
    assert "even with --overwrite" in str(caught.value)
    with pytest.raises(ConfigError, match="asset cache"):
        check_report_dir(tmp_path / where)
    assert _tree(cache) == before


def test_a_folder_that_would_hold_a_cache_not_yet_made_is_allowed(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_RNN_HOME", str(tmp_path / "later" / "cache"))  # not fetched yet: nothing to protect
    assert check_output_dir(tmp_path / "later") == (tmp_path / "later").resolve()
    with pytest.raises(ConfigError, match="asset cache"):  # but the cache's own place stays out of bounds
        check_output_dir(tmp_path / "later" / "cache")


def test_what_counts_as_a_run_folder(tmp_path):
    cases = {
        "recipe": _recipe_yaml(),  # what train_recipe writes
        "training only": "training:\n  max_steps: 3\n",  # what train() writes without a recipe
        "stopped early": "task: {}\n",
        "another tool": "trainer:\n  max_epochs: 3\nseed: 1\n",
        "extra section": "training: {}\ndata: {}\n",
        "a list": "- training\n",
        "empty": "",
        "not yaml": "training: [unclosed\n",
    }
    found = {}
    for name, text in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.yaml").write_text(text)
        found[name] = is_run_folder(folder)
    assert found == {"recipe": True, "training only": True, "stopped early": True, "another tool": False,
                     "extra section": False, "a list": False, "empty": False, "not yaml": False}
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "config.json").write_text("{}")
    assert not is_run_folder(saved) and not is_run_folder(tmp_path / "missing")


def test_a_comparisons_report_folder(tmp_path):
    def folder(name: str, files: dict[str, str]) -> Path:
        root = tmp_path / name
        root.mkdir()
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        return root

    comparison = '{"task": "sentiment", "profile": "quick", "rows": []}'
    accepted = [
        tmp_path / "new",
        folder("empty", {}),
        folder("earlier", {"results.json": comparison, "report.md": "#"}),
        folder("stopped", {"bilstm/config.yaml": _recipe_yaml(), "bilstm/metrics.jsonl": ""}),
        folder("killed", {".bilstm.recipe.yaml": _recipe_yaml()}),
    ]
    for root in accepted:
        assert check_report_dir(root, [root / "bilstm"]) == root.resolve()
    (tmp_path / "failed-child").mkdir()
    (tmp_path / "failed-child" / "bilstm").mkdir()  # a child that failed on its inputs leaves an empty folder
    check_report_dir(tmp_path / "failed-child", [tmp_path / "failed-child" / "bilstm"])

    with pytest.raises(ConfigError, match="training run's folder"):
        check_report_dir(folder("run", {"config.yaml": _recipe_yaml()}))
    with pytest.raises(ConfigError, match="holds no comparison: it holds config.json, model.safetensors"):
        check_report_dir(folder("model", {"config.json": "{}", "model.safetensors": "w"}))
    user = folder("user-child", {"results.json": comparison, "bilstm/config.json": "{}"})
    with pytest.raises(ConfigError, match="where the comparison would train a model, holds no hf_rnn run"):
        check_report_dir(user, [user / "bilstm"])
