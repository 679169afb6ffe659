"""A new task *kind* is one module: a text regression (a number per sentence) written outside hf_rnn trains,
compares, reports and answers in the app with no edit to hf_rnn (issue 29, point 1).

The module below is the whole kind: its encoding, step and metrics (what any kind writes), a task of it on a
tiny in-memory dataset, registered with ``register_task``; its model is the RNN family's sequence-classification
head with one output (``head_kind``, ``head_config``). How the app shows it, its references and its model card
come from ``Task``'s defaults and the few it overrides. It is written into a temporary folder and imported by
name (``HF_RNN_TASK_MODULES``), so the comparison's child processes import it too.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import textwrap

import pytest

from hf_rnn.tasks import TASK_MODULES_ENV, TASKS

TOY_KIND_MODULE = '''
"""A toy task kind defined outside hf_rnn: text regression, a number per sentence."""

from pathlib import Path

import numpy as np
import torch
from datasets import Dataset, DatasetDict
from transformers import DataCollatorWithPadding

from hf_rnn.errors import InputError
from hf_rnn.comparison.profiles import Profile
from hf_rnn.tasks import DIRECT, SPLITS, Task, register_task
from hf_rnn.tasks.base import Answer, seeded_splits


class TextRegressionTask(Task):
    """Text -> one number. Columns: ``text`` (str), ``value`` (float). Scored by MAE and RMSE."""

    kind = "text-regression"
    columns = ("text", "value")
    metric_names = ("mae", "rmse")
    primary_metric = "mae"
    greater_is_better = False
    zero_shot = False  # the untrained LLM is not asked for numbers here
    head_kind = "sequence-classification"  # a sequence classifier's head, with one output
    app_output = "line"
    pipeline_tag = "text-classification"  # the Hub's pipelines do regression with it
    auto_class = "AutoModelForSequenceClassification"

    def head_config(self):
        return {"num_labels": 1, "problem_type": "regression"}

    def _rows(self, tokenizer, texts, values, max_length):
        enc = tokenizer(list(texts), truncation=True, max_length=max_length or 64)
        return [{"input_ids": ids, "attention_mask": mask, "labels": float(v)}
                for ids, mask, v in zip(enc["input_ids"], enc["attention_mask"], values)]

    def encode(self, tokenizer, encoding=DIRECT, splits=SPLITS, max_length=None, for_generation=False):
        out = DatasetDict()
        for s in splits:
            rows = self._rows(tokenizer, self.dataset[s]["text"], self.dataset[s]["value"], max_length)
            out[s] = Dataset.from_list([{**r, "example_index": i} for i, r in enumerate(rows)])
        return out

    def encode_inputs(self, tokenizer, inputs, encoding=DIRECT, max_length=None):
        if not all(isinstance(t, str) and t.strip() for t in inputs):
            raise InputError(f"{self.name}: each input must be a non-empty text")
        return self._rows(tokenizer, inputs, [0.0] * len(inputs), max_length)

    def example_inputs(self, split="test"):
        return list(self.dataset[split]["text"])

    def collator(self, tokenizer, encoding=DIRECT, for_generation=False):
        return DataCollatorWithPadding(tokenizer)

    def prediction_step(self, model, batch, tokenizer=None, **_):
        inputs = {k: v for k, v in self.model_inputs(batch).items() if k != "labels"}
        return {"prediction": model(**inputs).logits[:, 0].float(), "labels": batch["labels"].float(),
                "example_index": batch["example_index"]}

    def _arrays(self, outputs):
        return tuple(np.concatenate([np.asarray(a).reshape(-1) for a in outputs[k]])
                     for k in ("prediction", "labels", "example_index"))

    def compute_metrics(self, outputs, tokenizer=None, split="test"):
        pred, gold, _ = self._arrays(outputs)
        return {"mae": float(np.mean(np.abs(pred - gold))), "rmse": float(np.sqrt(np.mean((pred - gold) ** 2))),
                "num_examples": int(len(gold))}

    def example_records(self, outputs, tokenizer=None, split="test"):
        pred, gold, index = self._arrays(outputs)
        return sorted(({"index": int(i), "pred": round(float(p), 6), "true": float(g)}
                       for p, g, i in zip(pred, gold, index)), key=lambda r: r["index"])

    def answers(self, model, outputs, inputs, tokenizer=None):
        pred, _, _ = self._arrays(outputs)
        return [Answer(round(float(p), 3)) for p in pred]

    @classmethod
    def answer_line(cls, output):
        return "—" if output is None else f"{output:.2f}"

    def references(self):  # the training mean, as every test sentence's number
        from hf_rnn.comparison.references import Reference

        mean = float(np.mean(self.dataset["train"]["value"]))
        gold = np.asarray(self.dataset["test"]["value"], dtype=np.float32)
        outputs = {"prediction": [np.full(len(gold), mean, dtype=np.float32)], "labels": [gold],
                   "example_index": [np.arange(len(gold))]}
        return [Reference("training mean", self.compute_metrics(outputs), f"always {mean:.2f}",
                          answer=lambda _: f"{mean:.2f}", examples=self.example_records(outputs))]


@register_task
class StarsTask(TextRegressionTask):
    """How many times a sentence says "very" before "good": its number."""

    name = "__NAME__"
    description = "Sentences -> how many times they say very"
    title = "__TITLE__"
    input_hint = "a sentence"
    lecture_examples = ("very very good", "good")
    default_models = ("rnn", "gru")
    profiles = {"quick": Profile("quick", None, eval_steps=3, latency_examples=3, epochs=1)}
    recipe_dir = Path(__file__).parent

    @classmethod
    def prepare_builtin(cls):
        texts = [" ".join(["very"] * n + [word]) for n in range(6) for word in ("good", "nice", "fine", "great")]
        values = [float(n) for n in range(6) for _ in range(4)]
        return seeded_splits(Dataset.from_dict({"text": texts * 2, "value": values * 2}))
'''

RNN_RECIPE = """
task: {{name: {name}}}
model: {{family: rnn, name: rnn, cell: lstm, bidirectional: false, embedding_size: 8, hidden_size: 8,
        num_layers: 1, attention: none}}
tokenizer: {{word_level: true, vocab_size: 50}}
training: {{max_steps: 3, batch_size: 8, learning_rate: 0.01, eval_steps: 3, progress_bar: false,
           logging_steps: 1}}
"""


@pytest.fixture
def toy_kind(tmp_path, monkeypatch):
    """The toy kind's module and its RNN recipe in a folder on the path, imported like a user's plug-in."""
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "toy_kind_task.py").write_text(TOY_KIND_MODULE.replace("__NAME__", "stars").replace("__TITLE__", "Stars (toy kind)"))
    (folder / "stars_rnn.yaml").write_text(textwrap.dedent(RNN_RECIPE.format(name="stars")))
    monkeypatch.setenv("HF_RNN_HOME", str(tmp_path / "home"))  # the toy data is prepared into a fresh cache
    monkeypatch.setenv(TASK_MODULES_ENV, "toy_kind_task")  # child processes import it too
    inherited = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(folder), *([inherited] if inherited else [])]))
    monkeypatch.syspath_prepend(str(folder))
    try:
        yield importlib.import_module("toy_kind_task").StarsTask
    finally:
        TASKS.pop("stars", None)
        sys.modules.pop("toy_kind_task", None)


def test_a_new_kind_in_one_module_trains_compares_reports_and_answers_in_the_app(toy_kind, tmp_path):
    from hf_rnn.app.service import RUN_PREFIX, AppService
    from hf_rnn.cli import main as cli
    from hf_rnn.comparison.compare import compare
    from hf_rnn.tasks import kind_class, load_task

    task = load_task("stars")
    assert TASKS["stars"] is toy_kind and task.kind == "text-regression" and kind_class("text-regression") is toy_kind

    # trains: the CLI finds the task and its recipe; the run's test metrics are the kind's
    out = tmp_path / "runs" / "one"
    assert cli(["train", "--task", "stars", "--model", "rnn", "--output-dir", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"]["kind"] == "text-regression" and metrics["test"]["mae"] >= 0.0
    card = (out / "README.md").read_text()
    assert "pipeline_tag: text-classification" in card and "AutoModelForSequenceClassification" in card

    # compares and reports: a model trained in a child process (which imports the module too) and the kind's
    # reference; no zero-shot row (the task says the untrained LLM cannot answer it)
    result = compare("stars", ["gru"], profile="quick", output_dir=tmp_path / "runs" / "cmp", progress=False)
    names = [r.name for r in result.rows]
    assert names == ["gru", "training mean"], names
    assert all(r.metrics["mae"] >= 0.0 and r.metrics["rmse"] >= r.metrics["mae"] - 1e-6 for r in result.rows)
    report = (tmp_path / "runs" / "cmp" / "report.md").read_text()
    assert "No zero-shot row" not in report  # no LLM was compared: nothing to explain
    rows = [line for line in report.splitlines() if line.startswith("|")]
    assert all(any(line.startswith(f"| {n} |") for line in rows) for n in names), rows
    assert set(result.examples) == {"very very good", "good"}
    answer = result.examples["good"]["gru"]  # the kind's answer_line: two decimals
    assert float(answer) == pytest.approx(float(answer)) and len(answer.split(".")[-1]) == 2, answer

    # answers a raw input in the app: its runs are listed, both answer a number, the page asks nothing else
    service = AppService(tmp_path / "runs")
    values = [c.value for c in service.choices("stars")]
    assert RUN_PREFIX + "one" in values and "zero-shot" not in values
    r = service.compare("stars", RUN_PREFIX + "one", RUN_PREFIX + "cmp/gru", "very very very good")
    assert r.error is None and r.a.ok and r.b.ok, (r.a.error, r.b.error)
    assert isinstance(r.a.output, float) and isinstance(r.b.output, float)
    assert r.a.maps is None and r.a.attention_note  # no attention: the family's note says so
    long = service.compare("stars", RUN_PREFIX + "one", None, "very " * 400 + "good")
    assert long.a.ok and any("tokens; the first 256 were used" in n for n in long.a.notices)
    empty = service.compare("stars", RUN_PREFIX + "one", None, "  ")
    assert empty.error and "empty" in empty.error
    assert toy_kind.app_display(r.a.output) == str(r.a.output)

    # the page (built, not served) has the kind's tab: a text box, its examples, a one-line output per side
    from hf_rnn.app.ui import build_app

    blocks = build_app(service).blocks.values()
    assert "Stars (toy kind)" in [getattr(b, "label", None) for b in blocks]
    assert any(getattr(b, "elem_id", None) == "stars-input" for b in blocks)
    assert [getattr(b, "lines", None) for b in blocks if getattr(b, "elem_id", None) == "stars-out-a"] == [1]
    service.close()
