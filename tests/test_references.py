"""Reference rows and the tokenizer-free metric: what each family must beat, on the models' own scale."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

from hf_rnn.comparison.references import CharNGram, apertium_translate, most_frequent_tag, references
from hf_rnn.tasks import load_task
from hf_rnn.tasks.kinds import token_char_lengths
from hf_rnn.tokenization import train_char_tokenizer


def test_char_ngram_is_a_distribution_and_learns_the_pattern():
    model = CharNGram("abcabcabcabd\n" * 20, order=3)
    total = sum(model.prob("ab", c) for c in model.vocab)
    assert 0.95 < total <= 1.0 + 1e-9  # the rest is the unseen character's share
    assert model.prob("ab", "c") > 0.6 > model.prob("ab", "d") > model.prob("ab", "a")
    assert model.continue_text("ab", 4) == "cabc"
    bits = model.bits("abcabc")
    assert bits == pytest.approx(-sum(math.log2(model.prob("abcabc"[max(0, i - 2):i], c))
                                      for i, c in enumerate("abcabc")))


def test_bits_per_character_count_the_characters_the_tokens_spell(tokenizer):
    """The LLM's 49k-token vocabulary and a character vocabulary measure the same text in characters."""
    task = load_task("textgen").subset({"train": 50, "validation": 5, "test": 20})
    chars = train_char_tokenizer(task.dataset["train"]["text"])
    for tok in (tokenizer, chars):
        lengths = token_char_lengths(tok)
        assert lengths[tok.eos_token_id] == 1
        blocks = task.encode(tok, "rnn", splits=("test",), max_length=64)["test"]
        for row in blocks.select(range(3)):
            predicted = row["input_ids"][1:]
            text = "".join(tok.decode([i]) if i != tok.eos_token_id else "\n" for i in predicted)
            assert row["n_chars"] == len(text)
    assert set(token_char_lengths(chars)[4:]) == {1}  # past the four special tokens, one character each


def test_textgen_metrics_give_bpc_from_summed_loss():
    task = load_task("textgen").subset({"train": 10, "validation": 5, "test": 5})
    out = task.compute_metrics({"loss_sum": [np.asarray([math.log(2) * 30.0])], "n_tokens": [np.asarray([10])],
                                "n_chars": [np.asarray([15])]})
    assert out["bpc"] == pytest.approx(2.0) and out["num_characters"] == 15
    assert out["perplexity"] == pytest.approx(math.exp(3 * math.log(2)))


def test_each_task_kind_has_its_reference_scored_like_a_model():
    pos = load_task("pos").subset({"train": 2000, "validation": 10, "test": 200})
    ref = most_frequent_tag(pos)
    assert 0.8 < ref.metrics["accuracy"] < 1.0 and ref.answer("the the").split() == ["the/DET", "the/DET"]
    names = {name: [r.name for r in references(load_task(name).subset({"train": 300, "validation": 5,
                                                                        "test": 30}))]
             for name in ("sentiment", "timeseries", "textgen")}
    assert names == {"sentiment": ["majority class"], "timeseries": ["seasonal-naive"], "textgen": ["char 5-gram"]}
    series = load_task("timeseries")
    seasonal = references(series)[0]
    assert seasonal.metrics["mae"] == pytest.approx(seasonal.metrics["naive_mae"])  # the task's own baseline


def test_apertium_translates_the_lecture_sentences_line_by_line():
    assert shutil.which("apertium"), "make setup installs Debian's apertium and apertium-en-es"
    out = apertium_translate(["Do you have a pet?", "I like red apples", "two\nlines"])
    assert out is not None and len(out) == 3
    assert "mascota" in out[0] and "manzanas" in out[1]
    assert apertium_translate(["x"], pair="xx-yy") is None  # a pair that is not installed: no row, no crash
