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
