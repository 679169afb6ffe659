"""Run folders' model cards: parsed back by ``huggingface_hub``, with true metadata for RNN and LLM runs.

Two tiny runs are trained through the Python API (an RNN, hidden size 16, and a one-layer Llama); the other
cases (the built-in LLM, data from a file or the Hub, other task kinds) edit a copy of their ``metrics.json``
(the ``RunMetrics`` training returns)
where only that fact differs, and build the card from it.
"""

from __future__ import annotations

import copy
import json

import pytest
from huggingface_hub import ModelCard

from hf_rnn.assets.cache import BUILTIN_LLM_HUB_ID, BUILTIN_LLM_LABEL
from hf_rnn.report.cards import model_card
from hf_rnn.runs.schema import RunMetrics
from hf_rnn.tasks import KINDS, TASKS, load_task
from hf_rnn.training.loop import TrainConfig, train

# task kind -> the Hub's pipeline tag of a model that does that task itself (each kind's own)
PIPELINE_TAG = {k.kind: k.pipeline_tag for k in KINDS}
CONFIG = {"max_steps": 2, "batch_size": 8, "eval_steps": 2, "progress_bar": False, "log_with": None}
SIZES = {"train": 32, "validation": 8, "test": 10}


@pytest.fixture(scope="module")
def rnn_run(tmp_path_factory, tokenizer):
    from accelerate.utils import set_seed

    from hf_rnn.models.factory import build_rnn
    from hf_rnn.training.recipes import RNNModelSection

    task = load_task("sentiment").subset(SIZES)
    set_seed(0)
    model = build_rnn(task, RNNModelSection(embedding_size=16, hidden_size=16, init_embeddings=None), tokenizer)
    out = tmp_path_factory.mktemp("cards") / "rnn"
    return out, train(model, task, CONFIG, tokenizer, out)


@pytest.fixture(scope="module")
def llm_run(tmp_path_factory, tiny_llama):
    from hf_rnn.families.llm.llm import load_llm

    model, tok = load_llm(str(tiny_llama), "sentiment")
    out = tmp_path_factory.mktemp("cards") / "llm"
    return out, train(model, load_task("sentiment").subset(SIZES), CONFIG, tok, out)


def card_of(metrics: RunMetrics, tmp_path, run_dir=None) -> ModelCard:
    """The card of ``metrics``, written to a file and loaded back as the Hub would read it."""
    path = tmp_path / "README.md"
    path.write_text(model_card(metrics, TrainConfig.from_any(CONFIG), run_dir))
    return ModelCard.load(path)


def assert_eval_results_are_the_test_metrics(card: ModelCard, metrics: RunMetrics) -> None:
    scores = {k: round(v, 4) for k, v in metrics.test.items() if isinstance(v, float)}
    assert scores and {r.metric_type: r.metric_value for r in card.data.eval_results} == scores
    assert {r.dataset_split for r in card.data.eval_results} == {"test"}
    assert {r.task_type for r in card.data.eval_results} == {card.data.pipeline_tag}
    assert card.data.model_name == f"{metrics.task.name}-{metrics.model.name}"


def test_an_rnn_run_card_is_an_hf_rnn_model_with_its_test_results(rnn_run):
    out, metrics = rnn_run
    card = ModelCard.load(out / "README.md")
    assert_eval_results_are_the_test_metrics(card, metrics)
    data = card.data
    assert (data.library_name, data.pipeline_tag, data.license) == ("hf_rnn", "text-classification", "apache-2.0")
    assert data.base_model is None and data.language == ["en"]
    # built-in data is not a Hub dataset: no id for it, in the metadata or the model-index
    assert data.datasets is None
    dataset = data.eval_results[0]
    assert "/" not in dataset.dataset_type and " " in dataset.dataset_type
    assert TASKS["sentiment"].source_note in dataset.dataset_name
    assert "hf_rnn/" not in card.content
    # the prose: what the model is, its results, how to load it (import hf_rnn registers it), its limits
    text = card.text
    assert "import hf_rnn  # registers" in text and "AutoModelForSequenceClassification.from_pretrained" in text
    assert 'pipeline("text-classification", model="PATH")' in text
    assert f"| accuracy | {metrics.test['accuracy']:.4g} |" in text
    for heading in ("## Results on the test split", "## Training", "## Use", "## Limitations"):
        assert heading in text
    assert f"{metrics.parameters.total:,} parameters" in text


def test_an_llm_run_card_is_a_transformers_model_and_names_its_base(llm_run, tmp_path, tiny_llama):
    out, metrics = llm_run
    card = ModelCard.load(out / "README.md")
    assert_eval_results_are_the_test_metrics(card, metrics)
    assert (card.data.library_name, card.data.pipeline_tag) == ("transformers", "text-classification")
    # trained from a local folder through the Python API: not the built-in model, and no Hub id to name
    assert metrics.model.name_or_path == str(tiny_llama)
    assert card.data.base_model is None and card.data.license is None
    assert f"a local folder, `{tiny_llama.name}`" in card.text and BUILTIN_LLM_LABEL not in card.text
    assert "import hf_rnn" not in card.text

    builtin = copy.deepcopy(metrics)
    builtin.model.name_or_path = None  # what a recipe run on the built-in SmolLM2 records
    card = card_of(builtin, tmp_path)
    assert (card.data.base_model, card.data.license) == (BUILTIN_LLM_HUB_ID, "apache-2.0")
    assert BUILTIN_LLM_LABEL in card.text and "GGUF" in card.text and "not the original weights" in card.text

    original = copy.deepcopy(metrics)
    original.model.name_or_path = BUILTIN_LLM_HUB_ID  # the Hub id means the original weights
    card = card_of(original, tmp_path)
    assert (card.data.base_model, card.data.license) == (BUILTIN_LLM_HUB_ID, "apache-2.0")
    assert BUILTIN_LLM_LABEL not in card.text and "GGUF" not in card.text

    hub = copy.deepcopy(metrics)
    hub.model.name_or_path = "HuggingFaceTB/SmolLM2-360M-Instruct"
    card = card_of(hub, tmp_path)
    assert card.data.base_model == "HuggingFaceTB/SmolLM2-360M-Instruct" and card.data.license is None


def test_only_a_hub_dataset_gets_a_dataset_id(rnn_run, tmp_path):
    _, metrics = rnn_run
    hub = copy.deepcopy(metrics)
    hub.task.source, hub.task.options = "someone/movie-reviews", {"subset": "en", "revision": "abc123"}
    card = card_of(hub, tmp_path)
    assert card.data.datasets == ["someone/movie-reviews"] and card.data.language is None
    result = card.data.eval_results[0]
    assert (result.dataset_type, result.dataset_config, result.dataset_revision) == ("someone/movie-reviews", "en",
                                                                                     "abc123")
    assert "the Hub dataset `someone/movie-reviews`" in card.text

    local = copy.deepcopy(metrics)
    local.task.source = "/home/me/data/reviews.csv"
    card = card_of(local, tmp_path)
    assert card.data.datasets is None and "/" not in card.data.eval_results[0].dataset_type
    assert "local file reviews.csv" in card.data.eval_results[0].dataset_name
    assert "/home/me" not in card.content  # where the file was is nobody's business


@pytest.mark.parametrize("kind", sorted(PIPELINE_TAG))
def test_the_pipeline_tag_follows_the_task_kind_and_the_saved_head(kind, rnn_run, llm_run, tmp_path):
    rnn = copy.deepcopy(rnn_run[1])
    rnn.task.kind = kind
    card = card_of(rnn, tmp_path)
    assert card.data.pipeline_tag == PIPELINE_TAG[kind] and card.data.library_name == "hf_rnn"
    llm = copy.deepcopy(llm_run[1])
    llm.task.kind = kind
    if kind not in ("sequence-classification", "token-classification"):
        llm.model.class_name = "LlamaForCausalLM"  # an LLM answers these by continuing a prompt
    card = card_of(llm, tmp_path)
    wanted = PIPELINE_TAG[kind] if "classification" in kind else "text-generation"
    assert card.data.pipeline_tag == wanted and card.data.library_name == "transformers"


def test_a_lora_run_with_its_adapter_folder_says_how_to_load_it(llm_run, tmp_path):
    _, metrics = llm_run
    assert "adapter/" not in card_of(metrics, tmp_path, run_dir=tmp_path).text
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
    card = card_of(metrics, tmp_path, run_dir=tmp_path)
    assert "`adapter/` also holds the LoRA adapter" in card.text
    assert card.data.library_name == "transformers"  # the folder itself stays a plain transformers model


def test_an_incomplete_metrics_document_is_named(rnn_run):
    metrics = rnn_run[1].to_dict()  # the document as a file would hold it
    del metrics["test"], metrics["hardware"]
    with pytest.raises(ValueError, match="metrics lacks test, hardware"):
        model_card(metrics, TrainConfig.from_any(CONFIG))
