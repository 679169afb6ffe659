"""The Mamba-2 family: transformers' Mamba2Model stacks under hf_rnn's task heads (tiny configs, seconds).

Every head trains (forward/backward), saves and loads back through the Auto classes; padding changes nothing;
generate() continues from the recurrent cache; the hidden-attention matrices reproduce each mixer's scan; a few
steps of every task's recipe train through hf_rnn.train_recipe; bad recipes are one ConfigError.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoModelForTimeSeriesPrediction,
    AutoModelForTokenClassification,
    pipeline,
)

from hf_rnn.errors import ConfigError
from hf_rnn.families import FAMILIES, family_for_model_name, family_of
from hf_rnn.families.mamba2.hidden_attention import MixerRecorder, apply_matrices, mixer_inputs, ssd_matrices
from hf_rnn.families.mamba2.modeling_mamba2 import reversal_index
from hf_rnn.models import (
    HfMamba2Config,
    HfMamba2ForCausalLM,
    HfMamba2ForSequenceClassification,
    HfMamba2ForTimeSeriesPrediction,
    HfMamba2ForTokenClassification,
    HfMamba2Model,
)
from hf_rnn.tasks import DIRECT, PROMPTED, input_family

VOCAB = 60
# float32 CPU arithmetic in different orders (chunked scan vs one matrix product): agreement well inside this
TOLERANCE = 1e-4


def tiny_config(**settings) -> HfMamba2Config:
    base = dict(vocab_size=VOCAB, hidden_size=16, num_heads=2, head_dim=16, state_size=8, num_hidden_layers=2,
                chunk_size=4, num_labels=3, pad_token_id=0, eos_token_id=2)
    return HfMamba2Config(**{**base, **settings})


def _padded_batch():
    torch.manual_seed(0)
    ids = torch.randint(3, VOCAB, (3, 9))
    mask = torch.ones_like(ids)
    mask[0, 6:] = 0  # right padding
    mask[1, :3] = 0  # left padding
    return ids.masked_fill(mask == 0, 0), mask


HEADS = [
    (HfMamba2ForSequenceClassification, {}, AutoModelForSequenceClassification),
    (HfMamba2ForSequenceClassification, {"bidirectional": True, "pooling": "last"}, AutoModelForSequenceClassification),
    (HfMamba2ForSequenceClassification, {"bidirectional": True, "pooling": "attention"},
     AutoModelForSequenceClassification),
    (HfMamba2ForTokenClassification, {}, AutoModelForTokenClassification),
    (HfMamba2ForTokenClassification, {"bidirectional": True}, AutoModelForTokenClassification),
    (HfMamba2ForCausalLM, {"tie_word_embeddings": True}, AutoModelForCausalLM),
    (HfMamba2ForCausalLM, {"reads_prompt": True}, AutoModelForCausalLM),
    (HfMamba2Model, {"bidirectional": True}, AutoModel),
    (HfMamba2ForSequenceClassification, {"embedding_size": 24, "bidirectional": True},
     AutoModelForSequenceClassification),  # a wider table than the stack, projected
]


def _inputs_and_labels(head, ids, mask):
    if head is HfMamba2ForSequenceClassification:
        return {"labels": torch.tensor([0, 2, 1])}
    if head is HfMamba2ForTokenClassification:
        return {"labels": torch.randint(0, 3, ids.shape)}
    if head is HfMamba2ForCausalLM:
        return {"labels": ids}
    return {}


def _output(out):
    return out.logits if hasattr(out, "logits") else out.last_hidden_state


@pytest.mark.parametrize("head,settings,auto", HEADS, ids=[f"{h.__name__}-{s}" for h, s, _ in HEADS])
def test_every_head_trains_saves_and_loads_through_the_auto_classes(head, settings, auto, tmp_path):
    torch.manual_seed(0)
    model = head(tiny_config(**settings))
    ids, mask = _padded_batch()
    out = model(input_ids=ids, attention_mask=mask, **_inputs_and_labels(head, ids, mask))
    if head is not HfMamba2Model:
        assert torch.isfinite(out.loss)
        out.loss.backward()
        mixer = model.model.backbone.layers[0].mixer
        assert mixer.A_log.grad is not None and mixer.in_proj.weight.grad.abs().sum() > 0
        if settings.get("pooling") == "attention":  # the head's own scores are trained, so they are used
            assert model.attention_pooling.key_projection.weight.grad.abs().sum() > 0
            assert model.attention_pooling.score_vector.weight.grad.abs().sum() > 0
    model.save_pretrained(tmp_path)
    assert type(AutoConfig.from_pretrained(tmp_path)) is HfMamba2Config
    loaded = auto.from_pretrained(tmp_path).eval()
    saved_settings = {k: v for k, v in model.config.to_dict().items() if k != "_name_or_path"}
    assert type(loaded) is head and {k: v for k, v in loaded.config.to_dict().items() if k in saved_settings} == \
        saved_settings
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(_output(loaded(input_ids=ids, attention_mask=mask)),
                                   _output(model(input_ids=ids, attention_mask=mask)), atol=1e-6, rtol=1e-5)
    if settings.get("tie_word_embeddings"):
        assert loaded.lm_head.weight.data_ptr() == loaded.get_input_embeddings().weight.data_ptr()
    if settings.get("embedding_size"):  # what get_input_embeddings() gives is what inputs_embeds takes
        with torch.no_grad():
            torch.testing.assert_close(_output(loaded(inputs_embeds=loaded.get_input_embeddings()(ids),
                                                      attention_mask=mask)),
                                       _output(loaded(input_ids=ids, attention_mask=mask)), atol=1e-6, rtol=1e-5)
    assert family_of(loaded) is FAMILIES["mamba2"]
    assert input_family(loaded) == (PROMPTED if settings.get("reads_prompt") else DIRECT)


def test_a_folder_of_another_head_is_refused(tmp_path):
    HfMamba2ForTokenClassification(tiny_config()).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="HfMamba2ForTokenClassification checkpoint"):
        HfMamba2ForSequenceClassification.from_pretrained(tmp_path)


def test_the_forecaster_reads_values_through_inputs_embeds(tmp_path):
    torch.manual_seed(0)
    model = HfMamba2ForTimeSeriesPrediction(tiny_config(vocab_size=1, pad_token_id=None, input_size=1,
                                                        prediction_length=2))
    assert model.get_input_embeddings() is None and model.model.get_input_embeddings() is None  # values: no table
    past = torch.randn(4, 12) * 50 + 100
    out = model(past_values=past, future_values=torch.randn(4, 2) * 50 + 100)
    out.loss.backward()
    assert out.prediction.shape == (4, 2) and model.value_projection.weight.grad is not None
    model.save_pretrained(tmp_path)
    loaded = AutoModelForTimeSeriesPrediction.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(past_values=past).prediction, model.eval()(past_values=past).prediction)
    assert input_family(loaded) == DIRECT


def test_reversal_index_reverses_real_tokens_and_keeps_padding():
    mask = torch.tensor([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    index = reversal_index(mask, 3, 5, torch.device("cpu"))
    assert index.tolist() == [[2, 1, 0, 3, 4], [0, 1, 4, 3, 2], [4, 3, 2, 1, 0]]
    assert torch.equal(index.gather(1, index), torch.arange(5).expand(3, 5))  # its own inverse


@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_left_or_right_changes_no_real_token(bidirectional):
    model = HfMamba2ForTokenClassification(tiny_config(bidirectional=bidirectional)).eval()
    ids, mask = _padded_batch()
    with torch.no_grad():
        batch = model(input_ids=ids, attention_mask=mask).logits
        for row in range(3):
            real = mask[row].bool()
            alone = model(input_ids=ids[row][real][None]).logits[0]
            torch.testing.assert_close(batch[row][real], alone, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("pooling", ["mean", "last", "attention"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_a_padded_sentence_is_classified_as_it_is_alone(pooling, bidirectional):
    torch.manual_seed(0)
    model = HfMamba2ForSequenceClassification(tiny_config(pooling=pooling, bidirectional=bidirectional)).eval()
    ids, mask = _padded_batch()
    with torch.no_grad():
        batch = model(input_ids=ids, attention_mask=mask).logits
        alone = torch.cat([model(input_ids=ids[row][mask[row].bool()][None]).logits for row in range(3)])
    torch.testing.assert_close(batch, alone, atol=1e-5, rtol=1e-4)


def test_a_bidirectional_tagger_reads_the_right_context():
    model = HfMamba2ForTokenClassification(tiny_config(bidirectional=True)).eval()
    left_only = HfMamba2ForTokenClassification(tiny_config()).eval()
    a, b = torch.tensor([[5, 6, 7, 8]]), torch.tensor([[5, 6, 7, 9]])  # differ in the last token only
    with torch.no_grad():
        assert not torch.allclose(model(input_ids=a).logits[0, 0], model(input_ids=b).logits[0, 0])
        torch.testing.assert_close(left_only(input_ids=a).logits[0, :3], left_only(input_ids=b).logits[0, :3])


def test_generate_continues_from_the_cache_as_a_full_pass_would():
    torch.manual_seed(0)
    model = HfMamba2ForCausalLM(tiny_config(eos_token_id=None)).eval()
    prompt = torch.tensor([[5, 6, 7, 8, 9]])
    out = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=6, do_sample=False,
                         pad_token_id=0)
    assert out.shape == (1, 11)
    with torch.no_grad():
        full = model(input_ids=out, use_cache=False).logits
    assert torch.equal(full[0, 4:-1].argmax(-1), out[0, 5:])  # each new token is the full pass's argmax
    # a left-padded batch generates what each prompt generates alone
    batch = torch.tensor([[0, 0, 7, 8, 9], [5, 6, 7, 8, 9]])
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    both = model.generate(batch, attention_mask=mask, max_new_tokens=4, do_sample=False, pad_token_id=0)
    alone = model.generate(batch[:1, 2:], attention_mask=mask[:1, 2:], max_new_tokens=4, do_sample=False,
                           pad_token_id=0)
    assert torch.equal(both[0, 2:], alone[0]) and torch.equal(both[1], out[0, :9])


def test_a_causal_lm_cannot_be_bidirectional():
    with pytest.raises(ValueError, match="cannot be bidirectional"):
        HfMamba2ForCausalLM(tiny_config(bidirectional=True))


@pytest.mark.parametrize("settings", [{"num_heads": 3}, {"state_size": 0}, {"chunk_size": 0},
                                      {"n_groups": 3, "num_heads": 2}, {"pooling": "max"}, {"embedding_size": 0},
                                      {"embedding_size": 24, "tie_word_embeddings": True}])
def test_a_bad_config_is_one_value_error_naming_the_field(settings):
    field = "num_heads * head_dim" if "num_heads" in settings and len(settings) == 1 else next(iter(settings))
    with pytest.raises(ValueError, match=field.replace("*", r"\*")):
        tiny_config(**settings)


# ------------------------------------------------------------------------------------------- hidden attention


@pytest.mark.parametrize("settings", [{}, {"bidirectional": True, "n_groups": 2}], ids=["forward", "both-groups"])
def test_hidden_attention_matrices_reproduce_each_mixers_scan(settings):
    """y = (L o C Bᵀ diag(dt)) x + D x, from the layer's own dt, A, B, C, equals the scan output its gated norm
    receives, for every layer and head, on a padded batch whose length is not a multiple of the chunk."""
    torch.manual_seed(1)
    model = HfMamba2ForSequenceClassification(tiny_config(chunk_size=4, **settings)).eval()
    ids, mask = _padded_batch()
    with MixerRecorder(model) as recorder, torch.no_grad():
        model(input_ids=ids, attention_mask=mask)
    mixers = dict(recorder.mixers)
    assert len(recorder.inputs) == 2 * (2 if settings else 1)
    for name, (hidden, layer_mask) in recorder.inputs.items():
        inputs = mixer_inputs(mixers[name], hidden, layer_mask)
        matrices = ssd_matrices(inputs)
        assert matrices.shape == (3, 2, 9, 9)
        assert torch.all(matrices.triu(1) == 0)  # causal within its own reading order
        reference = recorder.scan_outputs[name].float()
        error = (apply_matrices(matrices, inputs) - reference).abs().max() / reference.abs().max()
        assert error < TOLERANCE, (name, float(error))


def test_the_family_draws_hidden_attention_in_the_common_heatmap_format(tokenizer):
    from hf_rnn.families.attention import AttentionMaps

    model = HfMamba2ForSequenceClassification(tiny_config(vocab_size=len(tokenizer), bidirectional=True)).eval()
    maps = FAMILIES["mamba2"].attention_maps(model, tokenizer, "a fine day at sea")
    assert isinstance(maps, AttentionMaps) and maps.kind == "self-attention"
    n = len(tokenizer("a fine day at sea")["input_ids"])
    assert maps.weights.shape == (4, 2, n, n)  # 2 forward + 2 backward layers, 2 heads
    np.testing.assert_allclose(maps.weights.sum(-1), 1.0, rtol=1e-5)
    assert np.all(np.triu(maps.weights[:2], 1) == 0) and np.all(np.tril(maps.weights[2:], -1) == 0)
    assert maps.meta["layers"][2].startswith("backward")

    lm = HfMamba2ForCausalLM(tiny_config(vocab_size=len(tokenizer), eos_token_id=None)).eval()
    maps = FAMILIES["mamba2"].attention_maps(lm, tokenizer, "a fine day", generate=True, max_new_tokens=3)
    assert maps.prompt_length == len(tokenizer("a fine day")["input_ids"]) and len(maps.query_tokens) == \
        maps.prompt_length + 3


# ------------------------------------------------------------------------------------------- pipelines


def test_transformers_pipelines_run_on_saved_heads(tokenizer, tmp_path):
    torch.manual_seed(0)
    labels = {"id2label": {0: "bad", 1: "good"}, "label2id": {"bad": 0, "good": 1}, "num_labels": 2}
    settings = dict(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id)
    for name, model in (("cls", HfMamba2ForSequenceClassification(tiny_config(**settings, **labels))),
                        ("tag", HfMamba2ForTokenClassification(tiny_config(**settings, **labels,
                                                                           bidirectional=True))),
                        ("lm", HfMamba2ForCausalLM(tiny_config(**settings)))):
        model.save_pretrained(tmp_path / name)
        tokenizer.save_pretrained(tmp_path / name)
    scores = pipeline("text-classification", model=str(tmp_path / "cls"), top_k=None)(["a fine day"])[0]
    assert {s["label"] for s in scores} == {"bad", "good"} and abs(sum(s["score"] for s in scores) - 1) < 1e-5
    tags = pipeline("token-classification", model=str(tmp_path / "tag"))("a fine day")
    assert all(t["entity"] in ("bad", "good") for t in tags)
    text = pipeline("text-generation", model=str(tmp_path / "lm"))("a fine day", max_new_tokens=4, do_sample=False)
    assert text[0]["generated_text"].startswith("a fine day")


# ------------------------------------------------------------------------------------------- recipes and training


def test_the_family_answers_to_its_names_and_checks_its_recipes():
    from hf_rnn.training.recipes import load_recipe

    assert family_for_model_name("bimamba2") is FAMILIES["mamba2"]
    assert load_recipe("pos", "bimamba2").model.bidirectional and not load_recipe("pos", "mamba2").model.bidirectional
    for task, model, overrides, phrase in [
        ("sentiment", "mamba2", ["model.state_size=0"], "model.state_size must be >= 1"),
        ("sentiment", "mamba2", ["model.num_heads=5"], "model.num_heads=5 must divide"),
        ("sentiment", "mamba2", ["model.chunk_size=0"], "model.chunk_size must be >= 1"),
        ("pos", "mamba2", ["model.n_groups=3"], "n_groups=3 must divide"),
        ("translation", "bimamba2", [], "bidirectional"),
        ("timeseries", "bimamba2", [], "bidirectional"),
        ("pos", "mamba2", ["model.pooling=last"], "pooling"),
        ("sentiment", "mamba2", ["model.cell=lstm"], "unknown key"),  # an RNN's key
        ("sentiment", "mamba2", ["model.embedding_size=0"], "model.embedding_size must be >= 1"),
    ]:
        with pytest.raises(ConfigError, match=phrase):
            load_recipe(task, model, overrides=overrides)


TINY = ["task.max_train_examples=40", "task.max_validation_examples=6", "task.max_test_examples=6",
        "training.max_steps=3", "training.batch_size=8", "training.eval_steps=null", "training.progress_bar=false",
        "training.log_with=null", "model.hidden_size=16", "model.num_layers=1", "model.num_heads=2",
        "model.state_size=8"]
RUNS = [("sentiment", "bimamba2", "HfMamba2ForSequenceClassification", "accuracy"),
        ("pos", "bimamba2", "HfMamba2ForTokenClassification", "accuracy"),
        ("textgen", "mamba2", "HfMamba2ForCausalLM", "bpc"),
        ("translation", "mamba2", "HfMamba2ForCausalLM", "chrf"),
        ("timeseries", "mamba2", "HfMamba2ForTimeSeriesPrediction", "mae")]


@pytest.mark.parametrize("task,model,head,metric", RUNS, ids=[f"{t}-{m}" for t, m, _, _ in RUNS])
def test_every_task_trains_a_few_steps_and_loads_back(task, model, head, metric, tmp_path):
    import hf_rnn
    from hf_rnn.runs.run import read_run
    from hf_rnn.training.recipes import load_recipe

    overrides = TINY + (["tokenizer.vocab_size=300"] if task in ("sentiment", "pos", "translation") else [])
    run = hf_rnn.train_recipe(load_recipe(task, model), tmp_path / "run", overrides)
    assert run.family == "mamba2" and run.metrics.model.class_name == head
    assert np.isfinite(run.metrics.test[metric])
    loaded = FAMILIES["mamba2"].load(read_run(tmp_path / "run"))
    assert type(loaded).__name__ == head
    if task == "translation":  # a prompted decoder-only LM; its prompt ends at the tokenizer's separator
        assert input_family(loaded) == PROMPTED and loaded.config.reads_prompt
        assert "[BOS]" in (tmp_path / "run" / "chat_template.jinja").read_text()
    card = (tmp_path / "run" / "README.md").read_text()
    assert "import hf_rnn" in card and ("AutoModelForCausalLM" in card) == (head == "HfMamba2ForCausalLM")


def test_the_app_offers_mamba2_runs_on_either_side_with_their_hidden_attention(tmp_path):
    """#27: a trained Mamba-2 run is listed for its task, labelled with its hidden attention, answers on side A
    and side B, and its maps are the hidden attention of every layer (both directions) in the common format."""
    import hf_rnn
    from hf_rnn.app.service import RUN_PREFIX, AppService
    from hf_rnn.training.recipes import load_recipe

    runs = tmp_path / "runs"
    for task, model, extra in (("sentiment", "bimamba2", ["tokenizer.vocab_size=300", "model.pooling=attention"]),
                               ("sentiment", "mamba2", ["tokenizer.vocab_size=300"]), ("textgen", "mamba2", [])):
        hf_rnn.train_recipe(load_recipe(task, model), runs / f"{task}-{model}", TINY + extra)
    service = AppService(runs, max_new_tokens=3)
    try:
        choices = {c.value: c for c in service.choices("sentiment")}
        bi, uni = RUN_PREFIX + "sentiment-bimamba2", RUN_PREFIX + "sentiment-mamba2"
        assert {bi, uni} <= set(choices) and "hidden attention" in choices[bi].label and choices[bi].has_attention
        for a, b in ((bi, uni), (uni, bi)):  # either side
            r = service.compare("sentiment", a, b, "a fine day at sea")
            assert r.error is None and r.a.ok and r.b.ok, (r.a.error, r.b.error)
            assert abs(sum(r.a.output.values()) - 1.0) < 1e-5
        by_run = {"bi": r.b.maps, "uni": r.a.maps}  # the last pair: the left-to-right run on side A
        for name, n_layers in (("bi", 2), ("uni", 1)):  # TINY: one layer, each way
            maps = by_run[name]
            assert maps.kind == "self-attention" and maps.meta["family"] == "mamba2"
            assert maps.weights.shape[:2] == (n_layers, 2) and maps.weights.shape[2] == maps.weights.shape[3]
            np.testing.assert_allclose(maps.weights.sum(-1), 1.0, rtol=1e-4)
        assert by_run["bi"].meta["layers"][1].startswith("backward")
        g = service.compare("textgen", RUN_PREFIX + "textgen-mamba2", RUN_PREFIX + "textgen-mamba2", "To be")
        assert g.error is None and g.a.ok and g.a.maps.kind == "self-attention"
        assert g.a.maps.prompt_length is not None and len(g.a.maps.query_tokens) > g.a.maps.prompt_length
    finally:
        service.close()


def test_the_rnns_embedding_option_starts_mamba2_from_the_llms_frozen_table(tmp_path):
    """``model.init_embeddings=llm`` with ``freeze_embeddings``: Mamba-2 reads SmolLM2's tokens through SmolLM2's
    own embedding table, kept fixed while the rest trains: at its width (``embedding_size=576``) under a stack of
    any width, projected as an RNN's input weights do, or with the whole stack at it (``hidden_size=576``); at
    another width, one clear error naming the key."""
    import torch
    from safetensors import safe_open

    import hf_rnn
    from hf_rnn.assets.cache import ensure_builtin_llm
    from hf_rnn.runs.run import read_run
    from hf_rnn.training.recipes import load_recipe

    llm = ["tokenizer.word_level=false", "model.init_embeddings=llm", "model.freeze_embeddings=true"]
    with safe_open(str(ensure_builtin_llm() / "model.safetensors"), framework="pt") as f:
        table = f.get_tensor("model.embed_tokens.weight")
    for name, width in (("narrow", "model.embedding_size=576"), ("wide", "model.hidden_size=576")):
        run = hf_rnn.train_recipe(load_recipe("sentiment", "mamba2"), tmp_path / name,
                                  [*TINY, *llm, width, "training.max_steps=2"])
        loaded = FAMILIES["mamba2"].load(read_run(tmp_path / name))
        assert torch.equal(loaded.get_input_embeddings().weight, table)  # copied, then never updated
        assert run.metrics.parameters.total - run.metrics.parameters.trainable == table.numel()
        projection = loaded.model.embedding_projection
        assert (projection is not None) == (name == "narrow")
        if projection is not None:
            assert projection.in_features == 576 and projection.out_features == loaded.config.hidden_size
    with pytest.raises(ConfigError, match="needs the LLM's tokenizer and embedding_size"):
        hf_rnn.train_recipe(load_recipe("sentiment", "mamba2"), tmp_path / "other",
                            [*TINY, *llm, "model.embedding_size=null"])
    assert not (tmp_path / "other" / "model.safetensors").exists()
