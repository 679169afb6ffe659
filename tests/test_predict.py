"""``Task.predict``: one inference path from raw inputs to answers, the one evaluation scores.

On tiny untrained models of every kind, the answers ``predict`` gives to the test inputs score exactly what
``Task.evaluate`` scores on the same examples (the same encoding and ``prediction_step``); a language model's
answer is the greedy continuation the app showed before; bad inputs get an error that names the problem.
"""

from __future__ import annotations

import numpy as np
import pytest

from hf_rnn.app.testing import TINY_RNN_RUNS, make_tiny_llm_run, make_tiny_run
from hf_rnn.errors import DataError, InputError
from hf_rnn.runs.run import load_run_model
from hf_rnn.tasks import load_task
from hf_rnn.tasks.generation_kinds import score_translations


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tokenizer):
    root = tmp_path_factory.mktemp("predict")
    for name in ("sentiment-bilstm-attn", "pos-bilstm", "textgen-lstm", "translation-bigru", "timeseries-lstm"):
        task, model, overrides = TINY_RNN_RUNS[name]
        make_tiny_run(root, name, task, model, overrides, tokenizer, seed=1)
    make_tiny_llm_run(root, "pos-llm", "pos", tokenizer)
    return root


def _task(name, n):
    task = load_task(name)
    return task if task.kind == "forecasting" else task.subset({"test": n})


def _evaluation_outputs(task, model, tok, batch_size):
    """What the evaluation path computes on the test split: ``encode`` (not ``encode_inputs``), the collator,
    ``prediction_step``, in batches of ``batch_size`` in order."""
    from hf_rnn.tasks import input_family

    encoding = input_family(model)
    rows = task.encode(tok, encoding, splits=("test",), for_generation=True)["test"].to_list()
    collate = task.collator(tok, encoding, for_generation=True)
    batches = [collate(rows[i:i + batch_size]) for i in range(0, len(rows), batch_size)]
    return task.collect_predictions(model, batches, tok)


def test_classification_answers_are_evaluations_scores(runs):
    task = _task("sentiment", 24)
    model, tok = load_run_model(runs / "sentiment-bilstm-attn")
    answers = task.predict(model, tok, task.example_inputs("test"), batch_size=5)
    expected = np.concatenate(_evaluation_outputs(task, model, tok, 5)["scores"])  # [N, labels], same batches
    np.testing.assert_allclose([a.scores for a in answers], expected, rtol=1e-5, atol=1e-6)
    names = task.label_names
    for a, s in zip(answers, expected):  # probabilities over the task's labels: the softmax of the scores
        assert list(a.output) == names and sum(a.output.values()) == pytest.approx(1.0, abs=1e-5)
        assert np.argmax(list(a.output.values())) == np.argmax(s)


@pytest.mark.parametrize("run", ["pos-bilstm", "pos-llm"])
def test_tagging_answers_are_evaluations_tags(runs, run):
    task = _task("pos", 16)
    model, tok = load_run_model(runs / run)
    answers = task.predict(model, tok, task.example_inputs("test"), batch_size=4)
    outputs = _evaluation_outputs(task, model, tok, 4)
    # the evaluation's tag ids at the positions it scores (each word's first sub-token), sentence by sentence
    expected = [row[gold != -100] for pred, labels in zip(outputs["predictions"], outputs["labels"])
                for row, gold in zip(pred, labels)]
    names = task.label_names
    for answer, words, tags in zip(answers, task.example_inputs("test"), expected):
        assert [w for w, _ in answer.output] == words  # every word of these short sentences is labelled
        assert [names.index(t) for _, t in answer.output] == [int(t) for t in tags]


def test_tagging_says_which_words_fit(runs):
    task = _task("pos", 4)
    model, tok = load_run_model(runs / "pos-bilstm")
    words = ["word"] * 40
    answer = task.predict(model, tok, [words], max_length=12)[0]
    assert 0 < len(answer.output) < 40
    assert f"{len(answer.output)} of 40 words" in answer.notices[0]


def test_translation_answers_score_what_evaluation_scores(runs):
    task = _task("translation", 6)
    model, tok = load_run_model(runs / "translation-bigru")
    # one sentence a batch on both sides: greedy search over the same numbers, whatever padding would change
    answers = task.predict(model, tok, task.example_inputs("test"), batch_size=1, max_new_tokens=12)
    assert all(isinstance(a.output, str) and a.token_ids is not None for a in answers)
    scored = score_translations([a.output for a in answers], list(task.dataset["test"]["target"]))
    assert scored["chrf"] == pytest.approx(task.evaluate(model, tok, batch_size=1, max_new_tokens=12)["chrf"])


def test_forecasting_answers_score_what_evaluation_scores(runs):
    task = _task("timeseries", 0)
    model, _ = load_run_model(runs / "timeseries-lstm")
    windows = task.windows("test")
    answers = task.predict(model, None, task.example_inputs("test"))
    assert len(answers) == len(windows)
    mae = np.mean([np.abs(np.asarray(a.output) - np.asarray(future)).mean() for a, (_, future, _) in
                   zip(answers, windows)])
    assert mae == pytest.approx(task.evaluate(model, None)["mae"], rel=1e-5)


def test_a_language_model_answers_with_its_greedy_continuation(runs):
    from hf_rnn.generation import generate_one

    task = load_task("textgen")
    model, tok = load_run_model(runs / "textgen-lstm")
    prompts = ["Roses are red", "Do you have a pet?"]
    answers = task.predict(model, tok, prompts, max_new_tokens=10)
    for prompt, answer in zip(prompts, answers):
        ids = tok(prompt, add_special_tokens=False)["input_ids"]
        expected = generate_one(model, tok, ids, 10, no_repeat_ngram_size=3)
        assert answer.token_ids == expected
        # as generated, leading space included: the app shows the prompt and the continuation joined
        assert answer.output == tok.decode(expected, skip_special_tokens=True)
    assert len(task.example_inputs("test")[0].split()) <= task.prompt_words
    # one prompt at a time whatever the batch size: prompts of different lengths need no padding
    assert [a.token_ids for a in task.predict(model, tok, prompts, max_new_tokens=10, batch_size=8)] == \
        [a.token_ids for a in answers]


def test_a_task_without_its_data_answers_with_the_models_labels(runs):
    from hf_rnn.tasks import TASKS

    model, tok = load_run_model(runs / "sentiment-bilstm-attn")
    model.config.id2label = {0: "boo", 1: "yay"}  # names only the model knows
    bare = TASKS["sentiment"].without_data()
    assert list(bare.predict(model, tok, ["Good, cheap food!"])[0].output) == ["boo", "yay"]
    # transformers' placeholders give way to the task's names where the task has its data
    model.config.id2label = {0: "LABEL_0", 1: "LABEL_1"}
    task = _task("sentiment", 4)
    assert list(task.predict(model, tok, ["Good, cheap food!"])[0].output) == task.label_names
    with pytest.raises(DataError, match="needs its series"):
        TASKS["timeseries"].without_data()


def test_bad_inputs_name_the_problem(runs):
    task = _task("sentiment", 4)
    model, tok = load_run_model(runs / "sentiment-bilstm-attn")
    with pytest.raises(InputError, match="list of inputs"):
        task.predict(model, tok, "Good, cheap food!")
    with pytest.raises(InputError, match="must be a text"):
        task.predict(model, tok, [3])
    assert task.predict(model, tok, []) == []
    with pytest.raises(InputError, match="no tokens to classify"):
        task.predict(model, tok, [""])
    with pytest.raises(InputError, match="forward only for classification and tagging"):
        _task("translation", 4).predict(model, tok, ["Hello"], forward=model)
    lm, lm_tok = load_run_model(runs / "textgen-lstm")  # a language model is no classifier
    with pytest.raises(InputError, match="scores per token"):
        task.predict(lm, lm_tok, ["Good, cheap food!"])
    pos = _task("pos", 4)
    tagger, tok = load_run_model(runs / "pos-bilstm")
    with pytest.raises(InputError, match="no words"):
        pos.predict(tagger, tok, [[]])
    with pytest.raises(InputError, match="empty or has spaces"):
        pos.predict(tagger, tok, [["a", "", "b"]])
    series = _task("timeseries", 0)
    forecaster, _ = load_run_model(runs / "timeseries-lstm")
    with pytest.raises(InputError, match=f"{series.context_length} finite values"):
        series.predict(forecaster, None, [[1.0, 2.0]])
    with pytest.raises(InputError, match="window of numbers"):
        series.predict(forecaster, None, [["a"] * series.context_length])


@pytest.mark.parametrize("run, task_name", [("sentiment-bilstm-attn", "sentiment"), ("pos-bilstm", "pos"),
                                            ("pos-llm", "pos"), ("textgen-lstm", "textgen"),
                                            ("translation-bigru", "translation"), ("timeseries-lstm", "timeseries")])
def test_evaluation_records_recompute_its_metrics(runs, run, task_name):
    """``evaluate(with_examples=True)``: one record per test unit, in order, from which the metric follows."""
    task = _task(task_name, 12)
    model, tok = load_run_model(runs / run)
    metrics, records = task.evaluate(model, tok, batch_size=5, with_examples=True, max_new_tokens=8)
    assert metrics == task.evaluate(model, tok, batch_size=5, max_new_tokens=8)
    assert [r["index"] for r in records] == list(range(len(records)))
    if task.kind == "sequence-classification":
        assert len(records) == 12 and sum(r["pred"] == r["gold"] for r in records) / 12 == pytest.approx(
            metrics["accuracy"])
        assert all(sum(r["probs"]) == pytest.approx(1.0, abs=1e-3) for r in records)
        assert [r["gold"] for r in records] == list(task.dataset["test"]["label"])
    elif task.kind == "token-classification":
        right = sum(p == g for r in records for p, g in zip(r["pred"], r["gold"]))
        words = sum(len(r["gold"]) for r in records)
        assert len(records) == 12 and words == metrics["num_words"] and right / words == pytest.approx(metrics["accuracy"])
        assert [len(r["gold"]) for r in records] == [len(t) for t in task.dataset["test"]["tags"]]
    elif task.kind == "causal-lm":
        bits, chars = sum(r["bits"] for r in records), sum(r["chars"] for r in records)
        assert chars == metrics["num_characters"] and bits / chars == pytest.approx(metrics["bpc"], rel=1e-4)
    elif task.kind == "translation":
        assert [r["ref"] for r in records] == list(task.dataset["test"]["target"])
        assert score_translations([r["hyp"] for r in records], [r["ref"] for r in records]) == metrics
    else:
        errors = [abs(p - t) for r in records for p, t in zip(r["pred"], r["true"])]
        assert len(records) == metrics["num_windows"] and np.mean(errors) == pytest.approx(metrics["mae"], rel=1e-5)
