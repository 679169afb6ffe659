"""The attention maps the app shows: one forward pass of an LLM with its attention weights (a model family's
own maps come from its ``forward_with_maps``), and :func:`focus` (the maps from the input's first token on)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hf_rnn.app.cache import LoadedModel

# attention_maps warns when it cuts an input; the app cuts inputs itself and says so in the page
warnings.filterwarnings("ignore", message=r"the (input|prompt|source) has \d+ tokens", category=UserWarning)


def self_attention(lm: LoadedModel, ids: list[int], text: str, prompt_length: int | None = None,
                   input_start: int = 0, head_ids: list[int] | None = None, **model_kwargs):
    """One forward pass of a transformers model over exactly ``ids`` with attention weights: the output (for the
    answer) and an :class:`~hf_rnn.families.attention.AttentionMaps` of every layer and head (the zero-shot LLM's; a
    run's model answers through its family's ``forward_with_maps``). ``head_ids``: a prompt head every request
    shares, read once per loaded model (``attention.PromptHead``) so that each request reads only the rest."""
    from hf_rnn.families.attention import forward_with_self_attention, read_prompt_head

    head = None
    if head_ids and len(head_ids) >= 8:  # shorter heads save less than reading them costs
        # one head per loaded model, read again when another is asked for or the weights changed dtype or device
        # (the caller holds the model's lock)
        weights = next(lm.model.parameters())
        key = (tuple(head_ids), weights.dtype, weights.device)
        kept = lm.extra.get("prompt head")
        if kept is None or kept[0] != key:
            kept = lm.extra["prompt head"] = (key, read_prompt_head(lm.model, list(head_ids)))
        head = kept[1]
    return forward_with_self_attention(lm.model, lm.tokenizer, ids, text, lm.name, prompt_length=prompt_length,
                                       input_start=input_start, head=head, **model_kwargs)


def focus(maps, whole_prompt: bool = False):
    """The maps from the input's first token on (a chat prompt's system message and instruction left out),
    unless ``whole_prompt``. Weights are not renormalised: each row shows what went to the visible tokens."""
    from hf_rnn.families.attention import AttentionMaps

    start = int((maps.meta or {}).get("input_start") or 0)
    if whole_prompt or start <= 0 or maps.kind != "self-attention" or start >= len(maps.key_tokens) - 1:
        return maps
    prompt_length = None if maps.prompt_length is None else maps.prompt_length - start
    meta = dict(maps.meta, input_start=0, cropped_from=start)
    return AttentionMaps(maps.query_tokens[start:], maps.key_tokens[start:], maps.weights[:, :, start:, start:],
                         maps.kind, maps.model_name, prompt_length=prompt_length, text=maps.text, meta=meta)


__all__ = ["focus", "self_attention"]
