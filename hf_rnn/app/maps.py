"""The attention maps the app shows: one forward pass of an LLM with its attention weights, an RNN
classifier's attention pooling, and :func:`focus` (the maps from the input's first token on)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .cache import LoadedModel

# attention_maps warns when it cuts an input; the app cuts inputs itself and says so in the page
warnings.filterwarnings("ignore", message=r"the (input|prompt|source) has \d+ tokens", category=UserWarning)


def rnn_maps(lm: LoadedModel, text: str, limit: int):
    """(maps, note) of an RNN classifier: attention pooling, or a note when it has none."""
    from ..attention import attention_maps

    config = lm.model.config
    if getattr(config, "attention", "none") == "none":
        return None, (f"{lm.name} reads its final states and has no attention to show. Train one with attention "
                      "pooling (model.attention=additive) to see where it looks.")
    ids = lm.tokenizer(text)["input_ids"]
    if len(ids) > limit:  # cut here (the page says so) rather than have attention_maps warn
        text = lm.tokenizer.decode(ids[:limit], skip_special_tokens=True)
    maps = attention_maps(lm.model, lm.tokenizer, text, max_length=limit)
    maps.model_name = lm.name
    return maps, None


def self_attention(lm: LoadedModel, ids: list[int], text: str, prompt_length: int | None = None,
                   input_start: int = 0, **model_kwargs):
    """One forward pass of a transformers model over exactly ``ids`` with attention weights: the output (for the
    answer) and an :class:`~hf_rnn.attention.AttentionMaps` of every layer and head."""
    import torch

    from ..attention import AttentionMaps, eager_attention, token_strings

    inputs = torch.tensor([ids])
    with eager_attention(lm.model), torch.no_grad():
        out = lm.model(input_ids=inputs, attention_mask=torch.ones_like(inputs), output_attentions=True,
                       use_cache=False, **model_kwargs)
    if not out.attentions:
        return out, None
    weights = torch.stack([a[0].float() for a in out.attentions]).numpy()
    tokens = token_strings(lm.tokenizer, ids)
    maps = AttentionMaps(tokens, list(tokens), weights, "self-attention", lm.name,
                         prompt_length=prompt_length if prompt_length is not None and prompt_length < len(ids)
                         else None, text=text, meta={"family": "llm", "input_start": int(input_start)})
    return out, maps


def focus(maps, whole_prompt: bool = False):
    """The maps from the input's first token on (a chat prompt's system message and instruction left out),
    unless ``whole_prompt``. Weights are not renormalised: each row shows what went to the visible tokens."""
    from ..attention import AttentionMaps

    start = int((maps.meta or {}).get("input_start") or 0)
    if whole_prompt or start <= 0 or maps.kind != "self-attention" or start >= len(maps.key_tokens) - 1:
        return maps
    prompt_length = None if maps.prompt_length is None else maps.prompt_length - start
    meta = dict(maps.meta, input_start=0, cropped_from=start)
    return AttentionMaps(maps.query_tokens[start:], maps.key_tokens[start:], maps.weights[:, :, start:, start:],
                         maps.kind, maps.model_name, prompt_length=prompt_length, text=maps.text, meta=meta)


__all__ = ["focus", "rnn_maps", "self_attention"]
