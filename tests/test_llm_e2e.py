"""The LLM family on the real built-in SmolLM2-135M-Instruct (slower: ``-m e2e``)."""

from __future__ import annotations

import pytest
import torch

from hf_rnn.families.llm.llm import load_llm, prepare_llm_inputs
from hf_rnn.families.llm.llm_zero_shot import zero_shot
from hf_rnn.generation import greedy_generate
from hf_rnn.tasks import load_task

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def smollm2():
    model, tokenizer = load_llm(output_attentions=True)
    model.eval()
    return model, tokenizer


def test_builtin_model_shape(smollm2):
    model, tok = smollm2
    assert type(model).__name__ == "LlamaForCausalLM"
    assert model.config.num_hidden_layers == 30 and model.config.num_attention_heads == 9
    assert model.config._attn_implementation == "eager"
    assert tok.pad_token == tok.eos_token == "<|im_end|>"


def test_forward_and_generation_with_attentions(smollm2):
    model, tok = smollm2
    inputs = prepare_llm_inputs(tok, "The quick brown fox jumps over the lazy dog.", model=model)
    T = inputs["input_ids"].shape[1]
    with torch.no_grad():
        out = model(**inputs, output_attentions=True)
    assert len(out.attentions) == 30
    assert all(a.shape == (1, 9, T, T) for a in out.attentions)
    assert torch.allclose(out.attentions[-1].sum(-1), torch.ones(1, 9, T), atol=1e-4)

    prompt = prepare_llm_inputs(tok, "What is the capital of France?", model=model, chat=True, reserve=8)
    gen = greedy_generate(model, prompt["input_ids"], prompt["attention_mask"], max_new_tokens=8,
                          pad_token_id=tok.pad_token_id, output_attentions=True)
    P = gen.attentions[0][0].shape[-1]  # the chat prompt's length
    n_new = gen.sequences.shape[1] - P
    assert 1 <= n_new <= 8 and len(gen.attentions) == n_new
    assert all(a.shape == (1, 9, P, P) for a in gen.attentions[0]) and len(gen.attentions[0]) == 30
    for step in range(1, n_new):
        assert all(a.shape == (1, 9, 1, P + step) for a in gen.attentions[step])
    answer = tok.decode(gen.sequences[0, P:], skip_special_tokens=True)
    assert "Paris" in answer


def test_zero_shot_sentiment_beats_chance(smollm2):
    model, tok = smollm2
    metrics = zero_shot(load_task("sentiment"), model, tok, split="test", max_examples=64)
    assert metrics["num_examples"] == 64
    assert metrics["accuracy"] > 0.6, metrics
