"""A third model family is one new module: it trains, compares beside an RNN and appears in the app with no edit
anywhere in hf_rnn (the family object does everything family-specific; the rest asks it)."""

from __future__ import annotations

import importlib
import os
import sys
import textwrap

import pytest
from toy_sources import toy_rnn_recipe, toy_task_source

from hf_rnn.errors import ConfigError
from hf_rnn.families import FAMILIES, FAMILY_MODULES_ENV, ModelFamily, register_family, unregister_family
from hf_rnn.tasks import TASK_MODULES_ENV, TASKS

# a family defined outside hf_rnn: a bag of token embeddings, averaged, then a linear layer
FAMILY_MODULE = '''
"""A toy model family: a bag-of-embeddings classifier on transformers' PreTrainedModel."""

from dataclasses import dataclass, field

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from hf_rnn.errors import ConfigError
from hf_rnn.families import register_family
from hf_rnn.families.base import ModelFamily


class BagConfig(PretrainedConfig):
    model_type = "toy_bag"

    def __init__(self, vocab_size=10, embedding_size=8, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size


class BagOfEmbeddingsClassifier(PreTrainedModel):
    config_class = BagConfig
    main_input_name = "input_ids"
    reads_task_inputs = True  # the task's own token ids, as an RNN reads them (not an LLM's prompt)

    def __init__(self, config):
        super().__init__(config)
        self.embed = nn.Embedding(config.vocab_size, config.embedding_size)
        self.score = nn.Linear(config.embedding_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids, attention_mask=None, labels=None, **kwargs):
        mask = (torch.ones_like(input_ids) if attention_mask is None else attention_mask).unsqueeze(-1).float()
        pooled = (self.embed(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        logits = self.score(pooled)
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


@dataclass
class BagSection:
    family: str = field(default="bag", metadata={"choices": ("bag",)})
    name: str = "bag"
    embedding_size: int = field(default=16, metadata={"min": 1})


@register_family
class BagFamily(ModelFamily):
    name = "bag"
    section = BagSection
    model_type = "toy_bag"

    def builtin_recipe(self, model, read):
        data = read("rnn")  # the task's RNN recipe (data, tokenizer, training) with this model
        data["model"] = {"family": "bag", "name": "bag", "embedding_size": 16}
        return data

    def check_recipe(self, recipe, kind):
        super().check_recipe(recipe, kind)
        if kind != "sequence-classification":
            raise ConfigError(f"a bag of embeddings classifies sequences; a {kind} task needs another model")

    def build_model(self, task, section, tokenizer=None):
        labels = task.label_names
        config = BagConfig(vocab_size=len(tokenizer), embedding_size=section.embedding_size,
                           num_labels=len(labels), id2label=dict(enumerate(labels)),
                           label2id={name: i for i, name in enumerate(labels)}, pad_token_id=tokenizer.pad_token_id)
        return BagOfEmbeddingsClassifier(config), tokenizer

    def load(self, run, output_attentions=False):
        return BagOfEmbeddingsClassifier.from_pretrained(run.path)
'''

# a small task to run it on (defined outside hf_rnn too, as in tests/test_new_task.py)
TASK_MODULE = toy_task_source("BagToyTask", "bagtoy", "Bag toy phrases", ("rnn", "bag"))

RNN_RECIPE = toy_rnn_recipe("bagtoy")


@pytest.fixture
def bag_family(tmp_path, monkeypatch):
    """The toy family's and the toy task's modules in a folder on the path, imported like a user's plug-ins."""
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "bag_family.py").write_text(FAMILY_MODULE)
    (folder / "bag_task.py").write_text(TASK_MODULE)
    (folder / "bagtoy_rnn.yaml").write_text(textwrap.dedent(RNN_RECIPE))
    monkeypatch.setenv("HF_RNN_HOME", str(tmp_path / "home"))  # the toy data is prepared into a fresh cache
    monkeypatch.setenv(FAMILY_MODULES_ENV, "bag_family")  # child processes import them too
    monkeypatch.setenv(TASK_MODULES_ENV, "bag_task")
    inherited = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(folder), *([inherited] if inherited else [])]))
    monkeypatch.syspath_prepend(str(folder))
    try:
        importlib.import_module("bag_task")
        yield importlib.import_module("bag_family").BagFamily
    finally:
        TASKS.pop("bagtoy", None)
        unregister_family("bag")
        for module in ("bag_task", "bag_family"):
            sys.modules.pop(module, None)


def test_a_family_defined_outside_hf_rnn_trains_compares_and_shows_in_the_app(bag_family, tmp_path):
    from hf_rnn.app.service import RUN_PREFIX, AppService
    from hf_rnn.cli import main as cli
    from hf_rnn.comparison.compare import compare
    from hf_rnn.runs.run import read_run
    from hf_rnn.training.recipes import load_recipe

    assert FAMILIES["bag"] is bag_family
    recipe = load_recipe("bagtoy", "bag")
    assert recipe.family == "bag" and recipe.model.embedding_size == 16 and recipe.tokenizer.word_level
    with pytest.raises(ConfigError, match="unknown key"):
        load_recipe("bagtoy", "bag", overrides=["model.hidden_size=8"])  # the family's own section is checked

    # trains: the CLI finds the family by its --model name, builds it from the recipe and saves the run
    assert cli(["train", "--task", "bagtoy", "--model", "bag", "--output-dir", str(tmp_path / "runs" / "one")]) == 0
    run = read_run(tmp_path / "runs" / "one")
    assert run.family == "bag" and run.metrics.model.class_name == "BagOfEmbeddingsClassifier"
    assert 0.0 <= run.metrics.test["accuracy"] <= 1.0
    assert "BagOfEmbeddingsClassifier.from_pretrained" in (run.path / "README.md").read_text()  # its card says how

    # compares beside an RNN: each trained in a child process, which imports the family from the environment
    result = compare("bagtoy", profile="quick", output_dir=tmp_path / "runs" / "cmp")
    rows = {r.name: r for r in result.rows}
    assert [r.name for r in result.rows][:2] == ["rnn", "bag"] and "majority class" in rows
    assert rows["bag"].family == "bag" and rows["rnn"].family == "rnn"
    assert all(0.0 <= rows[m].metrics["accuracy"] <= 1.0 for m in ("rnn", "bag"))
    assert result.examples["a fine day"]["bag"].split(" (")[0] in ("good", "bad")

    # shows in the app: listed after the RNNs, answers with its label probabilities and says it has no maps
    service = AppService(tmp_path / "runs")
    choices = service.choices("bagtoy")
    values = [c.value for c in choices]
    assert RUN_PREFIX + "one" in values and RUN_PREFIX + "cmp/bag" in values and len(values) == 3
    assert choices[0].family == "rnn"  # the RNN family registered first, its runs first
    r = service.compare("bagtoy", RUN_PREFIX + "cmp/rnn", RUN_PREFIX + "one", "a fine day")
    assert r.error is None and r.a.ok and r.b.ok, (r.a.error, r.b.error)
    assert set(r.b.output) == {"bad", "good"} and abs(sum(r.b.output.values()) - 1.0) < 1e-5
    assert r.b.maps is None and "no attention" in r.b.attention_note
    assert r.a.maps is not None  # the RNN's attention pooling, as before
    service.close()


def test_a_family_must_be_a_model_family_and_named_once():
    from hf_rnn.families.rnn import RNNFamily

    with pytest.raises(ConfigError, match="not a model family"):
        register_family(object())

    class Twin(ModelFamily):
        name = "rnn"

    with pytest.raises(ConfigError, match="already registered"):
        register_family(Twin)
    assert isinstance(FAMILIES["rnn"], RNNFamily)

    def define():  # a notebook cell defining a family, run twice: the second replaces the first
        @register_family
        class Rerun(ModelFamily):
            name = "rerun_cell_family"
        return Rerun

    first, second = define(), define()  # the decorator hands back the registered instance
    assert first is not second and FAMILIES["rerun_cell_family"] is second
    unregister_family("rerun_cell_family")
    with pytest.raises(ConfigError, match="built in"):
        unregister_family("llm")


def test_a_recipe_of_an_unknown_family_names_the_known_ones():
    from hf_rnn.training.recipes import build_recipe

    with pytest.raises(ConfigError, match="model.family must be one of rnn, llm"):
        build_recipe({"task": {"name": "sentiment"}, "model": {"family": "transformer-xl"}})


def test_a_family_module_that_cannot_be_imported_is_named(monkeypatch):
    import hf_rnn.families as families

    monkeypatch.setenv(FAMILY_MODULES_ENV, "no_such_family_module_4242")
    with pytest.raises(ConfigError, match="no_such_family_module_4242"):
        families._import_family_modules()


def test_the_built_in_families_write_only_the_narrow_interface():
    """A family writes build, load, encode, forward with maps and its recipe checks; the rest is data (names,
    notes, card facts) that the generic methods of ``ModelFamily`` read."""
    from hf_rnn.families.base import CardFacts
    from hf_rnn.families.mamba2 import HEAD_BY_KIND
    from hf_rnn.families.rnn.building import RNN_HEAD_BY_KIND
    from hf_rnn.models import MAMBA2_HEADS, RNN_HEADS

    generic = ("model_names", "claims", "recipe_aliases", "section_fields", "owns", "no_maps_note")
    hooks = {"build_tokenizer", "build_model", "load", "default_tokenizer", "forward_with_maps", "attention_maps",
             "builtin_recipe", "check_recipe", "check_section", "metrics_fields", "quick_profile_layers", "app_kind",
             "run_attention"}
    for family in (FAMILIES["rnn"], FAMILIES["llm"], FAMILIES["mamba2"]):
        written = {name for name, value in vars(type(family)).items()
                   if callable(value) and not isinstance(value, type) and not name.startswith("_")}
        assert written <= hooks, (family.name, written - hooks)
        assert not any(name in vars(type(family)) for name in generic), family.name
        assert isinstance(family.card, CardFacts)
    # the card facts name the classes the families really save
    assert set(FAMILIES["rnn"].card.own_classes) == set(RNN_HEAD_BY_KIND.values()) <= set(RNN_HEADS)
    assert set(FAMILIES["mamba2"].card.own_classes) == set(HEAD_BY_KIND.values()) <= set(MAMBA2_HEADS)
    # the data the generic methods read
    assert FAMILIES["llm"].claims("org/some-model") and not FAMILIES["rnn"].claims("org/some-model")
    assert "smollm2" in FAMILIES["llm"].recipe_aliases(FAMILIES["llm"].section(name="x"))
    assert "lstm" in FAMILIES["rnn"].model_names() and FAMILIES["mamba2"].model_names() == ("mamba2", "bimamba2")
