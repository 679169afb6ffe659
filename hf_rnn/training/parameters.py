"""Counting a model's parameters: the one counter behind ``metrics.json``, the comparison's rows, the LLM notebook
and the lecture's Keras counts (``hf_rnn.families.rnn.keras_stacks.count_parameters``)."""

from __future__ import annotations

from torch import nn

__all__ = ["count_parameters"]


def count_parameters(model: nn.Module, skip: tuple[type[nn.Module], ...] = ()) -> tuple[int, int]:
    """``(total, trainable)`` parameter counts of ``model``; tied weights count once.

    ``skip``: module types whose parameters are left out (``(nn.Embedding,)``: the embedding tables, which
    Keras' stacks do not have).
    """
    skipped = {id(p) for m in model.modules() if isinstance(m, skip) for p in m.parameters()} if skip else set()
    params = [p for p in model.parameters() if id(p) not in skipped]  # parameters() already skips repeats
    return sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)
