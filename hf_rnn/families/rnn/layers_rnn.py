"""Building blocks of the RNN family (`modeling_rnn`): the fused recurrent stack and padding-safe running of it,
the dense classifier head, the (tied) LM output layer of the generating heads, the seq2seq decoder and the loss
averaging the Trainer expects.

Plain `nn.Module`s, a mixin and functions, no `PreTrainedModel`: [`RNNModel`] and the heads in `modeling_rnn.py`
are made of these. All names are also importable from `hf_rnn.families.rnn.modeling_rnn` (the public ones from
`hf_rnn.models` too).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from transformers.activations import ACT2FN

from hf_rnn.families.rnn.attention_rnn import RNNAttention
from hf_rnn.families.rnn.configuration_rnn import RNNConfig

RNN_CLASSES = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}

# GenerationConfig options that make `generate()` draft tokens and verify them in one pass (assisted decoding).
DRAFTING_OPTIONS = ("prompt_lookup_num_tokens", "assistant_early_exit", "use_mtp")

# (hidden, cell) in PyTorch's layout, each (num_layers * num_directions, batch_size, hidden_size); cell is None
# unless the cell type is LSTM.
RNNState = tuple[torch.Tensor, torch.Tensor | None]


def build_fused_rnn(config: RNNConfig, input_size: int, bidirectional: bool | None = None) -> nn.RNNBase:
    """Create the fused recurrent stack described by `config` (batch-first, tanh for the plain RNN cell)."""
    bidirectional = config.bidirectional if bidirectional is None else bidirectional
    rnn = RNN_CLASSES[config.cell](
        input_size=input_size,
        hidden_size=config.hidden_size,
        num_layers=config.num_layers,
        batch_first=True,
        bidirectional=bidirectional,
        # PyTorch only applies this between layers (and warns if there is a single layer).
        dropout=config.dropout if config.num_layers > 1 else 0.0,
    )
    if config.keras_bias and config.cell != "gru":
        use_single_bias(rnn)
    return rnn


def use_single_bias(rnn: nn.RNNBase) -> None:
    """Turn every `bias_hh_*` of `rnn` into a zero buffer, leaving one trainable bias per gate like Keras.

    For the RNN and LSTM cells `b_ih` and `b_hh` are only ever added together, so dropping one loses nothing;
    it just makes `sum(p.numel() for p in model.parameters())` equal Keras' count. (GRU is left alone: its
    `b_hn` sits inside the reset gate product, and Keras' default GRU has two biases as well.)
    """
    for name in list(rnn._flat_weights_names):
        if name.startswith("bias_hh"):
            bias = rnn._parameters.pop(name)
            rnn.register_buffer(name, bias.detach().new_zeros(bias.shape))
    rnn._init_flat_weights()  # the fused kernel reads this list of tensors, refresh it


def run_rnn(
    rnn: nn.RNNBase,
    inputs: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    initial_state: RNNState | None = None,
    return_sequences: bool = True,
) -> tuple[torch.Tensor | None, RNNState]:
    """Run a fused RNN over a padded batch so that padding has no effect.

    Args:
        rnn (`nn.RNNBase`): a batch-first `nn.RNN`, `nn.GRU` or `nn.LSTM`.
        inputs (`torch.Tensor` of shape `(batch_size, seq_len, input_size)`)
        attention_mask (`torch.Tensor` of shape `(batch_size, seq_len)`, *optional*): 1 for tokens, 0 for padding.
            Right padding is packed directly; any other layout (e.g. left padding) is first reordered so that
            the real tokens come first, and the outputs are put back at their original positions.
        initial_state (`RNNState`, *optional*): `(h_0, c_0)` in PyTorch's layout; zeros when omitted.
        return_sequences (`bool`, *optional*, defaults to `True`): like Keras' flag; `False` skips unpacking the
            per-position outputs (returned as `None`) when only the final state is needed.

    Returns:
        `(outputs, (h_n, c_n))`: `outputs` of shape `(batch_size, seq_len, num_directions * hidden_size)`, zero at
        padded positions (or `None`); `h_n`/`c_n` of shape `(num_layers * num_directions, batch_size, hidden_size)` taken after
        the last real token of each sequence (`c_n` is `None` unless LSTM). An empty sequence (`seq_len == 0`, or
        a row without any real token) reads nothing: its final state is the initial state (zeros when omitted)
        and its outputs are zeros, as in the same row padded inside a longer batch.
    """
    hx = None
    if initial_state is not None:
        hx = initial_state if isinstance(rnn, nn.LSTM) else initial_state[0]
    if inputs.shape[1] == 0:  # the fused kernels refuse a zero-length sequence ("" in a pipeline)
        return _empty_run(rnn, inputs, initial_state, return_sequences)

    mask = None if attention_mask is None else attention_mask.bool()
    if mask is None or bool(mask.all()):
        outputs, final = rnn(inputs, hx)
    else:
        batch_size, seq_len, _ = inputs.shape
        # A 0 followed by a 1 means the real tokens are not a prefix (left padding or holes).
        needs_reorder = bool((mask[:, 1:] & ~mask[:, :-1]).any())
        if needs_reorder:
            # Stable sort of "is padding" puts the real tokens first, in their original order.
            order = torch.sort((~mask).to(torch.uint8), dim=1, stable=True).indices
            inputs = inputs.gather(1, order[..., None].expand(-1, -1, inputs.shape[-1]))
        lengths = mask.sum(dim=1).cpu()  # pack_padded_sequence wants CPU lengths
        empty = lengths == 0
        # packing needs lengths >= 1: an empty row is run over one padding token, then given its start back
        packed = pack_padded_sequence(inputs, lengths.clamp(min=1), batch_first=True, enforce_sorted=False)
        packed_outputs, final = rnn(packed, hx)
        if bool(empty.any()):
            final = _restart_empty_rows(rnn, inputs, initial_state, final, empty.to(inputs.device))
        if not return_sequences:
            return None, (final if isinstance(final, tuple) else (final, None))
        outputs, _ = pad_packed_sequence(packed_outputs, batch_first=True, total_length=seq_len)
        if needs_reorder:
            index = order[..., None].expand(-1, -1, outputs.shape[-1])
            outputs = torch.zeros_like(outputs).scatter(1, index, outputs)
        if bool(empty.any()):
            outputs = outputs.masked_fill(empty.to(outputs.device)[:, None, None], 0.0)

    hidden, cell = final if isinstance(final, tuple) else (final, None)
    return outputs, (hidden, cell)


def _start_state(rnn: nn.RNNBase, inputs: torch.Tensor, initial_state: RNNState | None) -> RNNState:
    """The state before any token: `initial_state`, or zeros `(num_layers * num_directions, batch_size,
    hidden_size)` (what the fused RNN starts from when given none)."""
    if initial_state is not None:
        return initial_state[0], (initial_state[1] if isinstance(rnn, nn.LSTM) else None)
    shape = (rnn.num_layers * (2 if rnn.bidirectional else 1), inputs.shape[0], rnn.hidden_size)
    zeros = inputs.new_zeros(shape)
    return zeros, (torch.zeros_like(zeros) if isinstance(rnn, nn.LSTM) else None)


def _empty_run(rnn: nn.RNNBase, inputs: torch.Tensor, initial_state: RNNState | None,
               return_sequences: bool) -> tuple[torch.Tensor | None, RNNState]:
    """`run_rnn` on `inputs` of shape `(batch_size, 0, input_size)`: no outputs `(batch_size, 0, num_directions *
    hidden_size)`, and the start state as the final one."""
    size = rnn.hidden_size * (2 if rnn.bidirectional else 1)
    outputs = inputs.new_zeros(inputs.shape[0], 0, size) if return_sequences else None
    return outputs, _start_state(rnn, inputs, initial_state)


def _restart_empty_rows(rnn: nn.RNNBase, inputs: torch.Tensor, initial_state: RNNState | None, final,
                        empty: torch.Tensor):
    """`final` (the fused RNN's `h_n` or `(h_n, c_n)`) with the rows flagged in `empty` `(batch_size,)` put
    back to their start state: a row without tokens read one padding token only because packing needs one."""
    start_hidden, start_cell = _start_state(rnn, inputs, initial_state)
    keep_start = empty[None, :, None]  # [1, B, 1] against [layers * directions, B, H]
    if isinstance(final, tuple):
        return torch.where(keep_start, start_hidden, final[0]), torch.where(keep_start, start_cell, final[1])
    return torch.where(keep_start, start_hidden, final)


def last_layer_features(final_hidden_state: torch.Tensor, num_directions: int) -> torch.Tensor:
    """Concatenate the top layer's final state of each direction.

    Args:
        final_hidden_state (`torch.Tensor` of shape `(batch_size, num_layers * num_directions, hidden_size)`)

    Returns:
        `torch.Tensor` of shape `(batch_size, num_directions * hidden_size)`: `[forward, backward]`, where the
        forward state is taken after the last real token and the backward one after the first.
    """
    top = final_hidden_state[:, -num_directions:]
    return top.reshape(top.shape[0], -1)


def shift_tokens_right(
    labels: torch.Tensor, pad_token_id: int | None, decoder_start_token_id: int
) -> torch.Tensor:
    """Build teacher-forcing decoder inputs from labels: `[start, y_1, ..., y_{T-1}]`, with -100 turned into pad."""
    shifted = labels.new_full(labels.shape, decoder_start_token_id)
    shifted[:, 1:] = labels[:, :-1]
    return shifted.masked_fill(shifted == -100, 0 if pad_token_id is None else pad_token_id)


class RNNClassifierHead(nn.Module):
    """Dense classifier: `[Dropout -> Linear -> activation] * len(classifier_hidden_sizes) -> Dropout -> Linear`.

    Input `(..., input_size)` -> output `(..., num_outputs)` (logits: softmax/sigmoid live in the loss).
    """

    def __init__(self, config: RNNConfig, input_size: int, num_outputs: int):
        super().__init__()
        layers: list[nn.Module] = []
        for size in config.classifier_hidden_sizes:
            layers += [optional_dropout(config.classifier_dropout), nn.Linear(input_size, size)]
            layers.append(ACT2FN[config.classifier_activation])
            input_size = size
        layers += [optional_dropout(config.classifier_dropout), nn.Linear(input_size, num_outputs)]
        self.layers = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)


def optional_dropout(probability: float) -> nn.Module:
    # nn.Identity when disabled keeps the training step free of no-op dropout kernels.
    return nn.Dropout(probability) if probability > 0 else nn.Identity()


class RNNLMHeadMixin:
    """The output layer of the two generating heads, [`RNNForCausalLM`] and [`RNNForSeq2SeqLM`].

    `lm_head` maps the (decoder) states to the vocabulary and is tied to the input embeddings when
    `config.tie_word_embeddings`. A tied layer has the embedding's shape `(vocab_size, embedding_size)`, so when
    `hidden_size != embedding_size` the states first go through a bias-free `output_projection`. A mixin rather
    than a submodule keeps the weights' top-level names (`lm_head.weight`, `output_projection.weight`) that
    saved runs and `_tied_weights_keys` use. It comes before `RNNPreTrainedModel` in the bases so that its
    methods replace `PreTrainedModel`'s.
    """

    # The state cannot be rolled back to an earlier token, so assisted decoding is refused. transformers up to
    # 5.24 read this flag in `generate()`; later 5.x releases do not, so `generate` below checks it itself.
    _is_stateful = True

    def generate(self, *args, **kwargs):
        """`GenerationMixin.generate`, refusing the modes that verify draft tokens (an assistant model, prompt
        lookup, early-exit or multi-token-prediction drafts): rejecting a draft needs the recurrent state of an
        earlier token, which a running state no longer has."""
        # generation_config is generate()'s second parameter: by keyword or by position
        config = kwargs.get("generation_config") or (args[1] if len(args) > 1 else None) or self.generation_config
        drafts = [kwargs.get(name, getattr(config, name, None)) for name in DRAFTING_OPTIONS]
        if kwargs.get("assistant_model") is not None or any(d not in (None, False) for d in drafts):
            raise ValueError(
                f"{type(self).__name__} is a stateful (recurrent) model: assisted or speculative decoding "
                "(assistant_model, prompt_lookup_num_tokens, assistant_early_exit, use_mtp) needs to roll the "
                "state back to an earlier token, which an RNN cannot; generate without them."
            )
        return super().generate(*args, **kwargs)

    def _add_lm_head(self, config: RNNConfig) -> None:
        tied_with_other_size = config.tie_word_embeddings and config.hidden_size != config.embedding_size
        self.output_projection = (
            nn.Linear(config.hidden_size, config.embedding_size, bias=False) if tied_with_other_size else None
        )
        lm_input_size = config.embedding_size if tied_with_other_size else config.hidden_size
        self.lm_head = nn.Linear(lm_input_size, config.vocab_size, bias=False)

    def _logits(self, states: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits `(..., vocab_size)` from states `(..., hidden_size)`."""
        if self.output_projection is not None:
            states = self.output_projection(states)
        return self.lm_head(states)

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        # generate() must not create a key/value DynamicCache; the model creates its RNNStateCache itself.
        return False

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head = value


class RNNDecoder(nn.Module):
    """Unidirectional RNN decoder reading the encoder states through attention.

    - `attention="none"`: the encoder's final state (through `bridge_*`) is all the decoder sees (Sutskever et al.).
    - `"dot"` / `"general"` (Luong): the RNN runs over the targets first; each output `s_t` then attends over the
      encoder states and `h~_t = tanh(W_c [s_t; c_t])` feeds the LM head. Runs fused over all steps in training.
    - `"additive"` (Bahdanau): the previous top-layer state `s_{t-1}` attends first and the context `c_t` is fed
      into the RNN with the token embedding, so the decoder steps one token at a time (a Python loop).
    """

    def __init__(self, config: RNNConfig):
        super().__init__()
        self.attention_type = config.attention
        self.num_layers = config.num_layers
        memory_size = config.num_directions * config.hidden_size
        self.embeddings = nn.Embedding(config.vocab_size, config.embedding_size)
        self.embedding_dropout = optional_dropout(config.dropout)
        # Maps the encoder's final state of each layer (both directions concatenated) to the decoder's h_0 / c_0.
        self.bridge_hidden = nn.Linear(memory_size, config.hidden_size)
        self.bridge_cell = nn.Linear(memory_size, config.hidden_size) if config.cell == "lstm" else None
        rnn_input_size = config.embedding_size + (memory_size if config.attention == "additive" else 0)
        self.layers = build_fused_rnn(config, rnn_input_size, bidirectional=False)
        if config.attention != "none":
            self.attention = RNNAttention(
                config.attention, config.hidden_size, memory_size, config.hidden_size
            )
            self.attention_combine = nn.Linear(config.hidden_size + memory_size, config.hidden_size)

    def initial_state(
        self, final_hidden_state: torch.Tensor, final_cell_state: torch.Tensor | None
    ) -> RNNState:
        """Decoder `(h_0, c_0)` of shape `(num_layers, batch_size, hidden_size)` from the encoder's final states
        of shape `(batch_size, num_layers * num_directions, hidden_size)`."""
        batch_size = final_hidden_state.shape[0]
        per_layer = final_hidden_state.reshape(batch_size, self.num_layers, -1)
        hidden = torch.tanh(self.bridge_hidden(per_layer)).transpose(0, 1).contiguous()
        cell = None
        if self.bridge_cell is not None:
            cell_per_layer = final_cell_state.reshape(batch_size, self.num_layers, -1)
            cell = self.bridge_cell(cell_per_layer).transpose(0, 1).contiguous()
        return hidden, cell

    def forward(
        self,
        input_ids: torch.LongTensor,
        memory: torch.Tensor,
        memory_mask: torch.Tensor | None,
        initial_state: RNNState,
    ) -> tuple[torch.Tensor, RNNState, torch.Tensor | None]:
        """
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, tgt_len)`): decoder inputs (right-padded; a
                unidirectional decoder never looks right, so padding cannot change earlier positions).
            memory (`torch.Tensor` of shape `(batch_size, src_len, num_directions * hidden_size)`): encoder states.
            memory_mask (`torch.Tensor` of shape `(batch_size, src_len)`, *optional*): encoder padding mask.
            initial_state (`RNNState`): `(h, c)` of shape `(num_layers, batch_size, hidden_size)`.

        Returns:
            `(outputs, final_state, cross_attention)`: `outputs` of shape `(batch_size, tgt_len, hidden_size)`,
            the state after the last input, and alignment weights of shape `(batch_size, tgt_len, src_len)`
            (`None` without attention).
        """
        embedded = self.embedding_dropout(self.embeddings(input_ids))
        if self.attention_type == "additive":
            return self._bahdanau(embedded, memory, memory_mask, initial_state)
        states, final_state = run_rnn(self.layers, embedded, None, initial_state)
        if self.attention_type == "none":
            return states, final_state, None
        context, weights = self.attention(states, memory, memory_mask)
        outputs = torch.tanh(self.attention_combine(torch.cat([states, context], dim=-1)))
        return outputs, final_state, weights

    def _bahdanau(self, embedded, memory, memory_mask, state):
        outputs, alignments = [], []
        for step in range(embedded.shape[1]):
            query = state[0][-1][:, None, :]  # top layer's previous state s_{t-1}: [B, 1, H]
            context, weights = self.attention(query, memory, memory_mask)
            step_input = torch.cat([embedded[:, step : step + 1], context], dim=-1)
            step_output, state = run_rnn(self.layers, step_input, None, state)
            outputs.append(torch.tanh(self.attention_combine(torch.cat([step_output, context], dim=-1))))
            alignments.append(weights)
        return torch.cat(outputs, dim=1), state, torch.cat(alignments, dim=1)


def loss_kwargs(kwargs: dict) -> dict:
    # The Trainer passes `num_items_in_batch` (a forward with **kwargs tells it to), so that with gradient
    # accumulation the loss is averaged over all tokens of all micro-batches rather than per micro-batch.
    return {"num_items_in_batch": kwargs["num_items_in_batch"]} if "num_items_in_batch" in kwargs else {}


def average_loss(losses: torch.Tensor, num_items_in_batch: int | torch.Tensor | None) -> torch.Tensor:
    """Mean of per-token `losses`, or their sum over `num_items_in_batch` when the Trainer provides it."""
    if num_items_in_batch is None:
        return losses.mean()
    return losses.sum() / num_items_in_batch
