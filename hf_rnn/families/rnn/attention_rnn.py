"""Attention over a sequence of RNN states (the lecture's "Attention" section).

One module serves both uses in the family:
- attention pooling in `RNNForSequenceClassification` (query = final state, memory = all encoder states);
- decoder-over-encoder attention in `RNNForSeq2SeqLM` (query = decoder state, memory = encoder states).

Scores (q = query, k = memory state):
- `"dot"`      (Luong):    score = q . k
- `"general"`  (Luong):    score = q . (W k)
- `"additive"` (Bahdanau): score = v . tanh(W_q q + W_k k)
"""

from __future__ import annotations

import torch
from torch import nn


class RNNAttention(nn.Module):
    """Scores a query against every memory position, masks padding, and returns the weighted memory.

    Args:
        attention_type (`str`): `"dot"`, `"general"` or `"additive"`.
        query_size (`int`): feature size of the query.
        memory_size (`int`): feature size of the memory (e.g. `2 * hidden_size` for a bidirectional encoder).
        attention_size (`int`): size of the hidden layer of additive attention (ignored by the Luong scores).
    """

    def __init__(self, attention_type: str, query_size: int, memory_size: int, attention_size: int):
        super().__init__()
        if attention_type not in ("dot", "general", "additive"):
            raise ValueError(
                f"attention_type must be 'dot', 'general' or 'additive', got {attention_type!r}."
            )
        self.attention_type = attention_type
        self.key_projection: nn.Linear | None = None
        if attention_type == "general" or (attention_type == "dot" and memory_size != query_size):
            # A dot product needs equal sizes; with a bidirectional encoder (memory = 2 * hidden) the keys are
            # projected to the query size, which makes "dot" coincide with "general" in that case.
            self.key_projection = nn.Linear(memory_size, query_size, bias=False)
        elif attention_type == "additive":
            self.query_projection = nn.Linear(query_size, attention_size, bias=False)
            self.key_projection = nn.Linear(memory_size, attention_size, bias=True)
            self.score_vector = nn.Linear(attention_size, 1, bias=False)

    def forward(
        self, query: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Args:
            query (`torch.Tensor` of shape `(batch_size, num_queries, query_size)`)
            memory (`torch.Tensor` of shape `(batch_size, memory_length, memory_size)`)
            memory_mask (`torch.Tensor` of shape `(batch_size, memory_length)`, *optional*): 1 for real positions,
                0 for padding. Padding gets exactly zero weight, so it never changes the context.

        Returns:
            `(context, weights)`: `context` of shape `(batch_size, num_queries, memory_size)` and `weights` of shape
            `(batch_size, num_queries, memory_length)` (each row sums to 1).
        """
        keys = memory if self.key_projection is None else self.key_projection(memory)
        if self.attention_type == "additive":
            # [B, Q, 1, A] + [B, 1, S, A] -> [B, Q, S, A] -> [B, Q, S]
            hidden = torch.tanh(self.query_projection(query)[:, :, None, :] + keys[:, None, :, :])
            scores = self.score_vector(hidden).squeeze(-1)
        else:
            scores = torch.bmm(query, keys.transpose(1, 2))
        if memory_mask is not None:
            # The most negative finite value (not -inf) keeps a fully padded row finite instead of NaN;
            # exp(min - max) underflows to exactly 0 for every padded position of a real row.
            padding = ~memory_mask.bool()[:, None, :]
            scores = scores.masked_fill(padding, torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1)
        context = torch.bmm(weights, memory)
        return context, weights
