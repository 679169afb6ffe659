"""The generation cache of the RNN family: the recurrent state itself.

A transformer must keep the keys/values of every past token; an RNN summarises the whole prefix in its hidden
state (and cell state for an LSTM). Caching that state is enough for `generate()` to feed one new token per
step: the cost per step is one RNN step, not a rerun of the prefix. The class subclasses
`transformers.Cache` so `generate()` treats it like any other cache (beam search calls `reorder_cache`,
`return_dict_in_generate` returns it, ...).
"""

from __future__ import annotations

import torch
from transformers.cache_utils import Cache


class RNNStateLayer:
    """Recurrent state of one (unidirectional) RNN layer.

    Attributes:
        hidden (`torch.Tensor` of shape `(batch_size, hidden_size)` or `None`): h_t after the last seen token.
        cell (`torch.Tensor` of shape `(batch_size, hidden_size)` or `None`): c_t of an LSTM, else `None`.

    Tensors are stored batch-first so that beam search can reorder them with `index_select(0, beam_idx)`.
    """

    # Flags that `transformers.Cache` reads from its layers.
    is_sliding = False
    # The state is overwritten at every step, so a rollback (`crop`) or a static-address compile is impossible.
    is_compileable = False
    is_croppable = False
    supports_early_init = False

    def __init__(self):
        self.hidden: torch.Tensor | None = None
        self.cell: torch.Tensor | None = None

    def __repr__(self):
        shape = None if self.hidden is None else tuple(self.hidden.shape)
        return f"RNNStateLayer(hidden={shape}, has_cell={self.cell is not None})"

    def _apply(self, fn) -> None:
        if self.hidden is not None:
            self.hidden = fn(self.hidden)
        if self.cell is not None:
            self.cell = fn(self.cell)

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        self._apply(lambda state: state.index_select(0, beam_idx.to(state.device)))

    def batch_repeat_interleave(self, repeats: int) -> None:
        self._apply(lambda state: state.repeat_interleave(repeats, dim=0))

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self._apply(lambda state: state[indices])

    def reset(self) -> None:
        self.hidden = None
        self.cell = None

    def crop(self, tokens_to_remove: int) -> None:
        raise NotImplementedError(
            "An RNN state summarises the whole prefix and cannot be rolled back by `crop`; rerun the prefix instead."
        )

    def offload(self) -> None:  # the state is a few KB: nothing worth offloading
        pass

    def prefetch(self) -> None:
        pass

    def get_max_length(self) -> int:
        return -1  # no sequence dimension

    @property
    def batch_size(self) -> int:
        return -1 if self.hidden is None else self.hidden.shape[0]


class RNNStateCache(Cache):
    """`transformers.Cache` holding the recurrent state of a unidirectional RNN stack (one layer entry per layer).

    Args:
        num_layers (`int`): number of stacked RNN layers.

    The cache also counts the tokens it has absorbed (`get_seq_length()`), which is what `generate()` uses to
    know which part of `input_ids` is new when it is handed a pre-filled cache.

    Example:

    ```python
    >>> out = model(prompt_ids, use_cache=True)            # runs the prompt once
    >>> out = model(next_ids[:, None], cache=out.cache)    # one RNN step per new token
    ```
    """

    def __init__(self, num_layers: int):
        super().__init__(layers=[RNNStateLayer() for _ in range(num_layers)])
        self.seen_tokens = 0

    def has_state(self) -> bool:
        """Whether a prefix has been absorbed already (False for a fresh cache)."""
        return self.layers[0].hidden is not None

    def get_state(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the state in PyTorch's RNN layout.

        Returns:
            `(hidden, cell)`: `hidden` of shape `(num_layers, batch_size, hidden_size)`; `cell` the same shape for
            an LSTM, else `None`.
        """
        if not self.has_state():
            raise ValueError(
                "RNNStateCache is empty: run the prompt through the model with use_cache=True first."
            )
        hidden = torch.stack([layer.hidden for layer in self.layers])
        has_cell = self.layers[0].cell is not None
        cell = torch.stack([layer.cell for layer in self.layers]) if has_cell else None
        return hidden, cell

    def update_state(self, hidden: torch.Tensor, cell: torch.Tensor | None, num_new_tokens: int) -> None:
        """Store the state reached after `num_new_tokens` more tokens.

        Args:
            hidden (`torch.Tensor` of shape `(num_layers, batch_size, hidden_size)`): `h_n` of the RNN.
            cell (`torch.Tensor` of the same shape, *optional*): `c_n` of an LSTM.
            num_new_tokens (`int`): how many tokens were fed to produce this state.
        """
        if hidden.shape[0] != len(self.layers):
            raise ValueError(f"Expected a state for {len(self.layers)} layers, got {hidden.shape[0]}.")
        for index, layer in enumerate(self.layers):
            layer.hidden = hidden[index]
            layer.cell = None if cell is None else cell[index]
        self.seen_tokens += num_new_tokens

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.seen_tokens

    def reset(self) -> None:
        super().reset()
        self.seen_tokens = 0
