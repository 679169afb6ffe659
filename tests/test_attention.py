"""attention_maps: one structure for RNN pooling, RNN seq2seq alignment and LLM self-attention; rendering."""

from __future__ import annotations

import html
import json
import re
import warnings

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from transformers import LlamaConfig, LlamaForCausalLM

from hf_rnn.families import attention_maps
from hf_rnn.families.attention import POOLED_QUERY, AttentionMaps, token_strings
from hf_rnn.models import (
    RNNConfig,
    RNNForCausalLM,
    RNNForSeq2SeqLM,
    RNNForSequenceClassification,
    RNNForTokenClassification,
)
from hf_rnn.report.plots import (
    attention_html,
    plot_attention,
    plot_learning_curves,
    plot_quality_vs_parameters,
    plot_side_by_side,
    save_attention,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TEXT = "Good, cheap food!"


def rnn_config(tokenizer, **overrides) -> RNNConfig:
    settings = dict(vocab_size=len(tokenizer), embedding_size=8, hidden_size=8, eos_token_id=tokenizer.eos_token_id,
                    pad_token_id=tokenizer.pad_token_id, decoder_start_token_id=tokenizer.bos_token_id or 1)
    settings.update(overrides)
    return RNNConfig(**settings)


@pytest.fixture(scope="module")
def llama(tokenizer):
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=48)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = None  # always generate max_new_tokens
    return model


@pytest.fixture(scope="module")
def pooling_classifier(tokenizer):
    torch.manual_seed(0)
    return RNNForSequenceClassification(rnn_config(tokenizer, attention="additive", bidirectional=True, num_labels=2))


@pytest.fixture(scope="module")
def seq2seq(tokenizer):
    torch.manual_seed(0)
    return RNNForSeq2SeqLM(rnn_config(tokenizer, attention="dot", cell="gru"))


def check_rows_sum_to_one(maps: AttentionMaps) -> None:
    np.testing.assert_allclose(maps.weights.sum(-1), 1.0, atol=1e-5)


# --------------------------------------------------------------------------------------------------------------
# RNN family
# --------------------------------------------------------------------------------------------------------------


def test_rnn_pooling_classifier(pooling_classifier, tokenizer):
    maps = attention_maps(pooling_classifier, tokenizer, TEXT)
    n = len(tokenizer(TEXT)["input_ids"])
    assert maps.kind == "pooling"
    assert maps.weights.shape == (1, 1, 1, n)
    assert maps.query_tokens == [POOLED_QUERY]
    assert maps.key_tokens == ["Good", ",", "cheap", "food", "!"]
    check_rows_sum_to_one(maps)
    assert maps.average().shape == (1, n)


@pytest.mark.parametrize("attention", ["additive", "dot", "general"])
def test_rnn_seq2seq_greedy(tokenizer, attention):
    torch.manual_seed(0)
    model = RNNForSeq2SeqLM(rnn_config(tokenizer, attention=attention, bidirectional=attention == "general"))
    maps = attention_maps(model, tokenizer, "Do you have a pet?", max_new_tokens=5)
    source = len(tokenizer("Do you have a pet?", add_special_tokens=False)["input_ids"]) + 1
    assert maps.kind == "encoder-decoder alignment"
    assert maps.weights.shape[:2] == (1, 1)
    assert 1 <= maps.weights.shape[2] <= 5
    assert maps.weights.shape[3] == source
    assert maps.key_tokens[-1] == tokenizer.eos_token  # source + eos, as the translation task encodes it
    check_rows_sum_to_one(maps)
    assert maps.meta["target"] == "greedy"


def test_rnn_seq2seq_greedy_matches_generate(seq2seq, tokenizer):
    source = tokenizer("Do you have a pet?", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    generated = seq2seq.generate(input_ids=torch.tensor([source]), max_new_tokens=4, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)
    maps = attention_maps(seq2seq, tokenizer, "Do you have a pet?", max_new_tokens=4)
    assert maps.query_tokens == token_strings(tokenizer, generated[0, 1:].tolist())


def test_rnn_seq2seq_teacher_forced(seq2seq, tokenizer):
    target = "¿Tienes una mascota?"
    maps = attention_maps(seq2seq, tokenizer, "Do you have a pet?", target_text=target)
    target_ids = tokenizer(target, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    assert maps.weights.shape[2] == len(target_ids)
    assert maps.query_tokens == token_strings(tokenizer, target_ids)
    assert maps.query_tokens[0] == "¿"
    assert maps.meta["target"] == "teacher-forced"
    check_rows_sum_to_one(maps)


@pytest.mark.parametrize("head", ["classifier", "seq2seq", "tagger", "lm"])
def test_rnn_head_without_attention_is_a_clear_error(tokenizer, head):
    config = rnn_config(tokenizer)
    model = {"classifier": RNNForSequenceClassification, "seq2seq": RNNForSeq2SeqLM,
             "tagger": RNNForTokenClassification, "lm": RNNForCausalLM}[head](config)
    with pytest.raises(ValueError, match=r"no attention.*attention='additive'.*'dot'.*'general'"):
        attention_maps(model, tokenizer, TEXT)


def test_rnn_truncation_warns(pooling_classifier, tokenizer):
    with pytest.warns(UserWarning, match="keeping the first 4"):
        maps = attention_maps(pooling_classifier, tokenizer, "one two three four five six seven", max_length=4)
    assert maps.weights.shape == (1, 1, 1, 4)


def test_attention_maps_restores_training_mode(pooling_classifier, tokenizer):
    pooling_classifier.train()
    attention_maps(pooling_classifier, tokenizer, TEXT)
    assert pooling_classifier.training
    pooling_classifier.eval()


# --------------------------------------------------------------------------------------------------------------
# Decoder-only transformer
# --------------------------------------------------------------------------------------------------------------


def check_causal(maps: AttentionMaps) -> None:
    upper = np.triu(np.ones(maps.weights.shape[-2:], dtype=bool), k=1)
    assert np.all(maps.weights[..., upper] == 0.0)
    check_rows_sum_to_one(maps)


def test_llm_prompt_only(llama, tokenizer):
    before = llama.config._attn_implementation
    maps = attention_maps(llama, tokenizer, TEXT)
    n = len(tokenizer(TEXT)["input_ids"])
    assert maps.kind == "self-attention"
    assert maps.weights.shape == (2, 4, n, n)
    assert maps.query_tokens == maps.key_tokens == ["Good", ",", "cheap", "food", "!"]
    assert maps.prompt_length == n
    check_causal(maps)
    assert llama.config._attn_implementation == before  # eager only for the call


def test_a_shared_prompt_head_read_once_gives_the_full_pass_maps_and_logits(llama, tokenizer):
    """The app's zero-shot question: the head every prompt shares is read once (``read_prompt_head``); each
    prompt then reads only its rest from the cache, and the maps and logits are the full pass's (float32,
    stated tolerance: the cache changes the order of nothing but the matrix shapes)."""
    from hf_rnn.families.attention import forward_with_self_attention, read_prompt_head
    from hf_rnn.tokenization import chat_prompt_ids

    question = "Is this review negative or positive? Answer with one word.\n\nReview: "
    prompts = [chat_prompt_ids(tokenizer, question + text, "Sentiment:") for text in (TEXT, "Neat plot. Great acting.")]
    n = next(i for i, (a, b) in enumerate(zip(*prompts)) if a != b) - 1
    head = read_prompt_head(llama, prompts[0][:n])
    assert head is not None and head.weights.shape == (2, 4, n, n)
    for ids in (*prompts, prompts[0]):  # each prompt extends a copy: the head's cache stays the head's
        full_out, full = forward_with_self_attention(llama, tokenizer, ids, "t", "m")
        out, maps = forward_with_self_attention(llama, tokenizer, ids, "t", "m", head=head)
        assert all(layer.keys.shape[-2] == n for layer in head.cache.layers)
        np.testing.assert_allclose(maps.weights, full.weights, atol=1e-5)
        torch.testing.assert_close(out.logits[0, -1], full_out.logits[0, -1], atol=1e-4, rtol=1e-4)
        check_causal(maps)
    _, other = forward_with_self_attention(llama, tokenizer, prompts[0][: n - 1] + [5, 6], "t", "m", head=head)
    assert other.weights.shape[-1] == n + 1  # a prompt that does not start with the head is read in full


def test_llm_generate_rows_cover_prompt_and_generated_tokens(llama, tokenizer):
    maps = attention_maps(llama, tokenizer, TEXT, generate=True, max_new_tokens=4)
    prompt = tokenizer(TEXT)["input_ids"]
    assert maps.weights.shape == (2, 4, len(prompt) + 4, len(prompt) + 4)
    assert maps.prompt_length == len(prompt)
    assert maps.query_tokens[: len(prompt)] == token_strings(tokenizer, prompt)
    check_causal(maps)

    # The rows assembled from generate() equal one eager pass over prompt + generated tokens.
    ids = llama.generate(torch.tensor([prompt]), max_new_tokens=4, do_sample=False,
                         pad_token_id=tokenizer.pad_token_id)
    assert maps.query_tokens == token_strings(tokenizer, ids[0].tolist())
    previous = llama.config._attn_implementation
    llama.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            full = llama(ids, output_attentions=True).attentions
    finally:
        llama.set_attn_implementation(previous)
    expected = torch.stack([a[0] for a in full]).numpy()
    np.testing.assert_allclose(maps.weights, expected, atol=1e-5)


def test_llm_teacher_forced_target(llama, tokenizer):
    maps = attention_maps(llama, tokenizer, TEXT, target_text=" Five stars.")
    prompt = tokenizer(TEXT)["input_ids"]
    target = tokenizer(" Five stars.", add_special_tokens=False)["input_ids"]
    assert maps.weights.shape[-1] == len(prompt) + len(target)
    assert maps.prompt_length == len(prompt)
    check_causal(maps)


def test_llm_truncation_warns_instead_of_crashing(llama, tokenizer):
    long_text = "word " * 100
    with pytest.warns(UserWarning, match="keeping the first 48"):
        maps = attention_maps(llama, tokenizer, long_text)
    assert maps.weights.shape[-1] == 48  # max_position_embeddings
    with pytest.warns(UserWarning, match="keeping the first 44"):
        maps = attention_maps(llama, tokenizer, long_text, generate=True, max_new_tokens=4)
    assert maps.weights.shape[-1] == 48
    check_causal(maps)


# --------------------------------------------------------------------------------------------------------------
# The structure
# --------------------------------------------------------------------------------------------------------------


def test_same_structure_for_both_families(llama, pooling_classifier, seq2seq, tokenizer):
    all_maps = [
        attention_maps(pooling_classifier, tokenizer, TEXT),
        attention_maps(seq2seq, tokenizer, TEXT, max_new_tokens=3),
        attention_maps(llama, tokenizer, TEXT, generate=True, max_new_tokens=2),
    ]
    for maps in all_maps:
        assert isinstance(maps, AttentionMaps)
        layers, heads, queries, keys = maps.weights.shape
        assert (len(maps.query_tokens), len(maps.key_tokens)) == (queries, keys)
        assert maps.average().shape == (queries, keys)
        assert maps.select(layer=-1, head=0).shape == (queries, keys)
        assert maps.select(layer=0).shape == (queries, keys)
        data = json.loads(json.dumps(maps.to_dict()))
        back = AttentionMaps.from_dict(data)
        assert back.query_tokens == maps.query_tokens and back.kind == maps.kind
        np.testing.assert_allclose(back.weights, maps.weights, atol=1e-5)


def test_select_and_validation():
    weights = np.random.default_rng(0).random((3, 2, 4, 4)).astype(np.float32)
    maps = AttentionMaps(list("abcd"), list("abcd"), weights, "self-attention", "m")
    np.testing.assert_allclose(maps.select(1, 1), weights[1, 1])
    np.testing.assert_allclose(maps.select(head=0), weights[:, 0].mean(0), rtol=1e-6)
    np.testing.assert_allclose(maps.average(), weights.mean((0, 1)), rtol=1e-6)
    with pytest.raises(IndexError, match="layer 3 out of range"):
        maps.select(layer=3)
    with pytest.raises(ValueError, match="kind"):
        AttentionMaps(list("abcd"), list("abcd"), weights, "cross", "m")
    with pytest.raises(ValueError, match="do not match"):
        AttentionMaps(list("abc"), list("abcd"), weights, "self-attention", "m")


def test_token_strings_are_readable(tokenizer):
    ids = tokenizer("Pass me\tthe orange\n<|im_end|> เธอ")["input_ids"]
    tokens = token_strings(tokenizer, ids)
    assert not any("Ġ" in t or "Ċ" in t for t in tokens)
    assert tokens[:2] == ["Pass", "me"]
    assert "↵" in tokens and "⇥" in tokens
    assert "<|im_end|>" in tokens  # special tokens stay visible
    # Thai characters are split over byte-level tokens: each character shows once, on its last token
    assert "".join(t for t in tokens if t not in ("…",)).endswith("เธอ")


# --------------------------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def llm_maps(llama, tokenizer):
    return attention_maps(llama, tokenizer, "Good, cheap food! $5", generate=True, max_new_tokens=3)


def test_save_attention_png_and_svg(llm_maps, pooling_classifier, tokenizer, tmp_path):
    fig = save_attention(llm_maps, tmp_path / "maps.png")
    assert isinstance(fig, Figure)
    assert (tmp_path / "maps.png").read_bytes().startswith(PNG_MAGIC)
    save_attention(llm_maps, tmp_path / "sub" / "maps.svg", layer=1, head=2)
    svg = (tmp_path / "sub" / "maps.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and svg.rstrip().endswith("</svg>")
    save_attention(attention_maps(pooling_classifier, tokenizer, TEXT), tmp_path / "pool.png")
    assert (tmp_path / "pool.png").read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(ValueError, match=r"\.png or \.svg"):
        save_attention(llm_maps, tmp_path / "maps.jpg")


def test_attention_html_is_self_contained(llm_maps):
    for image in ("svg", "png"):
        page = attention_html(llm_maps, image=image)
        assert page.startswith("<!DOCTYPE html>")
        for token in llm_maps.query_tokens:
            assert html.escape(token) in page
        assert not re.search(r"https?:|src=\"//|<link|<script", page)
    assert "data:image/png;base64," in attention_html(llm_maps, image="png")
    assert "<svg" in attention_html(llm_maps, layer=0, head=1)


def test_plot_attention_into_given_axes(llm_maps):
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_attention(llm_maps, layer=0, ax=ax, vmax=0.3) is fig


def test_side_by_side_and_comparison_plots(llm_maps, seq2seq, tokenizer, tmp_path):
    rnn_maps = attention_maps(seq2seq, tokenizer, TEXT, target_text="Bueno, comida barata!")
    fig = plot_side_by_side(rnn_maps, llm_maps, tmp_path / "side.png")
    assert isinstance(fig, Figure) and len(fig.axes) >= 2
    assert (tmp_path / "side.png").read_bytes().startswith(PNG_MAGIC)

    curves = {"LSTM": [(0, 0.0, 0.5), (10, 1.5, 0.7)], "SmolLM2": [(0, 0.0, 0.6), (5, 9.0, 0.9)]}
    fig = plot_learning_curves(curves, "accuracy", tmp_path / "curves.svg")
    assert len(fig.axes) == 2
    assert "<svg" in (tmp_path / "curves.svg").read_text()

    rows = [{"model": "LSTM", "parameters": 3_000_000, "accuracy": 0.8, "family": "rnn"},
            {"model": "SmolLM2", "parameters": 134_515_008, "accuracy": 0.9, "family": "llm"}]
    plot_quality_vs_parameters(rows, "accuracy", tmp_path / "size.png")
    assert (tmp_path / "size.png").read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(ValueError, match="parameters"):
        plot_quality_vs_parameters([{"model": "x", "accuracy": 1.0}], "accuracy")


# --------------------------------------------------------------------------------------------------------------
# The real built-in model
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_smollm2_attention_maps_with_generation(tokenizer, tmp_path):
    from transformers import AutoModelForCausalLM

    from hf_rnn.assets.cache import ensure_builtin_llm

    model = AutoModelForCausalLM.from_pretrained(str(ensure_builtin_llm()))
    before = model.config._attn_implementation
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no deprecation or generation-config warnings from our calls
        maps = attention_maps(model, tokenizer, TEXT, generate=True, max_new_tokens=6)
    prompt = len(tokenizer(TEXT)["input_ids"])
    assert maps.num_layers == 30 and maps.num_heads == 9
    assert maps.weights.shape[2:] == (prompt + 6, prompt + 6)
    assert maps.model_name == "SmolLM2-135M-Instruct"
    check_causal(maps)
    assert model.config._attn_implementation == before
    save_attention(maps, tmp_path / "smollm2.png", layer=-1)
    assert (tmp_path / "smollm2.png").read_bytes().startswith(PNG_MAGIC)
