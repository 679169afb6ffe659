"""What the app hands a task's kind to answer one input: :class:`AppRequest`, the loaded model, the
:class:`~hf_rnn.app.results.Prediction` to fill and the page's tools (the input cut to what the model takes, with a
notice; the model family's forward pass that keeps the attention maps).

How each kind answers (a label's probabilities, a tag per word, a continuation, a translation, a forecast, or a
new kind's own) is the kind's ``Task.app_answer`` (``hf_rnn.tasks``), which answers through ``Task.predict``, the
path evaluation and the comparison's latencies take. The caller holds the model's lock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hf_rnn.app.cache import LoadedModel
from hf_rnn.app.maps import self_attention
from hf_rnn.app.results import AppError, Prediction

# ------------------------------------------------------------------ limits


def limit(lm: LoadedModel, max_tokens: int, overhead: int = 0, reserve: int = 0) -> tuple[int, str]:
    """How many input tokens fit, and why: the app's limit, or the model's context."""
    if lm.context is not None and lm.context - overhead - reserve < max_tokens:
        room = lm.context - overhead - reserve
        if room < 1:
            raise AppError(f"{lm.name}'s context of {lm.context} tokens has no room for the input "
                           f"(the prompt takes {overhead} and the answer {reserve})")
        return room, f"{lm.name}'s context is {lm.context} tokens" + \
            (f", of which the prompt takes {overhead} and the answer {reserve}" if overhead or reserve else "")
    return max_tokens, f"the app reads at most {max_tokens} tokens, to answer quickly"


def cut_text(tokenizer, text: str, limit: int, reason: str, pred: Prediction) -> str:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) <= limit:
        return text
    pred.notices.append(f"The input has {len(ids):,} tokens; the first {limit} were used ({reason}).")
    return tokenizer.decode(ids[:limit], skip_special_tokens=True)


def cut_ids(ids: list[int], limit: int, reason: str, pred: Prediction, what: str = "input") -> list[int]:
    if len(ids) <= limit:
        return ids
    pred.notices.append(f"The {what} has {len(ids):,} tokens; the first {limit} were used ({reason}).")
    return ids[:limit]


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many tokens ``a`` and ``b`` share from the start (where the input begins in a prompt)."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


# ------------------------------------------------------------------ the zero-shot classifier


def zero_shot_classifier(lm: LoadedModel, task):
    """The zero-shot classifier with the prompt ``hf_rnn.families.llm.llm_zero_shot.zero_shot`` scores the task with."""
    from hf_rnn.families.llm import llm_zero_shot

    options = {}
    default_prompt = getattr(llm_zero_shot, "default_prompt", None)
    if default_prompt is not None:
        instruction, answer_prefix = default_prompt(task)
        options = {"instruction": instruction, "answer_prefix": answer_prefix}
    return llm_zero_shot.ZeroShotClassifier(lm.model, lm.tokenizer, task.label_names, **options)


# ------------------------------------------------------------------ the request a kind answers


@dataclass
class AppRequest:
    """One model's answer to one input, as the kind's ``Task.app_answer`` fills it.

    Attributes:
        lm: the loaded model (its ``kind``: "direct", "head" or "causal"; its ``family``, ``context``, ``name``).
        pred: the side of the comparison to fill: ``output``, ``maps`` or ``attention_note``, ``notices``.
        max_tokens: the input tokens the app reads at most.
        max_new_tokens: the tokens a generating kind writes at most.
        kind: the task's kind (what the family's forward pass and notes are told).
        prompt_classifier: the untrained LLM's classifier for this task (the zero-shot choice), or a
            prompt-trained run's, which asks the same question of ``lm.model``; ``None`` for any other model.
            Called only by a kind that asks a question of an LLM (made once per loaded model).
    """

    lm: LoadedModel
    pred: Prediction
    max_tokens: int
    max_new_tokens: int
    kind: str
    prompt_classifier: Callable[[], Any] = lambda: None

    def limit(self, overhead: int = 0, reserve: int = 0) -> tuple[int, str]:
        """``(tokens of the input that fit, why)``: the app's limit or the model's context, less a prompt's
        ``overhead`` and the answer's ``reserve``."""
        return limit(self.lm, self.max_tokens, overhead, reserve)

    def cut_ids(self, ids: list[int], room: int, reason: str, what: str = "input") -> list[int]:
        """The first ``room`` of ``ids``, with a notice when that cuts them."""
        return cut_ids(ids, room, reason, self.pred, what)

    def cut_text(self, text: str, room: int, reason: str) -> str:
        """``text`` cut to its first ``room`` tokens, with a notice when that cuts it."""
        return cut_text(self.lm.tokenizer, text, room, reason, self.pred)

    @staticmethod
    def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
        return common_prefix(a, b)

    def forward(self, ids: list[int], text: str, **options):
        """The model family's forward pass over ``ids`` with attention (``ModelFamily.forward_with_maps``): fills the
        maps (or the note saying why there are none) and returns the model's output."""
        out, self.pred.maps, self.pred.attention_note = self.lm.family.forward_with_maps(self.lm, ids, text, self.kind,
                                                                                   **options)
        return out

    def keeping_maps(self, text: str) -> Callable[..., Any]:
        """A ``forward`` for ``Task.predict`` that is the family's pass with attention over the input's ids (the
        pass that gives the answer fills the maps)."""
        def forward(input_ids, **_):
            return self.forward(input_ids[0].tolist(), text)

        return forward

    def self_attention(self, ids: list[int], text: str, **options):
        """A transformers model's forward pass over ``ids`` with its attention weights: ``(output, maps)``."""
        return self_attention(self.lm, ids, text, **options)

    def no_maps(self) -> None:
        """Say why there are no maps (the family's note)."""
        self.pred.attention_note = self.lm.family.no_maps_note(self.lm, self.kind)


__all__ = ["AppRequest", "common_prefix", "cut_ids", "cut_text", "limit", "zero_shot_classifier"]
