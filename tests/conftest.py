"""Shared fixtures: the built-in tokenizer, task subsets and an isolated asset cache."""

from __future__ import annotations

import datasets
import pytest

datasets.disable_progress_bars()


@pytest.fixture(scope="session")
def tokenizer():
    """The built-in SmolLM2 tokenizer (cached by ``make setup`` / ``hf-rnn fetch``)."""
    from hf_rnn.tokenization import load_tokenizer

    return load_tokenizer()


@pytest.fixture
def empty_home(tmp_path, monkeypatch):
    """An empty ``HF_RNN_HOME``, to check what a command writes (or doesn't) to the cache."""
    home = tmp_path / "hf_rnn_home"
    monkeypatch.setenv("HF_RNN_HOME", str(home))
    return home


def _save_tiny_llama(folder, tokenizer, num_layers: int):
    """A Llama of ``num_layers`` tiny layers with the built-in tokenizer, saved as a model folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=num_layers,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=True)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory, tokenizer):
    """A one-layer Llama with the built-in tokenizer, saved as a model folder."""
    return _save_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), tokenizer, 1)


@pytest.fixture(scope="session")
def three_layer_llama(tmp_path_factory, tokenizer):
    """The same with three layers, for code that keeps some of an LLM's layers."""
    return _save_tiny_llama(tmp_path_factory.mktemp("tiny-llama-3"), tokenizer, 3)
