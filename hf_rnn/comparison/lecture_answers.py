"""Each model's answer to the lecture's examples, for a comparison's report: ``Task.predict`` on the raw input.

The answer is the one the app gives (it answers through ``Task.predict`` too) and the one the comparison's
latencies time, read from the models the report compares: a trained row's run folder, the zero-shot LLM.
Nothing here imports the app (``hf_rnn.app``): the report depends on tasks and families only.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hf_rnn.comparison.schema import REFERENCE, TRAINED, ModelResult
from hf_rnn.errors import HfRnnError

FIRST_WINDOW = "first test window"  # a forecaster's lecture example: the test split's first window


def zero_shot_model(task):
    """The untrained instruct LLM as it answers ``task`` from a prompt: ``(model, answering, tokenizer)``, where
    ``answering`` is what ``task.predict`` takes (a classification task asks the question ``zero_shot`` scores
    with; the others prompt the causal LM itself)."""
    from hf_rnn.families.llm.llm import load_llm
    from hf_rnn.families.llm.llm_zero_shot import ZeroShotClassifier, default_prompt

    model, tokenizer = load_llm(None, task="causal-lm")
    model.eval()
    answering = model
    if task.app_output == "label":  # a classifier: asked with the question it is scored with
        instruction, answer_prefix = default_prompt(task)
        answering = ZeroShotClassifier(model, tokenizer, task.label_names, instruction, answer_prefix)
    return model, answering, tokenizer


def lecture_outputs(task_name: str, rows: list[ModelResult], out: Path, progress: bool = False,
                    max_new_tokens: int = 24, answers: dict | None = None,
                    task=None) -> dict[str, dict[str, str]]:
    """Each model's answer to the task's lecture examples (``{example: {model: answer}}``).

    Time series: the first test window's forecast against the truth. ``answers``: how each reference row answers
    (``{name: example -> text}``); a rule or a program, no model. ``task``: the compared task (its options: the
    series a forecaster reads); default, the task as the first trained row's run loaded it.
    """
    from hf_rnn.tasks import TASKS

    forecasting = TASKS[task_name].app_input == "window"  # the first test window, not a text
    examples = (FIRST_WINDOW,) if forecasting else TASKS[task_name].lecture_examples
    if not examples:
        return {}
    if progress:
        print(f"[compare] the lecture's examples: {', '.join(examples)}", file=sys.stderr, flush=True)
    task = task if task is not None else _task_of(task_name, rows)
    inputs = {FIRST_WINDOW: task.windows("test")[0]} if forecasting else {}
    table: dict[str, dict[str, str]] = {example: {} for example in examples}
    for row in rows:
        if row.role == REFERENCE:
            if answers and row.name in answers:
                for example in examples:
                    table[example][row.name] = answers[row.name](example)
            continue
        try:
            answering, tokenizer = _model_of(row, task)
        except HfRnnError as e:
            for example in examples:
                table[example][row.name] = _first_line(e)
            continue
        for example in examples:
            if forecasting:
                past, truth, _ = inputs[example]
                raw = past
            else:
                raw, truth = example, None
            try:
                answer = task.predict(answering, tokenizer, [raw], **_generation(task, max_new_tokens))
                text = task.answer_line(answer[0].output)
            except HfRnnError as e:
                table[example][row.name] = _first_line(e)
                continue
            except Exception as e:  # noqa: BLE001 - a model that fails on one example: its cell says so
                table[example][row.name] = f"{row.name} failed: {_first_line(e)}"
                continue
            if truth is not None:
                text += f" (truth {', '.join(f'{v:.1f}' for v in truth)})"
            table[example][row.name] = text
    return table


def _task_of(task_name: str, rows: list[ModelResult]):
    """The task as the first trained row's run loaded it (its data source and options), else the built-in one."""
    from hf_rnn.runs.run import read_run
    from hf_rnn.tasks import load_task

    trained = [r for r in rows if r.role == TRAINED]
    if not trained:
        return load_task(task_name)
    meta = read_run(trained[0].run_dir).metrics.task
    return load_task(task_name, None if meta.source in (None, "builtin") else meta.source, **meta.options)


def _model_of(row: ModelResult, task) -> tuple[Any, Any]:
    """What answers for ``row`` and its tokenizer: a trained row's run, or the zero-shot LLM."""
    if row.role == TRAINED:
        from hf_rnn.runs.run import load_run_model, read_run

        return load_run_model(read_run(row.run_dir))
    _, answering, tokenizer = zero_shot_model(task)
    return answering, tokenizer


def _generation(task, max_new_tokens: int) -> dict[str, int]:
    """``predict``'s generation settings: the tokens a continuation may take, at least 16 for a translation (a
    sentence), as in the app; a forecaster generates its horizon (the task's own setting)."""
    if task.app_new_tokens or task.answer_min_new_tokens is not None:
        return {"max_new_tokens": max(max_new_tokens, task.answer_min_new_tokens or 0)}
    return {}


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


__all__ = ["FIRST_WINDOW", "lecture_outputs", "zero_shot_model"]
