"""Output dataclasses of the RNN family that `transformers` has no class for (`modeling_rnn` heads).

The other heads return `transformers`' own `SequenceClassifierOutput`, `TokenClassifierOutput`,
`CausalLMOutputWithPast` and `Seq2SeqLMOutput`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers.utils import ModelOutput

from hf_rnn.families.rnn.cache_rnn import RNNStateCache


@dataclass
class RNNModelOutput(ModelOutput):
    """Output of [`RNNModel`] (and of `RNNForSeq2SeqLM.get_encoder()`).

    Args:
        last_hidden_state (`torch.Tensor` of shape `(batch_size, seq_len, num_directions * hidden_size)`):
            Top-layer outputs at every position (zeros at padded positions); `None` with `return_sequences=False`.
        final_hidden_state (`torch.Tensor` of shape `(batch_size, num_layers * num_directions, hidden_size)`):
            `h_n` of every layer and direction after the last real token. Batch-first (unlike PyTorch's `h_n`)
            so that `generate()` can expand encoder outputs for beam search along dimension 0.
        final_cell_state (`torch.Tensor` of the same shape, *optional*): `c_n` for an LSTM.
        cache (`RNNStateCache`, *optional*): the state to continue from, when `use_cache=True`.
        hidden_states (`tuple(torch.Tensor)`, *optional*): `(embeddings, last_hidden_state)` when
            `output_hidden_states=True`. The fused kernel does not expose the intermediate layers.
    """

    last_hidden_state: torch.Tensor | None = None
    final_hidden_state: torch.Tensor | None = None
    final_cell_state: torch.Tensor | None = None
    cache: RNNStateCache | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None


@dataclass
class RNNTimeSeriesPredictionOutput(ModelOutput):
    """Output of [`RNNForTimeSeriesPrediction`].

    Args:
        loss (`torch.Tensor` of shape `()`, *optional*): MSE on the normalised scale, when `future_values` is given.
        prediction (`torch.Tensor` of shape `(batch_size, prediction_length)` or
            `(batch_size, prediction_length, input_size)`): forecast on the original scale of `past_values`.
        loc (`torch.Tensor` of shape `(batch_size, 1, input_size)`): per-window mean used for normalisation.
        scale (`torch.Tensor` of shape `(batch_size, 1, input_size)`): per-window standard deviation.
        hidden_states (`tuple(torch.Tensor)`, *optional*): `(inputs, rnn_outputs)` when `output_hidden_states=True`.
    """

    loss: torch.Tensor | None = None
    prediction: torch.Tensor | None = None
    loc: torch.Tensor | None = None
    scale: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
