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
from hf_rnn.runs import load_run_model
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


def test_classification_answers_score_what_evaluation_scores(runs):
    task = _task("sentiment", 24)
    model, tok = load_run_model(runs / "sentiment-bilstm-attn")
    answers = task.predict(model, tok, task.example_inputs("test"), batch_size=5)
    names = task.label_names
    picked = [names.index(max(a.output, key=a.output.get)) for a in answers]
    assert np.mean(np.asarray(picked) == np.asarray(task.dataset["test"]["label"])) == \
        pytest.approx(task.evaluate(model, tok)["accuracy"])
    for a in answers:  # probabilities over the task's labels: the softmax of the scores
        assert sorted(a.output) == sorted(names) and sum(a.output.values()) == pytest.approx(1.0, abs=1e-5)
        assert len(a.scores) == len(names)


@pytest.mark.parametrize("run", ["pos-bilstm", "pos-llm"])
def test_tagging_answers_score_what_evaluation_scores(runs, run):
    task = _task("pos", 16)
    model, tok = load_run_model(runs / run)
    answers = task.predict(model, tok, task.example_inputs("test"))
    names = task.label_names
    right = total = 0
    for answer, words, tags in zip(answers, task.dataset["test"]["tokens"], task.dataset["test"]["tags"]):
        assert [w for w, _ in answer.output] == list(words)  # every word of these short sentences is labelled
        right += sum(names.index(t) == g for (_, t), g in zip(answer.output, tags))
        total += len(tags)
    assert right / total == pytest.approx(task.evaluate(model, tok)["accuracy"])


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
        assert answer.output == tok.decode(expected, skip_special_tokens=True).strip()
    assert len(task.example_inputs("test")[0].split()) <= task.prompt_words


def test_a_task_without_its_data_answers_with_the_models_labels(runs):
    from hf_rnn.tasks import TASKS

    model, tok = load_run_model(runs / "sentiment-bilstm-attn")
    bare = TASKS["sentiment"].without_data()
    answer = bare.predict(model, tok, ["Good, cheap food!"])[0]
    assert sorted(answer.output) == sorted(model.config.id2label.values())
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
    pos = _task("pos", 4)
    tagger, tok = load_run_model(runs / "pos-bilstm")
    with pytest.raises(InputError, match="no words"):
        pos.predict(tagger, tok, [[]])
    series = _task("timeseries", 0)
    forecaster, _ = load_run_model(runs / "timeseries-lstm")
    with pytest.raises(InputError, match=f"{series.context_length} finite values"):
        series.predict(forecaster, None, [[1.0, 2.0]])
    with pytest.raises(InputError, match="window of numbers"):
        series.predict(forecaster, None, [["a"] * series.context_length])
