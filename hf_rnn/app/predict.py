"""One loaded model's answer to one input, by kind of task: a label's probabilities, a tag per word, a
continuation, a translation or a forecast, each with its attention maps or a note saying why there are none.

Each function fills a :class:`~hf_rnn.app.results.Prediction` (output, maps, notices) and raises
:class:`~hf_rnn.app.results.AppError` for what the person can fix. The caller holds the model's lock. Inputs are
cut to what the model takes (``max_tokens``, or less where its context is smaller), with a notice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..errors import InputError
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
    """The zero-shot classifier with the prompt ``hf_rnn.models.llm_zero_shot.zero_shot`` scores the task with."""
    from ..models import llm_zero_shot

    options = {}
    default_prompt = getattr(llm_zero_shot, "default_prompt", None)
    if default_prompt is not None:
        instruction, answer_prefix = default_prompt(task)
        options = {"instruction": instruction, "answer_prefix": answer_prefix}
    return llm_zero_shot.ZeroShotClassifier(lm.model, lm.tokenizer, task.label_names, **options)


def classify(lm: LoadedModel, text: str, pred: Prediction, max_tokens: int, zero_shot=None) -> None:
    """Label probabilities of a classifier run, or of the zero-shot LLM with ``zero_shot`` (its
    :func:`zero_shot_classifier`): one forward pass, with attention, scores the label words."""
    import torch

    tok = lm.tokenizer
    if zero_shot is not None:
        labels = zero_shot.label_names
        template = zero_shot.prompt_ids("")
        room, reason = limit(lm, max_tokens, overhead=len(template), reserve=1)
        text = cut_text(tok, text, room, reason, pred)
        ids = zero_shot.prompt_ids(text)
        out, pred.maps = self_attention(lm, ids, text, input_start=common_prefix(template, ids), logits_to_keep=1)
        log_probs = out.logits[0, -1].float().log_softmax(-1)
        scores = torch.stack([log_probs[torch.as_tensor(i).reshape(-1)].logsumexp(0)
                              for i in zero_shot.label_token_ids])
        probs = scores.softmax(-1).tolist()
        pred.output = dict(zip(labels, probs))
        pred.notices.append(f"zero-shot: {_mass(scores)} of the next-token probability is on the label words")
        return
    config = lm.model.config
    labels = [config.id2label[i] for i in range(config.num_labels)]
    room, reason = limit(lm, max_tokens)
    ids = cut_ids(list(tok(text)["input_ids"]), room, reason, pred)
    if not ids:
        raise AppError("the input has no tokens for this model")
    out, pred.maps, pred.attention_note = lm.family.app_forward(lm, ids, text, "sequence-classification")
    logits = out.logits[0]
    pred.output = dict(zip(labels, logits.float().softmax(-1).tolist()))


def _mass(scores) -> str:
    share = float(scores.exp().sum())
    return f"{100 * share:.0f}%" if share >= 0.01 else "under 1%"


# ------------------------------------------------------------------ word labels


def tag(lm: LoadedModel, text: str, pred: Prediction, max_tokens: int) -> None:
    """A tag per word (``[(word, tag), ...]``), read at each word's first token."""

    from ..tokenization import encode_words

    if lm.kind == "causal":
        raise AppError("a causal LM cannot label words here; pick a tagging run")
    words = split_words(text)
    enc = encode_words(lm.tokenizer, words, repeat=lm.extra.get("repeat_input", False))
    room, reason = limit(lm, max_tokens)
    ids = enc["input_ids"]
    if len(ids) > room:
        ids = ids[:room]
        kept = len({w for w in enc["word_ids"][:room] if w >= 0})
        pred.notices.append(f"The input has {len(enc['input_ids']):,} tokens; the first {room} were used "
                            f"({reason}): {kept} of {len(words)} words are labelled.")
        words = words[:kept]
    out, pred.maps, pred.attention_note = lm.family.app_forward(lm, ids, " ".join(words), "token-classification")
    logits = out.logits[0]
    best = logits.argmax(-1).tolist()
    id2label = lm.model.config.id2label
    first: dict[int, int] = {}
    for position, word in enumerate(enc["word_ids"][: len(ids)]):
        if word >= 0 and word not in first:
            first[word] = position
    pred.output = [(w, id2label[best[first[i]]] if i in first else "?") for i, w in enumerate(words)]


# ------------------------------------------------------------------ text generation


def generate(lm: LoadedModel, ids: list[int], n_new: int, **options) -> list[int]:
    """Greedy continuation of ``ids`` (a prompt, or an encoder-decoder's source): the new token ids (without the
    final eos)."""
    from ..generation import generate_one  # torch: imported when a model answers, not with the app

    return generate_one(lm.model, lm.tokenizer, ids, n_new, **options)


def continue_text(lm: LoadedModel, text: str, n_new: int, pred: Prediction, max_tokens: int) -> None:
    """The text's greedy continuation (``n_new`` tokens at most)."""
    if lm.kind == "head":
        raise AppError("this run has a classification head, not a language-model head")
    tok = lm.tokenizer
    room, reason = limit(lm, max_tokens, reserve=n_new)
    ids = cut_ids(list(tok(text, add_special_tokens=False)["input_ids"]), room, reason, pred)
    if not ids:
        raise AppError("the input has no tokens for this model")
    new = generate(lm, ids, n_new, no_repeat_ngram_size=3)
    pred.output = tok.decode(new, skip_special_tokens=True)
    _, pred.maps, pred.attention_note = lm.family.app_forward(lm, ids + new, text, "causal-lm",
                                                              prompt_length=len(ids))


# ------------------------------------------------------------------ translation


def translate(lm: LoadedModel, text: str, n_new: int, pred: Prediction, max_tokens: int,
              task: Callable[[], Any]) -> None:
    """The translation: an encoder-decoder (an RNN) with its alignment, or an LLM prompted by the task
    (``task()`` gives it; called only for a prompted model)."""
    tok = lm.tokenizer
    n_new = max(n_new, 16)
    if lm.kind == "direct":  # an encoder-decoder: the source in, the target out
        eos = tok.eos_token_id
        room, reason = limit(lm, max_tokens, reserve=1)
        src = cut_ids(list(tok(text, add_special_tokens=False)["input_ids"]), room, reason, pred)
        if not src:
            raise AppError("the input has no tokens for this model")
        translation = tok.decode(generate(lm, src + [eos], n_new), skip_special_tokens=True).strip()
        pred.output = translation
        source_text = tok.decode(src) if len(src) < len(tok(text, add_special_tokens=False)["input_ids"]) else text
        try:  # the decoder-over-encoder alignment, where the model has attention
            pred.maps = lm.family.attention_maps(lm.model, tok, source_text, target_text=translation)
            pred.maps.model_name = lm.name
        except InputError:  # it has none: say why
            pred.attention_note = lm.family.no_maps_note(lm, "translation")
        return
    if lm.kind == "head":
        raise AppError("this run has a classification head, not a language-model head")
    prompts = task()
    template = prompts.prompt_ids(tok, prompts.prompt(""))
    room, reason = limit(lm, max_tokens, overhead=len(template), reserve=n_new)
    text = cut_text(tok, text, room, reason, pred)
    ids = prompts.prompt_ids(tok, prompts.prompt(text))
    new = generate(lm, ids, n_new)
    pred.output = tok.decode(new, skip_special_tokens=True).strip()
    _, pred.maps, pred.attention_note = lm.family.app_forward(lm, ids + new, text, "translation",
                                                              prompt_length=len(ids),
                                                              input_start=common_prefix(template, ids))


# ------------------------------------------------------------------ time series


def forecast(lm: LoadedModel, task, past: list[float], pred: Prediction) -> None:
    """The forecast of the ``task.horizon`` values after ``past`` (the window the model reads)."""
    import torch

    h = task.horizon
    if lm.kind == "direct":  # a window of values in, values out
        with torch.no_grad():
            out = lm.model(past_values=torch.tensor([past])).prediction[0]
        pred.output = [float(v) for v in out.reshape(-1).tolist()][:h]
        pred.attention_note = lm.family.no_maps_note(lm, "forecasting")
    elif lm.kind == "causal":
        tok = lm.tokenizer
        ids = task.prompt_ids(tok, task.prompt(past))
        n_new = task.max_new_tokens
        if lm.context is not None and len(ids) + n_new > lm.context:
            raise AppError(f"the window's prompt ({len(ids)} tokens) does not fit {lm.name}'s context "
                           f"of {lm.context} tokens")
        new = generate(lm, ids, n_new)
        answer = tok.decode(new, skip_special_tokens=True)
        pred.output, ok = task.parse(answer, fallback=past[-1])
        if not ok:
            pred.notices.append(f"no number in the answer {answer.strip()[:40]!r}: the last value "
                                "is used as the forecast")
        template = task.prompt_ids(tok, task.prompt_head())
        _, pred.maps, pred.attention_note = lm.family.app_forward(lm, ids + new, task.prompt(past), "forecasting",
                                                                  prompt_length=len(ids),
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


__all__ = ["classify", "continue_text", "forecast", "generate", "limit", "tag", "translate",
           "zero_shot_classifier"]
