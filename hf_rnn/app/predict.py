"""One loaded model's answer to one input, by kind of task: a label's probabilities, a tag per word, a
continuation, a translation or a forecast, each with its attention maps or a note saying why there are none.

The answer itself comes from ``Task.predict`` (the path evaluation and the comparison's latencies take); this
module adds what the page needs around it: the input cut to what the model takes, with a notice, and the maps
of a forward pass with attention over the same ids.

Each function fills a :class:`~hf_rnn.app.results.Prediction` (output, maps, notices) and raises
:class:`~hf_rnn.app.results.AppError` for what the person can fix. The caller holds the model's lock. Inputs are
cut to what the model takes (``max_tokens``, or less where its context is smaller), with a notice.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import InputError
from ..tasks import PROMPTED, input_family
from .cache import LoadedModel
from .maps import self_attention
from .results import AppError, Prediction
from .text import split_words

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


# ------------------------------------------------------------------ sentiment


def zero_shot_classifier(lm: LoadedModel, task):
    """The zero-shot classifier with the prompt ``hf_rnn.families.llm.llm_zero_shot.zero_shot`` scores the task with."""
    from ..families.llm import llm_zero_shot

    options = {}
    default_prompt = getattr(llm_zero_shot, "default_prompt", None)
    if default_prompt is not None:
        instruction, answer_prefix = default_prompt(task)
        options = {"instruction": instruction, "answer_prefix": answer_prefix}
    return llm_zero_shot.ZeroShotClassifier(lm.model, lm.tokenizer, task.label_names, **options)


def classify(lm: LoadedModel, task, text: str, pred: Prediction, max_tokens: int, zero_shot=None) -> None:
    """Label probabilities (``task.predict``) of a classifier run, or of the zero-shot LLM with ``zero_shot``
    (its :func:`zero_shot_classifier`, or a prompt-trained run's ``PromptClassifier``, which asks the same
    question of ``lm.model``); the answer's forward pass keeps the attention maps too."""
    from types import SimpleNamespace

    import torch

    tok = lm.tokenizer
    if zero_shot is not None:
        template = zero_shot.prompt_ids("")
        room, reason = limit(lm, max_tokens, overhead=len(template), reserve=1)
        text = cut_text(tok, text, room, reason, pred)

        def with_maps(input_ids, attention_mask=None, **_):  # the prompt read once: the answer and the maps
            ids = zero_shot.prompt_ids(zero_shot.texts_from_ids(input_ids, attention_mask)[0])
            start = common_prefix(template, ids)
            # the question's head is the same for every text (its last token may merge with the text's first)
            out, pred.maps = self_attention(lm, ids, text, input_start=start, head_ids=ids[: max(start - 1, 0)],
                                            logits_to_keep=1)
            return SimpleNamespace(logits=zero_shot.label_scores(out.logits[:, -1]))

        answer = task.predict(zero_shot, tok, [text], max_length=room, forward=with_maps)[0]
        pred.output = answer.output
        how = "prompt-trained" if getattr(zero_shot, "answers_with_label_words", False) else "zero-shot"
        pred.notices.append(f"{how}: {_mass(torch.tensor(answer.scores))} of the next-token probability is "
                            "on the label words")
        return
    room, reason = limit(lm, max_tokens)
    if not cut_ids(list(tok(text)["input_ids"]), room, reason, pred):
        raise AppError("the input has no tokens for this model")
    pred.output = task.predict(lm.model, tok, [text], max_length=room, forward=_keeping_maps(lm, task, text, pred))[
        0].output


def _keeping_maps(lm: LoadedModel, task, text: str, pred: Prediction):
    """A forward pass for ``task.predict`` that is the family's pass with attention: it fills ``pred``'s maps
    (or the note saying why there are none) from the pass that gives the answer."""

    def forward(input_ids, **_):
        out, pred.maps, pred.attention_note = lm.family.forward_with_maps(lm, input_ids[0].tolist(), text, task.kind)
        return out

    return forward


def _mass(scores) -> str:
    share = float(scores.exp().sum())
    return f"{100 * share:.0f}%" if share >= 0.01 else "under 1%"


# ------------------------------------------------------------------ word labels


def tag(lm: LoadedModel, task, text: str, pred: Prediction, max_tokens: int) -> None:
    """A tag per word (``[(word, tag), ...]``, ``task.predict``: each word's first token), the words that fit."""
    if lm.kind == "causal":
        raise AppError("a causal LM cannot label words here; pick a tagging run")
    words = split_words(text)
    room, reason = limit(lm, max_tokens)
    answer = task.predict(lm.model, lm.tokenizer, [words], max_length=room,
                          forward=_keeping_maps(lm, task, " ".join(words), pred))[0]
    kept = [w for w, _ in answer.output]
    if len(kept) < len(words):
        def tokens(limit):
            return len(task.encode_inputs(lm.tokenizer, [words], input_family(lm.model), max_length=limit)[0][
                "input_ids"])

        twice = " (the sentence read twice, as in training)" if task.options.get("repeat_input") else ""
        pred.notices.append(f"The input takes {tokens(10**9):,} tokens{twice}; {tokens(room):,} were used "
                            f"({reason}): {len(kept)} of {len(words)} words are labelled.")
        if pred.maps is not None:
            pred.maps.text = " ".join(kept)
    pred.output = answer.output


# ------------------------------------------------------------------ text generation


def continue_text(lm: LoadedModel, task, text: str, n_new: int, pred: Prediction, max_tokens: int) -> None:
    """The text's greedy continuation (``n_new`` tokens at most; ``task.predict``)."""
    if lm.kind == "head":
        raise AppError("this run has a classification head, not a language-model head")
    tok = lm.tokenizer
    room, reason = limit(lm, max_tokens, reserve=n_new)
    ids = cut_ids(list(tok(text, add_special_tokens=False)["input_ids"]), room, reason, pred)
    if not ids:
        raise AppError("the input has no tokens for this model")
    answer = task.predict(lm.model, tok, [text], max_length=room, max_new_tokens=n_new)[0]
    pred.output = answer.output
    _, pred.maps, pred.attention_note = lm.family.forward_with_maps(lm, ids + answer.token_ids, text, task.kind,
                                                              prompt_length=len(ids))


# ------------------------------------------------------------------ translation


def translate(lm: LoadedModel, task, text: str, n_new: int, pred: Prediction, max_tokens: int) -> None:
    """The translation (``task.predict``): an encoder-decoder (an RNN) with its alignment, or an LLM prompted as
    the task prompts it in training."""
    tok = lm.tokenizer
    n_new = max(n_new, 16)
    if lm.kind == "direct":  # an encoder-decoder: the source in, the target out
        room, reason = limit(lm, max_tokens, reserve=1)
        whole = list(tok(text, add_special_tokens=False)["input_ids"])
        src = cut_ids(whole, room, reason, pred)
        if not src:
            raise AppError("the input has no tokens for this model")
        # the source and its eos: room + 1 tokens
        translation = task.predict(lm.model, tok, [text], max_length=room + 1, max_new_tokens=n_new)[0].output
        pred.output = translation
        source_text = tok.decode(src) if len(src) < len(whole) else text
        try:  # the decoder-over-encoder alignment, where the model has attention
            pred.maps = lm.family.attention_maps(lm.model, tok, source_text, target_text=translation)
            pred.maps.model_name = lm.name
        except InputError:  # it has none: say why
            pred.attention_note = lm.family.no_maps_note(lm, task.kind)
        return
    if lm.kind == "head":
        raise AppError("this run has a classification head, not a language-model head")
    template = task.prompt_ids(tok, task.prompt(""))
    room, reason = limit(lm, max_tokens, overhead=len(template), reserve=n_new)
    text = cut_text(tok, text, room, reason, pred)  # so the whole prompt fits: predict keeps it whole
    answer = task.predict(lm.model, tok, [text], max_new_tokens=n_new)[0]
    pred.output = answer.output
    ids = task.encode_inputs(tok, [text], PROMPTED)[0]["input_ids"]
    _, pred.maps, pred.attention_note = lm.family.forward_with_maps(lm, ids + answer.token_ids, text, task.kind,
                                                              prompt_length=len(ids),
                                                              input_start=common_prefix(template, ids))


# ------------------------------------------------------------------ time series


def forecast(lm: LoadedModel, task, past: list[float], pred: Prediction) -> None:
    """The forecast of the ``task.horizon`` values after ``past`` (the window the model reads; ``task.predict``)."""
    if lm.kind == "direct":  # a window of values in, values out
        pred.output = task.predict(lm.model, lm.tokenizer, [past])[0].output
        pred.attention_note = lm.family.no_maps_note(lm, task.kind)
    elif lm.kind == "causal":
        tok = lm.tokenizer
        ids = task.encode_inputs(tok, [past], PROMPTED)[0]["input_ids"]
        n_new = task.max_new_tokens
        if lm.context is not None and len(ids) + n_new > lm.context:
            raise AppError(f"the window's prompt ({len(ids)} tokens) does not fit {lm.name}'s context "
                           f"of {lm.context} tokens")
        answer = task.predict(lm.model, tok, [past])[0]
        pred.output = answer.output
        pred.notices.extend(answer.notices)
        template = task.prompt_ids(tok, task.prompt_head())
        _, pred.maps, pred.attention_note = lm.family.forward_with_maps(lm, ids + answer.token_ids, task.prompt(past),
                                                                  task.kind, prompt_length=len(ids),
                                                                  input_start=common_prefix(template, ids))
    else:
        raise AppError("this run has a classification head, not a forecaster")


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many tokens ``a`` and ``b`` share from the start (where the input begins in a prompt)."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


__all__ = ["classify", "continue_text", "forecast", "limit", "tag", "translate", "zero_shot_classifier"]
