"""The lecture's analyses: vanishing gradients over time and the bidirectional effect."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from hf_rnn.analyses import (
    KERAS_LSTM_NAME,
    LECTURE_SENTENCES,
    GradientNorms,
    bidirectional_effect,
    bidirectional_table_html,
    bidirectional_table_markdown,
    gradient_norms_over_time,
    plot_bidirectional_effect,
    plot_gradient_norms,
    set_lstm_forget_bias,
    tag_words,
    train_quick_taggers,
)
from hf_rnn.models import RNNConfig, RNNForCausalLM, RNNForTokenClassification
from hf_rnn.tasks.pos import UNIVERSAL_TAGS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------------------------------------------
# Vanishing gradients
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_norms() -> GradientNorms:
    return gradient_norms_over_time(length=30, batch_size=2, seeds=(0, 1), hidden_size=16, vocab_size=64)


def test_gradient_norms_shapes(small_norms):
    names = ["SimpleRNN", "GRU", "LSTM", KERAS_LSTM_NAME, "Transformer"]
    assert list(small_norms.norms) == names
    assert small_norms.length == 30
    np.testing.assert_array_equal(small_norms.positions, np.arange(30))
    for name in names:
        assert small_norms.norms[name].shape == (30,)
        assert small_norms.runs[name].shape == (2, 30)
        assert np.all(np.isfinite(small_norms.norms[name])) and np.all(small_norms.norms[name] > 0)


def test_gradient_norms_show_the_lecture(small_norms):
    norms = small_norms.norms
    # the simple RNN's gradient vanishes: the first input gets orders of magnitude less than the last one
    assert norms["SimpleRNN"][0] < 1e-3 * norms["SimpleRNN"][-1]
    # gated cells keep more of it than the simple RNN, and a forget bias of 1 (Keras) more still
    assert norms["SimpleRNN"][0] < norms["LSTM"][0] < norms[KERAS_LSTM_NAME][0]
    assert norms["SimpleRNN"][0] < norms["GRU"][0]
    # attention reaches every position directly: no decay with distance
    transformer = norms["Transformer"][:-1]
    assert transformer.min() > 0.2 * transformer.max()
    summary = {row["model"]: row for row in small_norms.summary()}
    assert summary["SimpleRNN"]["factor_per_step_back"] < summary["LSTM"]["factor_per_step_back"] < 1.0
    assert summary["Transformer"]["factor_per_step_back"] == pytest.approx(1.0, abs=0.1)


def test_gradient_norms_are_seeded():
    a = gradient_norms_over_time(length=12, batch_size=2, seeds=(3,), hidden_size=8, vocab_size=32, keras_lstm=False)
    b = gradient_norms_over_time(length=12, batch_size=2, seeds=(3,), hidden_size=8, vocab_size=32, keras_lstm=False)
    for name in a.norms:
        np.testing.assert_array_equal(a.norms[name], b.norms[name])


def test_gradient_norms_of_given_models_and_inputs():
    torch.manual_seed(0)
    model = RNNForCausalLM(RNNConfig(vocab_size=50, embedding_size=8, hidden_size=8, cell="gru"))
    ids = torch.randint(0, 50, (3, 15))
    result = gradient_norms_over_time({"my GRU": model, "encoder": model.rnn}, ids, seeds=(0,))
    assert set(result.norms) == {"my GRU", "encoder"}
    assert result.norms["encoder"].shape == (15,)
    assert next(model.parameters()).dtype == torch.float32  # computed on a float64 copy


def test_set_lstm_forget_bias():
    model = RNNForCausalLM(RNNConfig(vocab_size=10, embedding_size=4, hidden_size=4, cell="lstm"))
    assert set_lstm_forget_bias(model, 1.0) == 1
    lstm = model.rnn.layers
    total = lstm.bias_ih_l0 + lstm.bias_hh_l0
    torch.testing.assert_close(total[4:8], torch.ones(4))


def test_plot_gradient_norms(small_norms, tmp_path):
    fig = plot_gradient_norms(small_norms, tmp_path / "gradients.png")
    assert isinstance(fig, Figure)
    assert fig.axes[0].get_yscale() == "log"
    assert (tmp_path / "gradients.png").read_bytes().startswith(PNG_MAGIC)


# --------------------------------------------------------------------------------------------------------------
# The bidirectional effect
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_taggers(tokenizer):
    taggers = {}
    for name, bidirectional in (("uni", False), ("bi", True)):
        torch.manual_seed(0)
        config = RNNConfig(vocab_size=len(tokenizer), embedding_size=8, hidden_size=8, bidirectional=bidirectional,
                           num_labels=len(UNIVERSAL_TAGS))
        taggers[name] = (RNNForTokenClassification(config), tokenizer)
    return taggers


def test_bidirectional_effect_one_tag_per_word_per_model(tiny_taggers):
    table = bidirectional_effect(tiny_taggers)
    words = [w for s in LECTURE_SENTENCES for w in s.split()]
    assert [row["word"] for row in table] == words
    for row in table:
        assert set(row["tags"]) == {"uni", "bi"}
        assert all(tag in UNIVERSAL_TAGS for tag in row["tags"].values())
        assert all(0.0 < p <= 1.0 for p in row["probabilities"].values())
    assert {row["sentence"] for row in table} == set(LECTURE_SENTENCES)


def test_only_the_bidirectional_tagger_sees_the_next_word(tiny_taggers):
    """The lecture's point: "orange" in "Pass me the orange" and "... orange marker" is read identically by a
    unidirectional tagger (it has not seen "marker" yet); a bidirectional one reads it differently."""
    short, longer = "Pass me the orange".split(), "Pass me the orange marker".split()
    uni, tokenizer = tiny_taggers["uni"]
    bi, _ = tiny_taggers["bi"]
    uni_short, uni_long = tag_words(uni, tokenizer, short), tag_words(uni, tokenizer, longer)[:4]
    assert [t for t, _ in uni_short] == [t for t, _ in uni_long]
    np.testing.assert_allclose([p for _, p in uni_short], [p for _, p in uni_long], rtol=1e-5)
    bi_short, bi_long = tag_words(bi, tokenizer, short), tag_words(bi, tokenizer, longer)[:4]
    assert not np.allclose([p for _, p in bi_short], [p for _, p in bi_long], rtol=1e-5)


def test_bidirectional_renderers(tiny_taggers, tmp_path):
    table = bidirectional_effect(tiny_taggers, sentences=("Pass me the orange marker",), label_names=UNIVERSAL_TAGS)
    markdown = bidirectional_table_markdown(table)
    assert "| tagger | Pass | me | the | orange | marker |" in markdown
    assert "| uni |" in markdown and "| bi |" in markdown
    page = bidirectional_table_html(table)
    assert page.count("<table") == 1 and "<th>orange</th>" in page
    fig = plot_bidirectional_effect(table, tmp_path / "bidirectional.png")
    assert isinstance(fig, Figure)
    assert (tmp_path / "bidirectional.png").read_bytes().startswith(PNG_MAGIC)


def test_train_quick_taggers_runs_briefly(tokenizer):
    threads = torch.get_num_threads()
    taggers = train_quick_taggers(steps=3, tokenizer=tokenizer, hidden_size=8, embedding_size=8, batch_size=4,
                                  max_train_sentences=40, max_validation_sentences=10, names=("uni", "bi"))
    assert list(taggers) == ["uni", "bi"]
    uni, bi = taggers["uni"][0], taggers["bi"][0]
    assert not uni.config.bidirectional and bi.config.bidirectional
    assert uni.quick_training["steps"] == 3 and 0.0 <= uni.quick_training["validation_accuracy"] <= 1.0
    assert uni.config.id2label[6] == "NOUN"
    table = bidirectional_effect(taggers, sentences=("Rest before your next class",))
    assert len(table) == 5
    assert torch.get_num_threads() == threads  # the training thread setting is restored


def test_quick_taggers_train_through_the_one_loop(tokenizer, monkeypatch, tmp_path):
    """No second training loop: each tagger is one ``hf_rnn.training.loop.train`` call, whose run folder holds the
    model the function returns."""
    from hf_rnn.runs.run import load_run_model, read_run
    from hf_rnn.training import loop as training

    calls = []
    real_train = training.train

    def spy(model, task, config, *args, **kwargs):
        calls.append((type(model).__name__, model.config.bidirectional, dict(config)))
        return real_train(model, task, config, *args, **kwargs)

    monkeypatch.setattr(training, "train", spy)
    taggers = train_quick_taggers(steps=2, tokenizer=tokenizer, hidden_size=8, embedding_size=8, batch_size=4,
                                  max_train_sentences=24, max_validation_sentences=6, names=("uni", "bi"),
                                  output_dir=tmp_path / "taggers", max_seconds=None, seed=5)
    assert [c[:2] for c in calls] == [("RNNForTokenClassification", False), ("RNNForTokenClassification", True)]
    assert all(c[2]["max_steps"] == 2 and c[2]["seed"] == 5 and c[2]["lr_scheduler"] == "constant" for c in calls)
    for name, folder in (("uni", "unidirectional"), ("bi", "bidirectional")):
        model, _ = taggers[name]
        run = read_run(tmp_path / "taggers" / folder)
        info = model.quick_training
        assert info["run_dir"] == str(tmp_path / "taggers" / folder) and info["steps"] == run.metrics.training.steps == 2
        assert info["train_sentences"] == 24 and info["validation_sentences"] == 6
        assert info["validation_accuracy"] == pytest.approx(run.metrics.best.value, abs=1e-4)  # rounded to 4 places
        saved, _ = load_run_model(run)
        for (key, mine), theirs in zip(model.state_dict().items(), saved.state_dict().values()):
            torch.testing.assert_close(mine, theirs, msg=key)  # the returned model is the one trained and saved
    # the temporary run folders of the default are removed, the models stay usable
    taggers = train_quick_taggers(steps=1, tokenizer=tokenizer, hidden_size=8, embedding_size=8, batch_size=4,
                                  max_train_sentences=8, max_validation_sentences=4, names=("uni", "bi"))
    assert taggers["uni"][0].quick_training["run_dir"] is None and len(calls) == 4
    assert len(bidirectional_effect(taggers, sentences=("Pass me the orange",))) == 4
