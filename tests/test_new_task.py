"""A sixth task is one new module plus its recipes: it trains, compares and appears in the app with no edit
anywhere in hf_rnn (the task class says everything task-specific; the rest branches on its kind)."""

from __future__ import annotations

import importlib
import os
import sys
import textwrap

import pytest
from toy_sources import toy_rnn_recipe, toy_task_source

from hf_rnn.errors import DataError
from hf_rnn.tasks import TASK_MODULES_ENV, TASKS, register_task

TOY_MODULE = toy_task_source("ToyTask", "toy", "Toy phrases", ("rnn", "llm"), app_quick_train=("rnn", ()))

RNN_RECIPE = toy_rnn_recipe("toy")

LLM_RECIPE = """
task: {{name: toy}}
model: {{family: llm, name: llm, name_or_path: {llm}}}
training: {{epochs: 2, batch_size: 8, learning_rate: 0.001, eval_steps: 3, progress_bar: false,
           logging_steps: 2}}
"""


@pytest.fixture
def toy_task(tmp_path, monkeypatch, tiny_llama):
    """The toy module and its recipes in a folder on the path, imported like a user's plug-in."""
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "toy_task.py").write_text(TOY_MODULE)
    (folder / "toy_rnn.yaml").write_text(textwrap.dedent(RNN_RECIPE))
    (folder / "toy_llm.yaml").write_text(textwrap.dedent(LLM_RECIPE.format(llm=tiny_llama)))
    monkeypatch.setenv("HF_RNN_HOME", str(tmp_path / "home"))  # the toy data is prepared into a fresh cache
    monkeypatch.setenv(TASK_MODULES_ENV, "toy_task")  # child processes import it too
    inherited = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(folder), *([inherited] if inherited else [])]))
    monkeypatch.syspath_prepend(str(folder))
    try:
        yield importlib.import_module("toy_task").ToyTask
    finally:
        TASKS.pop("toy", None)
        sys.modules.pop("toy_task", None)


def test_a_task_defined_outside_hf_rnn_trains_compares_and_shows_in_the_app(toy_task, tmp_path):
    from hf_rnn.app.service import RUN_PREFIX, AppService
    from hf_rnn.app.ui import build_app
    from hf_rnn.cli import main as cli
    from hf_rnn.comparison.compare import compare
    from hf_rnn.tasks import load_task

    assert TASKS["toy"] is toy_task and len(load_task("toy").dataset["train"]) == 48

    # trains: the CLI finds the task and its recipe
    assert cli(["train", "--task", "toy", "--model", "rnn", "--output-dir", str(tmp_path / "runs" / "one")]) == 0

    # compares: the task's default models and profile, each trained in a child process
    result = compare("toy", profile="quick", output_dir=tmp_path / "runs" / "cmp")
    names = [r.name for r in result.rows]
    assert names[:2] == ["rnn", "llm"] and "majority class" in names
    assert "smollm2 zero-shot" not in names  # the task says the untrained LLM cannot answer it
    assert all(0.0 <= r.metrics["accuracy"] <= 1.0 for r in result.rows)
    assert set(result.examples) == {"a fine day", "a grim day"}
    assert all(result.examples["a fine day"][m].split(" (")[0] in ("good", "bad") for m in ("rnn", "llm"))

    # shows in the app: its runs are listed, both answer, and the page has its tab
    service = AppService(tmp_path / "runs")
    values = [c.value for c in service.choices("toy")]
    assert RUN_PREFIX + "one" in values and len(values) == 3
    r = service.compare("toy", RUN_PREFIX + "one", RUN_PREFIX + "cmp/llm", "a fine day")
    assert r.error is None and r.a.ok and r.b.ok, (r.a.error, r.b.error)
    assert set(r.a.output) == {"bad", "good"} and r.a.maps is not None  # additive attention over the words
    demo = build_app(service)
    assert "Toy phrases" in [getattr(b, "label", None) for b in demo.blocks.values()]
    service.close()


def test_a_task_must_be_of_a_known_kind_and_named_once():
    from hf_rnn.tasks import SentimentTask, Task

    class NoKind(Task):
        name = "nokind"

    with pytest.raises(DataError, match="subclass one of"):
        register_task(NoKind)

    class Twin(SentimentTask):
        pass

    with pytest.raises(DataError, match="already registered"):
        register_task(Twin)  # same name as the built-in sentiment task
    assert TASKS["sentiment"] is SentimentTask

    def define():  # a notebook cell defining a task, run twice: the second class replaces the first
        @register_task
        class Rerun(SentimentTask):
            name = "rerun_cell_task"
        return Rerun

    first, second = define(), define()
    assert first is not second and TASKS["rerun_cell_task"] is second
    del TASKS["rerun_cell_task"]


def test_a_task_module_that_cannot_be_imported_is_named(monkeypatch):
    import hf_rnn.tasks as tasks

    monkeypatch.setenv(TASK_MODULES_ENV, "no_such_task_module_4242")
    with pytest.raises(DataError, match="no_such_task_module_4242"):
        tasks._import_task_modules()
