"""The five built-in tasks load from the cache with their real sizes, labels and metrics."""

from __future__ import annotations

import numpy as np
import pytest

from hf_rnn.tasks import SPLITS, load_task
from hf_rnn.tasks.pos import UNIVERSAL_TAGS, brown_to_universal


def test_sentiment_is_pang_lee_sentences():
    task = load_task("sentiment")
    sizes = {s: len(task.dataset[s]) for s in SPLITS}
    assert sum(sizes.values()) == 10_568  # 10,605 sentences less the 37 rated exactly 0
    assert sizes["test"] == sizes["validation"] == 1057
    assert task.label_names == ["negative", "positive"]
    labels = np.asarray(task.dataset["train"]["label"])
    assert 0.45 < labels.mean() < 0.55  # close to balanced, as the source is


def test_splits_are_fixed_and_disjoint():
    a, b = load_task("sentiment"), load_task("sentiment")
    assert list(a.dataset["test"]["text"]) == list(b.dataset["test"]["text"])
    train, test = set(a.dataset["train"]["text"]), set(a.dataset["test"]["text"])
    assert len(train & test) < 5  # a handful of duplicate sentences exist in the source itself


def test_pos_is_the_full_brown_corpus_with_universal_and_raw_tags():
    task = load_task("pos")
    assert sum(len(task.dataset[s]) for s in SPLITS) == 57_340
    assert task.label_names == UNIVERSAL_TAGS
    row = task.dataset["train"][0]
    assert len(row["tokens"]) == len(row["tags"]) == len(row["raw_tags"])
    assert {"genre"} <= set(task.dataset["train"].column_names)


@pytest.mark.parametrize("tag, universal", [
    ("nn", "NOUN"), ("nn-tl", "NOUN"), ("np$", "NOUN"), ("vbd", "VERB"), ("bedz*", "VERB"),
    ("ppss+bem", "PRON"), ("md*", "VERB"), ("jj-hl", "ADJ"), ("at", "DET"), ("in", "ADP"),
    ("cd", "NUM"), ("cc", "CONJ"), ("to", "PRT"), ("rp", "PRT"), ("*", "ADV"), ("fw-nn", "X"),
    (".", "."), ("``", "."), ("uh", "X"), ("od", "ADJ"), ("wdt", "DET"), ("wps", "PRON"),
])
def test_brown_to_universal(tag, universal):
    assert brown_to_universal(tag) == universal


def test_textgen_holds_out_whole_works():
    task = load_task("textgen")
    works = {s: set(task.dataset[s]["work"]) for s in SPLITS}
    assert len(works["train"]) + len(works["validation"]) + len(works["test"]) == 42
    assert not works["train"] & works["test"]
    assert sum(len(t) for s in SPLITS for t in task.dataset[s]["text"]) > 4_500_000


def test_translation_pairs_are_capped_by_default():
    task = load_task("translation")
    long = load_task("translation", max_words=None)
    assert sum(len(long.dataset[s]) for s in SPLITS) > 31_000
    assert sum(len(task.dataset[s]) for s in SPLITS) > 20_000
    assert max(len(r.split()) for r in task.dataset["test"]["source"]) <= 30


def test_timeseries_windows_are_chronological():
    task = load_task("timeseries")
    assert task.series == "sunspots" and task.season == 11
    train, test = task.windows("train"), task.windows("test")
    assert train[-1][2] < test[0][2]  # every test target comes after every train target
    past, future, t = test[0]
    full = task.dataset["test"]["values"][0]
    assert past == full[t - 24:t] and future == [full[t]]
    co2 = load_task("timeseries", series="co2")
    assert co2.season == 52 and co2.context_length == 52
    assert not any(np.isnan(co2.dataset["test"]["values"][1]))


def test_metrics_per_task():
    expected = {"sentiment": ("accuracy", "macro_f1"), "pos": ("accuracy",), "textgen": ("bpc", "perplexity", "loss"),
                "translation": ("bleu", "chrf"), "timeseries": ("mae", "rmse", "naive_mae", "naive_rmse")}
    for name, metrics in expected.items():
        assert load_task(name).metric_names == metrics
