"""Greedy generation: the one place where a model continues its input, for every family and every caller.

``greedy_generate`` is ``model.generate`` as greedy search for a decoder-only LLM (prompts padded on the left) and
for an encoder-decoder RNN (the decoder starts from ``decoder_start_token_id``), optionally with the attention
maps of every step. ``generate_batch`` (a task's evaluation: fixed-width continuations a distributed loop can
gather) and ``generate_one`` (the app: one input's new token ids) are built on it, as are the attention maps
of generated text (``hf_rnn.families.attention``).
"""

from __future__ import annotations

import inspect
import numbers
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["KV_CACHE_LAYERS", "CachedPrefix", "cache_argument", "check_generate_options", "continuation",
           "decoder_start_id", "generate_batch", "generate_one", "greedy_generate", "is_encoder_decoder",
           "output_cache", "pad_id", "read_cache"]

# the layers of transformers' plain key/value cache (DynamicCache): a copy of one read for a shared prompt head
# can be extended by each prompt and repeated over a batch; a recurrent, linear-attention, static or quantized
# layer cannot
KV_CACHE_LAYERS = ("DynamicLayer", "DynamicSlidingWindowLayer")


@dataclass
class CachedPrefix:
    """A prefix read once by a decoder-only model: later passes extend a copy of its ``cache``."""

    output: Any  # the forward's output over the prefix (its ``attentions`` when they were asked for)
    cache: Any  # a transformers Cache whose layers are all of the accepted types
    cache_argument: str  # the forward's argument for a cache: ``cache`` (transformers >= 5.24) or past_key_values
    takes_logits_to_keep: bool  # the forward can skip the logits of all but the last positions


def output_cache(output) -> Any:
    """The key/value cache a forward returned: ``cache`` (transformers >= 5.24), else ``past_key_values``."""
    cache = getattr(output, "cache", None)
    return getattr(output, "past_key_values", None) if cache is None else cache


def cache_argument(model) -> str:
    """The forward's argument that takes a cache: ``cache`` (transformers >= 5.24 renamed it; the old name still
    works there, with a warning), else ``past_key_values``. A peft model passes it on to the model it wraps."""
    get_base = getattr(model, "get_base_model", None)
    model = get_base() if callable(get_base) else model
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def read_cache(model, ids: list[int], *, device: torch.device | None = None,
               layer_types: tuple[str, ...] = KV_CACHE_LAYERS, grad: bool = False,
               **forward_kwargs) -> CachedPrefix | None:
    """Read ``ids`` (one prefix, [T]) once with a key/value cache that later passes can extend, or ``None`` where
    that is not possible: caching switched off, a forward that takes no ``position_ids`` (each later pass gives the
    positions after the prefix), or a cache layer not in ``layer_types`` (recurrent or linear-attention layers,
    a static or quantized cache cannot be copied and extended). ``forward_kwargs`` go to the forward (e.g.
    ``output_attentions=True``); only the last position's logits are computed where the model allows it.
    ``device``: where the later passes' inputs live (default: the model's first parameter's). ``grad``: read it
    with gradients (training: later passes backpropagate into the prefix's keys and values)."""
    parameters = inspect.signature(model.forward).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    if not ids or not getattr(model.config, "use_cache", True) or not ("position_ids" in parameters or takes_any):
        return None
    keep = "logits_to_keep" in parameters
    device = device if device is not None else next(model.parameters()).device
    inputs = torch.tensor([list(ids)], dtype=torch.long, device=device)
    with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
        out = model(input_ids=inputs, attention_mask=torch.ones_like(inputs), use_cache=True,
                    **({"logits_to_keep": 1} if keep else {}), **forward_kwargs)
    cache = output_cache(out)
    layers = getattr(cache, "layers", None)
    if not layers or any(type(layer).__name__ not in layer_types for layer in layers):
        return None
    return CachedPrefix(out, cache, cache_argument(model), keep)


# generate()'s counts, with the least each takes: transformers checks few of them itself (num_beams=0 is a
# ZeroDivisionError deep inside, -2 a negative tensor size, 2.5 a torch TypeError). num_return_sequences is
# one here: every caller reads one continuation per input
_COUNT_OPTIONS = {"max_new_tokens": 1, "min_new_tokens": 0, "max_length": 1, "min_length": 0, "num_beams": 1,
                  "num_beam_groups": 1, "no_repeat_ngram_size": 0, "top_k": 0, "encoder_no_repeat_ngram_size": 0}
_ONE_OPTIONS = ("num_return_sequences",)


def check_generate_options(settings: dict[str, Any]) -> None:
    """An ``InputError`` naming the first count option of ``generate`` (``num_beams``, ``max_new_tokens``, ...)
    that is not an integer in its range; ``None`` leaves an option to the model's generation config."""
    from hf_rnn.errors import InputError

    for name, least in _COUNT_OPTIONS.items():
        value = settings.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
            raise InputError(f"generation option {name} must be an integer >= {least}; got {value!r}")
    for name in _ONE_OPTIONS:
        if settings.get(name) not in (None, 1):
            raise InputError(f"generation option {name} must be 1 here (one answer per input); "
                             f"got {settings[name]!r}")


# An LLM's generation config may ask for sampling; with do_sample=False these are unused, and nulling them keeps
# transformers from warning that they are set
_SAMPLING_SETTINGS = {"temperature": None, "top_p": None, "top_k": None}


def is_encoder_decoder(model: Any) -> bool:
    """Whether ``model`` reads a source and writes a separate target (an RNN encoder-decoder)."""
    return bool(getattr(model.config, "is_encoder_decoder", False))


def pad_id(model: Any, tokenizer: Any = None) -> int | None:
    """The id that fills finished rows: the tokenizer's pad, else the model's, else an eos (the tokenizer's,
    then the model's). Only a batch's finished rows and ``generate_batch``'s right padding use it."""
    config = model.config
    for value in (getattr(tokenizer, "pad_token_id", None), getattr(config, "pad_token_id", None),
                  getattr(tokenizer, "eos_token_id", None), getattr(config, "eos_token_id", None)):
        if value is not None:
            return value
    return None


def decoder_start_id(model: Any) -> int | None:
    """The token an encoder-decoder's target starts from: its config's ``decoder_start_token_id``, else bos."""
    config = model.config
    start = getattr(config, "decoder_start_token_id", None)
    return start if start is not None else getattr(config, "bos_token_id", None)


def greedy_generate(model, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, *,
                    max_new_tokens: int, pad_token_id: int | None, eos_token_id: int | list[int] | None = None,
                    decoder_start_token_id: int | None = None, output_attentions: bool = False, **options):
    """Greedy search (one beam, no sampling, whatever the model's generation config asks).

    Args:
        input_ids: [B, T] a decoder-only model's prompts (padded on the left when B > 1) or an encoder-decoder's
            sources.
        attention_mask: [B, T]; default: every position is read.
        pad_token_id: fills the rows that have finished (``pad_id(model, tokenizer)``).
        eos_token_id: where a row stops; ``None``: the model's generation config decides.
        decoder_start_token_id: an encoder-decoder's first target token; ``None``: its config's
            (``decoder_start_id(model)``).
        output_attentions: also return the attention weights of every step.
        options: more ``generate`` settings (``no_repeat_ngram_size``, ``min_new_tokens``, ...); they override
            the ones above.

    Returns:
        ``sequences`` [B, T + N] for a decoder-only model (prompt, then continuation) or [B, 1 + N] for an
        encoder-decoder (start token, then target), N <= ``max_new_tokens``; with ``output_attentions`` a
        ``GenerateOutput`` whose ``sequences`` is that and ``attentions`` a tuple over steps of tuples over
        layers (step 0: the input's ``[B, heads, T, T]``; step i: the new row ``[B, heads, 1, T + i]``).
    """
    settings: dict[str, Any] = {"max_new_tokens": max_new_tokens, "do_sample": False, "num_beams": 1,
                                "pad_token_id": pad_token_id}
    if eos_token_id is not None:  # an explicit None would switch eos off: leave it to the model
        settings["eos_token_id"] = eos_token_id
    if is_encoder_decoder(model):
        start = decoder_start_token_id if decoder_start_token_id is not None else decoder_start_id(model)
        if start is not None:
            settings["decoder_start_token_id"] = int(start)
    if output_attentions:
        settings.update(output_attentions=True, return_dict_in_generate=True)
    settings.update(options)
    if not settings["do_sample"]:
        settings = {**_SAMPLING_SETTINGS, **settings}
    check_generate_options(settings)
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    with torch.no_grad():
        try:
            return model.generate(input_ids=input_ids, attention_mask=attention_mask, **settings)
        except ValueError as e:  # transformers' own check of an option (temperature=0, a misspelled name)
            named = [name for name in options if f"`{name}`" in str(e) or f"'{name}'" in str(e)]
            if not named:
                raise
            from hf_rnn.errors import InputError

            raise InputError(f"generation option {named[0]}: {str(e).splitlines()[0]}") from None


def continuation(model, sequences: torch.Tensor, prompt_length: int) -> torch.Tensor:
    """The generated tokens alone [B, N] of ``generate``'s ``sequences``: after the ``prompt_length`` prompt
    tokens a decoder-only model continues, or after an encoder-decoder's start token."""
    sequences = getattr(sequences, "sequences", sequences)
    return sequences[:, 1:] if is_encoder_decoder(model) else sequences[:, prompt_length:]


def generate_batch(model, batch: dict[str, torch.Tensor], tokenizer=None, *, max_new_tokens: int,
                   **options) -> torch.Tensor:
    """A batch's greedy continuations [B, ``max_new_tokens``], padded on the right with the pad id, so that every
    process of a distributed evaluation returns the same width.

    ``batch``: ``input_ids`` and ``attention_mask`` [B, T] (a decoder-only model's prompts padded on the left).
    A row stops at the tokenizer's eos (where hf_rnn's targets end, ``ids_with_eos``), as in ``generate_one``;
    without a tokenizer, or with ``eos_token_id`` in ``options``, the model's generation config decides.
    """
    pad = pad_id(model, tokenizer)
    eos = getattr(tokenizer, "eos_token_id", None)
    if eos is not None:
        options.setdefault("eos_token_id", eos)
    out = greedy_generate(model, batch["input_ids"], batch["attention_mask"], max_new_tokens=max_new_tokens,
                          pad_token_id=pad, **options)
    new = continuation(model, out, batch["input_ids"].shape[1])[:, :max_new_tokens]
    if new.shape[1] < max_new_tokens:
        new = torch.nn.functional.pad(new, (0, max_new_tokens - new.shape[1]), value=pad)
    return new


def generate_one(model, tokenizer, ids: list[int], max_new_tokens: int, **options) -> list[int]:
    """One input's greedy continuation: the new token ids, up to the tokenizer's eos (left out, as are pad ids
    at the end). ``ids``: a decoder-only model's prompt or an encoder-decoder's source."""
    device = next(model.parameters()).device
    inputs = torch.tensor([ids], device=device)
    eos = tokenizer.eos_token_id
    out = greedy_generate(model, inputs, max_new_tokens=max_new_tokens, pad_token_id=pad_id(model, tokenizer),
                          eos_token_id=eos, **options)
    new = continuation(model, out, len(ids))[0].tolist()
    while new and new[-1] in (eos, tokenizer.pad_token_id):
        new.pop()
    return new
