"""How each family sees each task: one label alignment, same ids for both where fair."""

from __future__ import annotations

import numpy as np
import pytest

from hf_rnn.tasks import load_task
from hf_rnn.tokenization import IGNORE_INDEX, encode_words, train_word_tokenizer


def test_first_subtoken_carries_the_word_label(tokenizer):
    words = ["Pass", "me", "the", "unbelievably", "orange", "marker"]
    enc = encode_words(tokenizer, words, list(range(6)))
    assert len(enc["input_ids"]) > len(words)  # "unbelievably" splits into several sub-tokens
    labelled = [lab for lab in enc["labels"] if lab != IGNORE_INDEX]
    assert labelled == list(range(6))
    for i, wid in enumerate(enc["word_ids"]):
        piece = tokenizer.decode([enc["input_ids"][i]]).strip()
        assert piece and piece in words[wid]


def test_word_level_tokenizer_aligns_the_same_way():
    tok = train_word_tokenizer(["I like red apples .", "Pass me the orange marker"], min_frequency=1)
    enc = encode_words(tok, ["I", "like", "green", "apples"], [1, 2, 3, 4])
    assert enc["labels"] == [1, 2, 3, 4]
    assert enc["input_ids"][2] == tok.unk_token_id


@pytest.mark.parametrize("name", ["sentiment", "pos"])
def test_classification_inputs_identical_for_both_families(tokenizer, name):
    task = load_task(name).subset({"train": 16})
    rnn = task.encode(tokenizer, "rnn", splits=("train",))["train"]
    llm = task.encode(tokenizer, "llm", splits=("train",))["train"]
    assert rnn["input_ids"] == llm["input_ids"] and rnn["labels"] == llm["labels"]


def test_translation_rnn_pairs_and_llm_prompts(tokenizer):
    task = load_task("translation").subset({"train": 4, "test": 4})
    rnn = task.encode(tokenizer, "rnn", splits=("train",))["train"][0]
    assert rnn["input_ids"][-1] == tokenizer.eos_token_id and rnn["labels"][-1] == tokenizer.eos_token_id
    assert tokenizer.decode(rnn["labels"][:-1]) == task.dataset["train"][0]["target"]
    llm = task.encode(tokenizer, "llm", splits=("train",))["train"][0]
    n_prompt = sum(1 for x in llm["labels"] if x == IGNORE_INDEX)
    assert "Translate English to Spanish" in tokenizer.decode(llm["input_ids"][:n_prompt])
    assert tokenizer.decode(llm["labels"][n_prompt:-1]) == task.dataset["train"][0]["target"]
    gen = task.encode(tokenizer, "llm", splits=("test",), for_generation=True)["test"][0]
    assert "labels" not in gen and gen["input_ids"][-3:] != [tokenizer.eos_token_id] * 3
    batch = task.collator(tokenizer, "llm", for_generation=True)(
        [task.encode(tokenizer, "llm", splits=("test",), for_generation=True)["test"][i] for i in range(4)])
    assert (batch["attention_mask"][:, -1] == 1).all()  # left padded for generation


def test_language_model_blocks(tokenizer):
    task = load_task("textgen").subset({"train": 200})
    enc = task.encode(tokenizer, "rnn", splits=("train",), max_length=64)["train"]
    assert all(len(ids) == 64 for ids in enc["input_ids"])
    assert enc["input_ids"][0] == enc["labels"][0]


def test_forecasting_windows_and_digit_prompts(tokenizer):
    task = load_task("timeseries")
    rnn = task.encode(tokenizer, "rnn", splits=("test",))["test"]
    assert np.asarray(rnn["past_values"]).shape == (31, 24)
    llm = task.encode(tokenizer, "llm", splits=("test",))["test"][0]
    target = [t for t in llm["labels"] if t != IGNORE_INDEX]
    assert tokenizer.decode(target[:-1]).strip() == f"{task.windows('test')[0][1][0]:.1f}"


def test_metrics_from_known_predictions(tokenizer):
    sent = load_task("sentiment")
    m = sent.compute_metrics({"predictions": [np.array([1, 0, 1, 1])], "labels": [np.array([1, 0, 0, 1])]})
    assert m["accuracy"] == 0.75 and abs(m["macro_f1"] - (2 / 3 + 0.8) / 2) < 1e-9
    ts = load_task("timeseries")
    wins = ts.windows("test")
    perfect = {"prediction": [np.array([[w[1][0]] for w in wins])], "example_index": [np.arange(len(wins))]}
    out = ts.compute_metrics(perfect)
    assert out["mae"] == 0 and out["naive_mae"] > 5
    mt = load_task("translation").subset({"test": 3})
    refs = mt.dataset["test"]["target"]
    ids = [tokenizer(r, add_special_tokens=False)["input_ids"] for r in refs]
    width = max(map(len, ids))
    padded = np.array([i + [tokenizer.pad_token_id] * (width - len(i)) for i in ids])
    scores = mt.compute_metrics({"generated": [padded], "example_index": [np.arange(3)]}, tokenizer=tokenizer)
    assert scores["bleu"] > 99 and scores["chrf"] > 99


def test_repeated_input_tags_only_the_second_copy(tokenizer):
    """The decoder-only counterpart of a BiLSTM: each tagged token has the whole sentence to its left."""
    words = ["Pass", "me", "the", "unbelievably", "orange", "marker"]
    once = encode_words(tokenizer, words, list(range(6)))
    twice = encode_words(tokenizer, words, list(range(6)), repeat=True)
    n = len(once["input_ids"])
    assert twice["input_ids"] == once["input_ids"] * 2 and twice["attention_mask"] == [1] * 2 * n
    assert twice["labels"] == [IGNORE_INDEX] * n + once["labels"]
    assert twice["word_ids"] == [-1] * n + once["word_ids"]
    capped = encode_words(tokenizer, words, list(range(6)), max_length=6, repeat=True)
    assert len(capped["input_ids"]) == 6 and capped["labels"][:3] == [IGNORE_INDEX] * 3


def test_repeat_input_is_a_tagging_option_that_reaches_the_encoding(tokenizer):
    plain = load_task("pos").subset({"train": 4, "validation": 2, "test": 2})
    twice = load_task("pos", repeat_input=True).subset({"train": 4, "validation": 2, "test": 2})
    a, b = plain.encode(tokenizer, "llm")["train"][0], twice.encode(tokenizer, "llm")["train"][0]
    assert b["input_ids"] == a["input_ids"] * 2
    assert [x for x in b["labels"] if x != IGNORE_INDEX] == [x for x in a["labels"] if x != IGNORE_INDEX]
    with pytest.raises(Exception, match="repeat_input"):
        load_task("sentiment", repeat_input=True)


def test_the_old_family_keyword_is_gone(tokenizer):
    # ``family=`` was the old name of ``encoding=`` (a FutureWarning shim, removed 2026-12): plain Python refuses it now
    task = load_task("sentiment").subset({"train": 4})
    for call in (lambda: task.encode(tokenizer, family="llm", splits=("train",)),
                 lambda: task.collator(tokenizer, family="rnn"),
                 lambda: task.encode_inputs(tokenizer, ["fine"], family="rnn")):
        with pytest.raises(TypeError, match="unexpected keyword argument 'family'"):
            call()
    assert task.encode(tokenizer, encoding="llm", splits=("train",))["train"]["input_ids"]
