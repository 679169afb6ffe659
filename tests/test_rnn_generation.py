"""`generate()` on the RNN language model and the RNN encoder-decoder.

Checks that the recurrent state works as the cache: greedy output equals a manual argmax loop that reruns the
whole prefix, every step after the prompt feeds exactly one token to the RNN, and beam search gives the same
result with the cache (reordered by `generate`) as without it.
"""

from __future__ import annotations

import pytest
import torch
from transformers import GenerationConfig

from hf_rnn.models import RNNConfig, RNNForCausalLM, RNNForSeq2SeqLM, RNNStateCache

VOCAB = 40
START, EOS = 1, 2


def tiny_config(**overrides) -> RNNConfig:
    fields = dict(
        vocab_size=VOCAB,
        embedding_size=8,
        hidden_size=16,
        num_layers=2,
        pad_token_id=0,
        bos_token_id=START,
        eos_token_id=EOS,
        decoder_start_token_id=START,
    )
    fields.update(overrides)
    return RNNConfig(**fields)


def prompt(batch: int = 2, length: int = 5, seed: int = 0) -> torch.Tensor:
    return torch.randint(3, VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))


def lm(cell: str = "lstm") -> RNNForCausalLM:
    torch.manual_seed(0)
    return RNNForCausalLM(tiny_config(cell=cell)).eval()


# Token ids from two computation paths (cache vs rerun, batch vs alone) are compared exactly. That is only
# CPU-independent when no greedy step is a near tie: kernels differ by ~1e-6 between CPUs (and between paths),
# so each such test first asserts that the top two logits of every step are further apart than this.
GREEDY_MARGIN = 1e-4


def greedy_margin(model, *args, **kwargs) -> float:
    """The smallest gap between the best and second-best logit over every greedy step of `generate`."""
    out = model.generate(*args, do_sample=False, output_scores=True, return_dict_in_generate=True, **kwargs)
    top2 = torch.stack(out.scores).topk(2, dim=-1).values  # (steps, batch, 2)
    return float((top2[..., 0] - top2[..., 1]).min())


def record_rnn_input_lengths(module: torch.nn.Module) -> list[int]:
    """Sequence length of every call to the fused RNN kernel (packed inputs never happen here: no padding)."""
    lengths: list[int] = []
    module.register_forward_pre_hook(lambda _, args: lengths.append(args[0].shape[1]))
    return lengths


# ------------------------------------------------------------------------------------------------ causal LM


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_greedy_generate_equals_a_manual_argmax_loop(cell):
    model = lm(cell)
    ids = prompt()
    generated = model.generate(ids, max_new_tokens=8, do_sample=False, eos_token_id=None)
    assert greedy_margin(model, ids, max_new_tokens=8, eos_token_id=None) > GREEDY_MARGIN
    manual = ids
    with torch.no_grad():
        for _ in range(8):  # no cache: the whole prefix is rerun at every step
            next_token = model(manual, use_cache=False).logits[:, -1].argmax(-1)
            manual = torch.cat([manual, next_token[:, None]], dim=1)
    assert torch.equal(generated, manual)


def test_cache_makes_every_step_after_the_prompt_one_rnn_step():
    model = lm()
    rnn_lengths = record_rnn_input_lengths(model.rnn.layers)
    ids = prompt(length=6)
    out = model.generate(ids, max_new_tokens=5, eos_token_id=None, return_dict_in_generate=True)
    assert rnn_lengths == [6, 1, 1, 1, 1]  # prompt once, then one token per new token
    assert isinstance(out.cache, RNNStateCache)
    assert out.cache.get_seq_length() == 6 + 5 - 1  # the last generated token was never fed back


def test_stepping_with_the_cache_equals_running_the_whole_sequence():
    model = lm()
    ids = prompt(length=7)
    with torch.no_grad():
        full = model(ids).logits
        first = model(ids[:, :4], use_cache=True)
        cache = first.cache
        steps = [model(ids[:, t : t + 1], cache=cache).logits for t in range(4, 7)]
    torch.testing.assert_close(torch.cat([first.logits, *steps], dim=1), full, atol=1e-6, rtol=0)


def test_past_key_values_is_accepted_as_the_old_name_of_cache():
    model = lm()
    ids = prompt(length=5)
    with torch.no_grad():
        expected = model(ids).logits[:, -1]
        cache = model(ids[:, :4], use_cache=True).cache
        with pytest.warns(FutureWarning, match="Use `cache` instead"):  # transformers 5 renamed it
            stepped = model(ids[:, 4:], past_key_values=cache).logits[:, -1]
    torch.testing.assert_close(stepped, expected, atol=1e-6, rtol=0)


def test_sampling_with_top_k_and_top_p_runs_and_is_seeded():
    model = lm()
    ids = prompt()
    kwargs = dict(max_new_tokens=6, do_sample=True, top_k=5, top_p=0.9, temperature=0.8, eos_token_id=None)
    torch.manual_seed(123)
    first = model.generate(ids, **kwargs)
    torch.manual_seed(123)
    second = model.generate(ids, **kwargs)
    assert first.shape == (2, 11) and torch.equal(first, second)
    assert torch.equal(first[:, :5], ids) and int(first.max()) < VOCAB


def test_top_k_1_sampling_is_greedy():
    model = lm()
    ids = prompt()
    sampled = model.generate(ids, max_new_tokens=5, do_sample=True, top_k=1, eos_token_id=None)
    assert torch.equal(sampled, model.generate(ids, max_new_tokens=5, eos_token_id=None))


def test_left_padded_batch_generates_like_each_prompt_alone():
    model = lm("gru")
    ids = prompt(length=6)
    mask = torch.ones_like(ids)
    mask[0, :3] = 0  # first prompt is 3 tokens, left-padded
    ids[0, :3] = 0
    batch = model.generate(ids, attention_mask=mask, max_new_tokens=5, eos_token_id=None)
    assert greedy_margin(model, ids, attention_mask=mask, max_new_tokens=5, eos_token_id=None) > GREEDY_MARGIN
    assert torch.equal(batch[0, 3:], model.generate(ids[:1, 3:], max_new_tokens=5, eos_token_id=None)[0])
    assert torch.equal(batch[1], model.generate(ids[1:], max_new_tokens=5, eos_token_id=None)[0])


def test_causal_lm_beam_search_with_and_without_cache_agree():
    model = lm()
    ids = prompt()
    kwargs = dict(max_new_tokens=6, num_beams=3, eos_token_id=None, output_scores=True, return_dict_in_generate=True)
    with_cache, without_cache = model.generate(ids, **kwargs), model.generate(ids, use_cache=False, **kwargs)
    # the beams' scores agree to float tolerance; the chosen ids exactly (beam scores are far from ties here)
    torch.testing.assert_close(with_cache.sequences_scores, without_cache.sequences_scores, atol=1e-5, rtol=0)
    assert torch.equal(with_cache.sequences, without_cache.sequences)


@pytest.mark.parametrize(
    "drafting",
    [
        lambda: dict(assistant_model=lm()),
        lambda: dict(prompt_lookup_num_tokens=2),
        lambda: dict(generation_config=GenerationConfig(prompt_lookup_num_tokens=2, max_new_tokens=3)),
    ],
    ids=["assistant_model", "prompt_lookup", "prompt_lookup_in_config"],
)
def test_assisted_decoding_is_refused_for_a_stateful_model(drafting):
    model = lm()
    # one clear ValueError from the model itself, whichever transformers 5.x release is installed
    with pytest.raises(ValueError, match="stateful"):
        model.generate(prompt(batch=1), max_new_tokens=3, **drafting())
    with pytest.raises(ValueError, match="stateful"):  # the config as generate()'s second positional argument
        model.generate(prompt(batch=1), GenerationConfig(prompt_lookup_num_tokens=2, max_new_tokens=3))
    # the refusal is about drafting only: the same call without it generates
    assert model.generate(prompt(batch=1), max_new_tokens=3, eos_token_id=None).shape == (1, 8)


def test_assisted_decoding_is_refused_for_the_seq2seq_model():
    src, mask = padded_source()
    with pytest.raises(ValueError, match="stateful"):
        seq2seq("additive").generate(src[:1], attention_mask=mask[:1], assistant_model=seq2seq("additive"))


# ------------------------------------------------------------------------------------------------ seq2seq


def seq2seq(attention: str, cell: str = "lstm", seed: int = 0) -> RNNForSeq2SeqLM:
    torch.manual_seed(seed)
    return RNNForSeq2SeqLM(tiny_config(attention=attention, cell=cell, bidirectional=True)).eval()


def padded_source() -> tuple[torch.Tensor, torch.Tensor]:
    src = prompt(batch=3, length=6, seed=1)
    mask = torch.ones_like(src)
    mask[1, 4:] = 0
    src[1, 4:] = 0
    return src, mask


@pytest.mark.parametrize("attention", ["none", "additive", "dot", "general"])
def test_seq2seq_greedy_equals_manual_loop_and_num_beams_1(attention):
    src, mask = padded_source()
    # the first seeded model without a near tie (seed 0 without attention has a 7e-7 one, which a CPU may flip)
    model = next(m for m in (seq2seq(attention, seed=seed) for seed in range(10))
                 if greedy_margin(m, src, attention_mask=mask, max_new_tokens=6, eos_token_id=None) > GREEDY_MARGIN)
    greedy = model.generate(src, attention_mask=mask, max_new_tokens=6, eos_token_id=None)
    assert torch.equal(
        greedy, model.generate(src, attention_mask=mask, max_new_tokens=6, num_beams=1, eos_token_id=None)
    )
    decoder_ids = torch.full((3, 1), START)
    with torch.no_grad():
        for _ in range(6):
            logits = model(src, attention_mask=mask, decoder_input_ids=decoder_ids, use_cache=False).logits
            decoder_ids = torch.cat([decoder_ids, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(greedy, decoder_ids)


@pytest.mark.parametrize("attention", ["none", "additive", "general"])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_seq2seq_beam_search_runs_and_cache_reordering_is_exact(attention, cell):
    model = seq2seq(attention, cell)
    src, mask = padded_source()
    kwargs = dict(attention_mask=mask, max_new_tokens=6, num_beams=4, eos_token_id=None)
    scored = dict(output_scores=True, return_dict_in_generate=True)
    with_cache = model.generate(src, **kwargs, **scored)
    without_cache = model.generate(src, use_cache=False, **kwargs, **scored)  # reruns the decoder prefix every step
    assert with_cache.sequences.shape == (3, 7)
    torch.testing.assert_close(with_cache.sequences_scores, without_cache.sequences_scores, atol=1e-5, rtol=0)
    assert torch.equal(with_cache.sequences, without_cache.sequences)
    several = model.generate(src, num_return_sequences=2, **kwargs)
    assert several.shape == (6, 7)


def test_seq2seq_beam_search_stops_at_eos_and_returns_scores():
    model = seq2seq("dot")
    src, mask = padded_source()
    out = model.generate(
        src,
        attention_mask=mask,
        max_new_tokens=6,
        num_beams=3,
        eos_token_id=EOS,
        return_dict_in_generate=True,
        output_scores=True,
    )
    assert out.sequences.shape[0] == 3 and out.sequences.shape[1] <= 7
    assert out.sequences_scores.shape == (3,)


def test_seq2seq_decoder_rnn_sees_one_token_per_step():
    model = seq2seq("general")
    rnn_lengths = record_rnn_input_lengths(model.decoder.layers)
    src, mask = padded_source()
    model.generate(src, attention_mask=mask, max_new_tokens=5, eos_token_id=None)
    assert rnn_lengths == [1] * 5


def test_generate_returns_cross_attentions_per_step():
    model = seq2seq("additive")
    src, mask = padded_source()
    out = model.generate(
        src,
        attention_mask=mask,
        max_new_tokens=4,
        eos_token_id=None,
        output_attentions=True,
        return_dict_in_generate=True,
    )
    assert len(out.cross_attentions) == 4
    assert out.cross_attentions[0][0].shape == (3, 1, 1, src.shape[1])
