"""The LLM family on tiny models: heads per task, training modes, errors, attention maps.

A 2-layer Llama and a 2-layer GPT-2 with the real SmolLM2 tokenizer's vocabulary stand in
for real checkpoints, so every path of ``load_llm`` runs in seconds.
"""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from transformers import (
    BertConfig,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    T5Config,
)

from hf_rnn.errors import ConfigError, HfRnnError, ModelLoadError
from hf_rnn.families import family_name as family_of
from hf_rnn.families.llm.llm import (
    count_parameters,
    decoder_layers,
    load_llm,
    prepare_llm_inputs,
    use_eager_attention,
)
from hf_rnn.families.llm.llm_zero_shot import SENTIMENT_PROMPT, ZeroShotClassifier, default_prompt, zero_shot
from hf_rnn.generation import greedy_generate
from hf_rnn.models import llm
from hf_rnn.tasks import load_task

TASK_NAMES = ("sentiment", "pos", "textgen", "translation", "timeseries")


# --------------------------------------------------------------------------- fixtures


def _special_ids(tokenizer) -> dict:
    return {"pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id,
            "bos_token_id": tokenizer.bos_token_id}


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory, tokenizer):
    """A 2-layer Llama (hidden 64, 4 heads) saved with the built-in tokenizer."""
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         tie_word_embeddings=True, **_special_ids(tokenizer))
    folder = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory, tokenizer):
    """A 2-layer GPT-2 with a 32-token context (to exercise truncation)."""
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=64, n_layer=2, n_head=4, n_positions=32,
                        **_special_ids(tokenizer))
    folder = tmp_path_factory.mktemp("tiny-gpt2")
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tasks():
    """Small seeded subsets of the five built-in tasks."""
    return {name: load_task(name).subset({"train": 8, "validation": 8, "test": 8}) for name in TASK_NAMES}


def _fixed_batch(task, tokenizer, n: int = 4, max_length: int = 40) -> dict[str, torch.Tensor]:
    """The first ``n`` training rows, encoded for the LLM family and collated.

    Short rows keep the 49k-way LM head cheap (prompted tasks keep the prompt's tail).
    """
    enc = task.encode(tokenizer, "llm", splits=("train",), max_length=max_length)["train"]
    rows = [enc[i] for i in range(min(n, len(enc)))]
    return task.model_inputs(task.collator(tokenizer, "llm")(rows))


def _train(model, batch, steps: int = 25, lr: float = 3e-3) -> list[float]:
    """AdamW on one fixed batch; returns the losses."""
    torch.manual_seed(0)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    losses = []
    for _ in range(steps):
        loss = model(**batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    return losses


# --------------------------------------------------------------------------- heads and training


@pytest.mark.parametrize("name", TASK_NAMES)
def test_each_task_trains_with_its_head(name, tasks, tiny_llama_dir):
    task = tasks[name]
    model, tok = load_llm(tiny_llama_dir, task)
    expected = {"sequence-classification": "LlamaForSequenceClassification",
                "token-classification": "LlamaForTokenClassification"}.get(task.kind, "LlamaForCausalLM")
    assert type(model).__name__ == expected
    assert family_of(model) == "llm"
    if task.label_names:
        assert model.config.num_labels == len(task.label_names)
        assert model.config.id2label[0] == task.label_names[0]
    losses = _train(model, _fixed_batch(task, tok), steps=20)
    assert losses[-1] < 0.7 * losses[0], losses


def test_gpt2_classifier_trains_and_pads(tasks, tiny_gpt2_dir):
    model, tok = load_llm(tiny_gpt2_dir, tasks["sentiment"])
    assert type(model).__name__ == "GPT2ForSequenceClassification"
    assert model.config.pad_token_id == tok.pad_token_id  # the classifier finds the last real token with it
    # the tiny GPT-2 has 32 positions: longer inputs would index past its position table
    losses = _train(model, _fixed_batch(tasks["sentiment"], tok, max_length=32), steps=15)
    assert losses[-1] < 0.7 * losses[0]


def test_task_argument_forms(tiny_llama_dir):
    assert type(load_llm(tiny_llama_dir, "token-classification")[0]).__name__ == "LlamaForTokenClassification"
    assert type(load_llm(tiny_llama_dir, "sentiment")[0]).__name__ == "LlamaForSequenceClassification"
    model, tok = load_llm(tiny_llama_dir, dtype="bfloat16")
    assert type(model).__name__ == "LlamaForCausalLM" and model.dtype == torch.bfloat16
    assert tok.pad_token is not None and tok.padding_side == "right"
    with pytest.raises(ConfigError):
        load_llm(tiny_llama_dir, "summarization")
    with pytest.raises(ConfigError):
        load_llm(tiny_llama_dir, mode="adapters")


def test_count_parameters_counts_tied_weights_once(tiny_llama_dir):
    model, _ = load_llm(tiny_llama_dir)
    total, trainable = count_parameters(model)
    assert model.get_input_embeddings().weight is model.get_output_embeddings().weight
    by_name = sum(p.numel() for _, p in model.named_parameters())  # named_parameters dedups too
    assert total == trainable == by_name
    assert total < 2 * model.get_input_embeddings().weight.numel()


# --------------------------------------------------------------------------- LoRA


def _trainable_names(model) -> list[str]:
    return [n for n, p in model.named_parameters() if p.requires_grad]


def test_lora_trains_only_adapters_and_head(tasks, tiny_llama_dir):
    task = tasks["sentiment"]
    model, tok = load_llm(tiny_llama_dir, task, mode="lora", lora_r=4, lora_alpha=8)
    names = _trainable_names(model)
    assert names and all("lora_" in n or ".score." in n for n in names), names
    assert any(".score." in n for n in names)  # the new head trains (modules_to_save)
    for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
        assert any(f"{proj}.lora_A" in n for n in names)
    total, trainable = count_parameters(model)
    assert trainable < 0.01 * total

    batch = _fixed_batch(task, tok, n=8)
    frozen_before = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    losses = _train(model, batch, steps=20, lr=1e-2)
    assert losses[-1] < 0.7 * losses[0], losses
    assert all(torch.equal(frozen_before[n], p) for n, p in model.named_parameters() if n in frozen_before)
    # saving a LoRA run merged: tests/test_training.py::test_a_lora_run_saves_the_trained_model_merged


def test_lora_defaults_for_gpt2(tiny_gpt2_dir):
    model, _ = load_llm(tiny_gpt2_dir, "causal-lm", mode="lora")
    names = _trainable_names(model)
    assert names and all("c_attn.lora_" in n for n in names), names
    ids = torch.randint(0, 1000, (2, 16))
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}
    losses = _train(model, batch, steps=20, lr=1e-2)
    assert losses[-1] < losses[0]


def test_lora_custom_targets_and_skipped_layers(tiny_llama_dir):
    model, _ = load_llm(tiny_llama_dir, mode="lora", lora_target_modules="q_proj,v_proj", freeze_layers=1)
    names = _trainable_names(model)
    assert names and all(".layers.1." in n for n in names), names
    adapted = {part for n in names for part in n.split(".") if part.endswith("_proj")}
    assert adapted == {"q_proj", "v_proj"}


# --------------------------------------------------------------------------- freezing


def test_freeze_layers_freezes_embeddings_and_lower_layers(tiny_llama_dir):
    model, tok = load_llm(tiny_llama_dir, "sentiment", freeze_layers=1)
    layers = decoder_layers(model)
    assert not model.get_input_embeddings().weight.requires_grad
    assert not any(p.requires_grad for p in layers[0].parameters())
    assert all(p.requires_grad for p in layers[1].parameters())
    assert model.score.weight.requires_grad and model.model.norm.weight.requires_grad

    ids = torch.randint(0, 1000, (2, 8))
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    _train(model, {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": torch.tensor([0, 1])},
           steps=2)
    assert all(torch.equal(frozen[n], p) for n, p in model.named_parameters() if n in frozen)


def test_freeze_layers_gpt2_position_embeddings_and_bounds(tiny_gpt2_dir):
    model, _ = load_llm(tiny_gpt2_dir, freeze_layers=2)
    assert not model.transformer.wte.weight.requires_grad and not model.transformer.wpe.weight.requires_grad
    assert _trainable_names(model) == ["transformer.ln_f.weight", "transformer.ln_f.bias"]
    with pytest.raises(ConfigError):
        load_llm(tiny_gpt2_dir, freeze_layers=3)


def test_freeze_mode_trains_only_the_head(tiny_llama_dir):
    model, _ = load_llm(tiny_llama_dir, "token-classification", mode="freeze")
    assert _trainable_names(model) == ["score.weight", "score.bias"]
    causal, _ = load_llm(tiny_llama_dir, mode="freeze")
    assert count_parameters(causal)[1] == 0


# --------------------------------------------------------------------------- errors


def _assert_one_line(err: HfRnnError) -> str:
    text = str(err)
    assert "\n" not in text
    assert "SmolLM2-135M-Instruct" in text  # names the built-in default
    return text


def test_error_for_encoder_only_and_encoder_decoder_folders(tmp_path):
    BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
               intermediate_size=32).save_pretrained(tmp_path / "bert")
    T5Config(vocab_size=100, d_model=16, num_layers=1, num_heads=2, d_ff=32).save_pretrained(tmp_path / "t5")
    with pytest.raises(ModelLoadError) as bert:
        load_llm(tmp_path / "bert")
    assert "decoder-only" in _assert_one_line(bert.value) and "bert" in str(bert.value)
    with pytest.raises(ModelLoadError) as t5:
        load_llm(tmp_path / "t5", "sentiment")
    assert "encoder-decoder" in _assert_one_line(t5.value)


def test_error_for_rnn_folder_and_folder_without_config(tmp_path):
    (tmp_path / "rnn").mkdir()
    (tmp_path / "rnn" / "config.json").write_text(json.dumps({"model_type": "hf_rnn"}))
    with pytest.raises(ModelLoadError) as rnn:
        load_llm(tmp_path / "rnn")
    assert "load_rnn" in _assert_one_line(rnn.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError) as empty:
        load_llm(tmp_path / "empty")
    assert "config.json" in _assert_one_line(empty.value)


def test_builtin_aliases_resolve_to_the_asset_cache():
    from hf_rnn.assets.cache import ensure_builtin_llm

    for name in (None, "builtin", "smollm2", "SmolLM2-135M-Instruct", "smollm2-135m-instruct"):
        assert llm.resolve_llm_source(name) == (str(ensure_builtin_llm()), True)


def _offline(monkeypatch, hub_cache):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub_cache))
    llm.hub_reachable.cache_clear()


def test_the_hub_id_means_the_original_weights_from_the_users_cache(monkeypatch, tmp_path, tiny_llama):
    """The built-in's Hub id loads what the Hugging Face cache holds under that id (here a tiny Llama standing
    in for the original weights), not the dequantized copy."""
    import shutil

    from hf_rnn.assets.cache import BUILTIN_LLM_HUB_ID

    snapshot = tmp_path / "hub" / f"models--{BUILTIN_LLM_HUB_ID.replace('/', '--')}" / "snapshots" / ("0" * 40)
    shutil.copytree(tiny_llama, snapshot)
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("0" * 40)
    _offline(monkeypatch, tmp_path / "hub")
    try:
        assert llm.resolve_llm_source(BUILTIN_LLM_HUB_ID) == (BUILTIN_LLM_HUB_ID, True)
        model, _ = load_llm(BUILTIN_LLM_HUB_ID, "causal-lm")
        assert model.config.hidden_size == 16  # the stand-in, not the built-in's 576
    finally:
        llm.hub_reachable.cache_clear()


def test_the_hub_id_without_its_weights_names_the_builtin_copy(monkeypatch, tmp_path):
    from hf_rnn.assets.cache import BUILTIN_LLM_HUB_ID

    _offline(monkeypatch, tmp_path / "empty-hub")
    try:
        with pytest.raises(ModelLoadError) as error:
            llm.resolve_llm_source(BUILTIN_LLM_HUB_ID)
        text = _assert_one_line(error.value)
        assert "original weights" in text and "Q4_1" in text and "name_or_path=smollm2" in text
    finally:
        llm.hub_reachable.cache_clear()


def test_error_for_unknown_name_and_missing_path(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # fail fast even where the Hub is reachable
    llm.hub_reachable.cache_clear()
    try:
        with pytest.raises(ModelLoadError) as unknown:
            load_llm("no-such-owner/no-such-model-4242")
        assert "cannot be reached" in _assert_one_line(unknown.value)
    finally:
        llm.hub_reachable.cache_clear()
    with pytest.raises(ModelLoadError) as missing:
        load_llm(str(tmp_path / "not" / "there"))
    assert "no model folder" in _assert_one_line(missing.value)


# --------------------------------------------------------------------------- attention


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_eager_attention_maps_for_prompt_and_generated_tokens(arch, tiny_llama_dir, tiny_gpt2_dir):
    folder = tiny_llama_dir if arch == "llama" else tiny_gpt2_dir
    model, tok = load_llm(folder, output_attentions=True)
    assert model.config._attn_implementation == "eager"
    inputs = prepare_llm_inputs(tok, "The cat sat on the mat.", model=model)
    T = inputs["input_ids"].shape[1]
    with torch.no_grad():
        maps = model(**inputs, output_attentions=True).attentions
    assert len(maps) == 2 and all(a.shape == (1, 4, T, T) for a in maps)
    assert torch.allclose(maps[0].sum(-1), torch.ones(1, 4, T), atol=1e-5)  # softmax rows
    assert torch.all(maps[0].triu(1) == 0)  # causal: no position looks ahead

    out = greedy_generate(model, inputs["input_ids"], inputs["attention_mask"], max_new_tokens=4,
                          pad_token_id=tok.pad_token_id, output_attentions=True, min_new_tokens=4)
    assert out.sequences.shape == (1, T + 4) and len(out.attentions) == 4
    assert all(a.shape == (1, 4, T, T) for a in out.attentions[0])
    for step in range(1, 4):
        assert all(a.shape == (1, 4, 1, T + step) for a in out.attentions[step])


def test_switching_a_loaded_model_to_eager_keeps_outputs(tiny_llama_dir):
    model, tok = load_llm(tiny_llama_dir, mode="lora")
    assert model.get_base_model().config._attn_implementation != "eager"
    inputs = prepare_llm_inputs(tok, "Hello there, general Kenobi.")
    model.eval()
    with torch.no_grad():
        before = model(**inputs).logits
    use_eager_attention(model)
    assert model.get_base_model().config._attn_implementation == "eager"
    with torch.no_grad():
        out = model(**inputs, output_attentions=True)
    assert torch.allclose(out.logits, before, atol=1e-5)
    assert len(out.attentions) == 2


def test_text_prompt_uses_chat_template_and_reserves_room(tiny_llama_dir):
    model, tok = load_llm(tiny_llama_dir)
    use_eager_attention(model)  # sdpa returns no maps
    inputs = prepare_llm_inputs(tok, "Say hi.", model=model, chat=True, reserve=2)
    out = greedy_generate(model, inputs["input_ids"], inputs["attention_mask"], max_new_tokens=2,
                          pad_token_id=tok.pad_token_id, output_attentions=True, min_new_tokens=2)
    prompt = out.sequences[0, : out.attentions[0][0].shape[-1]].tolist()
    assert tok.decode(prompt).endswith("<|im_start|>assistant\n")


def test_truncation_warns_instead_of_crashing(tiny_gpt2_dir):
    model, tok = load_llm(tiny_gpt2_dir, output_attentions=True)
    long_text = "word " * 100
    with pytest.warns(UserWarning, match="truncated"):
        inputs = prepare_llm_inputs(tok, long_text, model=model)
    assert inputs["input_ids"].shape == (1, 32)
    assert model(**inputs).logits.shape == (1, 32, len(tok))  # fits the 32 positions
    with pytest.warns(UserWarning, match="truncated"):
        chat = prepare_llm_inputs(tok, long_text, max_length=60, chat=True)
    assert chat["input_ids"].shape[1] <= 60
    assert tok.decode(chat["input_ids"][0]).endswith("<|im_start|>assistant\n")  # template kept
    with pytest.warns(UserWarning, match="truncated"):
        reserved = prepare_llm_inputs(tok, long_text, model=model, reserve=8)
    assert reserved["input_ids"].shape[1] == 24
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert prepare_llm_inputs(tok, "short", model=model)["input_ids"].shape[1] < 32


# --------------------------------------------------------------------------- zero-shot


def test_zero_shot_classifier_is_a_sequence_classifier(tasks, tiny_llama_dir):
    task = tasks["sentiment"]
    lm, tok = load_llm(tiny_llama_dir)
    clf = ZeroShotClassifier(lm, tok, task.label_names)
    assert family_of(clf) == "llm"
    assert "positive" in clf.prompt("Great film.") and "Great film." in clf.prompt("Great film.")
    batch = _fixed_batch(task, tok, n=4)
    out = clf(**batch)
    assert out.logits.shape == (4, 2) and out.loss is not None
    assert torch.all(out.logits <= 0)  # log-probabilities
    metrics = task.evaluate(clf, tok, split="test", batch_size=4)
    assert set(metrics) >= {"accuracy", "macro_f1"} and metrics["num_examples"] == 8
    assert zero_shot(task, lm, tok, max_examples=4)["num_examples"] == 4


def test_zero_shot_reads_the_shared_prompt_prefix_once_with_the_same_scores(tasks, tokenizer, tiny_llama_dir):
    """Scoring reads the prompts' shared head (system message and question) once, as a key/value cache, and
    pads each batch on the left: the label scores equal each prompt read alone, unpadded, within float32
    rounding; with gradients on (no cache) too."""
    lm, _ = load_llm(tiny_llama_dir, "causal-lm")
    clf = ZeroShotClassifier(lm, tokenizer, ["negative", "positive"], *SENTIMENT_PROMPT).eval()
    batch = _fixed_batch(tasks["sentiment"], tokenizer, n=4)
    with torch.no_grad():
        alone = []
        for text in clf.texts_from_ids(batch["input_ids"], batch["attention_mask"]):
            logits = lm(input_ids=torch.tensor([clf.prompt_ids(text)])).logits[0, -1].float()
            alone.append(logits.log_softmax(-1)[clf.label_token_ids])
        alone = torch.stack(alone)
        cached = clf(**batch).logits
        again = clf(**batch).logits  # a batch leaves the cache of the head as it was
    assert len({len(clf.prompt_ids(t)) for t in clf.texts_from_ids(batch["input_ids"], batch["attention_mask"])}) > 1
    ids, _, _ = clf._prefix
    assert len(ids) >= 8 and all(p[: len(ids)] == ids for p in
                                 (clf.prompt_ids("Great film."), clf.prompt_ids("?! odd start")))
    torch.testing.assert_close(cached, alone, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(again, cached, atol=1e-6, rtol=0)
    with torch.enable_grad():
        torch.testing.assert_close(clf(**batch).logits.detach(), alone, atol=1e-4, rtol=1e-4)
    # a model whose cache holds other layers than plain keys and values (recurrent, hybrid, static) reads every
    # prompt in full, right-padded: the same scores
    import hf_rnn.families.llm.llm_zero_shot as zs

    other = ZeroShotClassifier(lm, tokenizer, ["negative", "positive"], *SENTIMENT_PROMPT).eval()
    with torch.no_grad(), pytest.MonkeyPatch.context() as mp:
        mp.setattr(zs, "KV_LAYERS", ())
        torch.testing.assert_close(other(**batch).logits, alone, atol=1e-4, rtol=1e-4)
    assert other._prefix is None


def test_zero_shot_sentiment_prompt_opens_the_answer(tasks, tokenizer, tiny_llama_dir):
    assert default_prompt(tasks["sentiment"]) == SENTIMENT_PROMPT
    instruction, prefix = SENTIMENT_PROMPT
    lm, _ = load_llm(tiny_llama_dir)
    clf = ZeroShotClassifier(lm, tokenizer, ["negative", "positive"], instruction, prefix)
    # after "Sentiment:" the answer word comes with a leading space: a different BPE token
    assert clf.label_token_ids == [tokenizer(" negative", add_special_tokens=False)["input_ids"][0],
                                   tokenizer(" positive", add_special_tokens=False)["input_ids"][0]]
    text = tokenizer.decode(clf.prompt_ids("A fine film."))
    assert text.endswith("<|im_start|>assistant\nSentiment:") and "negative or positive" in text
    bare = ZeroShotClassifier(lm, tokenizer, ["negative", "positive"], instruction, "")
    assert bare.label_token_ids[1] == tokenizer("positive", add_special_tokens=False)["input_ids"][0]


def test_number_labels_of_a_users_file_are_told_apart_after_the_answers_space(tokenizer, tiny_llama_dir):
    """Labels 0 and 1: " 0" and " 1" start with the same space token in this tokenizer, so the space joins the
    answer's prefix and the digits' own tokens are the label tokens (the classifier used to refuse the file)."""
    from hf_rnn.families.llm.llm_zero_shot import GENERIC_PROMPT

    lm, _ = load_llm(tiny_llama_dir)
    spaced = [tokenizer(" " + w, add_special_tokens=False)["input_ids"] for w in ("0", "1")]
    assert spaced[0][0] == spaced[1][0]  # the case this handles: a shared first token
    clf = ZeroShotClassifier(lm, tokenizer, ["0", "1"], *GENERIC_PROMPT)
    assert clf.label_token_ids == [tokenizer(w, add_special_tokens=False)["input_ids"][0] for w in ("0", "1")]
    assert clf.answer_prefix == GENERIC_PROMPT[1] + " " and tokenizer.decode(clf.prompt_ids("x")).endswith(": ")
    words = ZeroShotClassifier(lm, tokenizer, ["negative", "positive"], *GENERIC_PROMPT)
    assert words.answer_prefix == GENERIC_PROMPT[1]  # words that differ after the space keep it theirs


def test_zero_shot_translation_and_refusals(tasks, tiny_llama_dir):
    lm, tok = load_llm(tiny_llama_dir)
    metrics = zero_shot(tasks["translation"], lm, tok, max_examples=2, max_new_tokens=4)
    assert set(metrics) >= {"bleu", "chrf"}
    with pytest.raises(ConfigError):
        zero_shot(tasks["pos"], lm, tok)
    with pytest.raises(ConfigError):
        ZeroShotClassifier(lm, tok, ["positive", "positive!"])  # same first token
