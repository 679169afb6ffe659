"""RNN / GRU / LSTM models as `transformers` models (`model_type="hf_rnn"`).

Every head shares one encoder, [`RNNModel`]: token embedding -> dropout -> one fused `nn.RNN`/`nn.GRU`/`nn.LSTM`
(all layers and both directions in a single cuDNN/ATen call). Padding is handled with `pack_padded_sequence`
using lengths taken from `attention_mask`, so padded positions never reach the recurrence: a padded batch gives
the same results as each example alone. Right padding is the fast path; left (or any) padding is supported by
moving the real tokens to the front before packing and back afterwards.

Heads:
- [`RNNForSequenceClassification`]: last state (both directions) or attention pooling -> dense classifier.
- [`RNNForTokenClassification`]: dense classifier on every state.
- [`RNNForCausalLM`]: unidirectional LM; `generate()` carries the recurrent state as its cache.
- [`RNNForSeq2SeqLM`]: (bi)RNN encoder + unidirectional decoder with none/additive/dot/general attention.
- [`RNNForTimeSeriesPrediction`]: RNN over a normalised numeric window -> `prediction_length` future values.

The building blocks (`run_rnn`, `build_fused_rnn`, [`RNNClassifierHead`], [`RNNDecoder`], ...) live in
`layers_rnn.py` and the output dataclasses in `outputs_rnn.py`; both are importable from here as well.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import (
    CausalLMOutputWithPast,
    Seq2SeqLMOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from transformers.utils import can_return_tuple
from transformers.utils.deprecation import deprecate_kwarg

from hf_rnn.families.rnn.attention_rnn import RNNAttention
from hf_rnn.families.rnn.cache_rnn import RNNStateCache
from hf_rnn.families.rnn.configuration_rnn import RNNConfig
from hf_rnn.families.rnn.layers_rnn import (  # noqa: F401 - RNN_CLASSES, RNNState, use_single_bias: importable from here too
    RNN_CLASSES,
    RNNClassifierHead,
    RNNDecoder,
    RNNLMHeadMixin,
    RNNState,
    average_loss,
    build_fused_rnn,
    last_layer_features,
    loss_kwargs,
    optional_dropout,
    run_rnn,
    shift_tokens_right,
    use_single_bias,
)
from hf_rnn.families.rnn.outputs_rnn import RNNModelOutput, RNNTimeSeriesPredictionOutput
from hf_rnn.families.saved_folder import (
    check_saved_architecture,
    clear_size_mismatch,
    reraise_weight_file_error,
)
from hf_rnn.families.window_scaling import scale_windows


def _with_encoder_decoder_flag(config: RNNConfig, is_encoder_decoder: bool) -> RNNConfig:
    """`generate()` reads `config.is_encoder_decoder`; set it for this head on a copy, never on the caller's
    object (which may be shared with a model of another head)."""
    if config.is_encoder_decoder == is_encoder_decoder:
        return config
    config = copy.deepcopy(config)
    config.is_encoder_decoder = is_encoder_decoder
    return config


# --------------------------------------------------------------------------------------------------------------
# Base classes
# --------------------------------------------------------------------------------------------------------------


def own_weight_memory(model: nn.Module) -> None:
    """Copy every parameter and buffer that lies outside the allocator's 64-byte alignment into fresh memory.

    `from_pretrained` leaves the weights as views into the memory-mapped `model.safetensors`, at whatever offset
    the file gives them (often 8 bytes past a 64-byte boundary). On CPU, oneDNN/MKL pick other kernels for
    unaligned matrices: a reloaded LSTM then differs from the saved one in the last bit on some CPUs (seen on AMD
    EPYC, 1.5e-8), and unaligned operands are also a little slower (2% for a 256-unit BiLSTM on 2 AMD cores).
    Assigning `.data` keeps each
    `nn.Parameter` object (and the RNN's `_flat_weights` list that points at them) in place.
    """
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            if tensor.device.type == "cpu" and tensor.numel() and tensor.data_ptr() % 64:
                tensor.data = tensor.data.clone(memory_format=torch.contiguous_format)


class RNNPreTrainedModel(PreTrainedModel):
    """Common base: config class, weight init, and `from_pretrained` that refuses a folder saved with another head."""

    config: RNNConfig
    config_class = RNNConfig
    base_model_prefix = "rnn"
    main_input_name = "input_ids"
    reads_task_inputs = True  # the task's own inputs, not an LLM's prompt (hf_rnn.tasks.input_family)
    # The blocks that stay whole: FSDP's transformer-based wrap makes each one shard unit (accelerate
    # reads this list when the config names no layer class) and a device_map never splits them. The
    # whole encoder or decoder rather than its nn.LSTM: the additive decoder calls its LSTM once per token.
    _no_split_modules = ["RNNModel", "RNNDecoder"]

    def __init__(self, config: RNNConfig, *inputs, **kwargs):
        config.check_rnn_settings()  # the config may have been edited since it was created
        super().__init__(config, *inputs, **kwargs)

    def post_init(self) -> None:
        super().post_init()
        # only the blocks this head has (a classifier has no RNNDecoder, a forecaster neither block):
        # accelerate's FSDP wrap fails on a listed class the model does not contain
        present = {type(module).__name__ for module in self.modules()}
        self._no_split_modules = {name for name in self._no_split_modules if name in present}

    def _init_weights(self, module: nn.Module) -> None:
        # PyTorch's own defaults (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for RNN and linear layers, N(0, 1) for
        # embeddings), which train small RNNs well. `init.*` skips tensors loaded from a checkpoint.
        if isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=1.0)
        elif isinstance(module, nn.Linear):
            bound = 1.0 / math.sqrt(module.in_features)
            init.uniform_(module.weight, -bound, bound)
            if module.bias is not None:
                init.uniform_(module.bias, -bound, bound)
        elif isinstance(module, nn.RNNBase):
            bound = 1.0 / math.sqrt(module.hidden_size)
            # recurse=False lists the weights and biases; keras_bias zero buffers are not parameters.
            for parameter in module.parameters(recurse=False):
                init.uniform_(parameter, -bound, bound)

    @classmethod
    def from_pretrained(
        cls, pretrained_model_name_or_path, *model_args, allow_different_head: bool = False, **kwargs
    ):
        """`PreTrainedModel.from_pretrained`, with two clearer failures for local folders:

        - a folder saved with another head of this family (e.g. token classification loaded as seq2seq) raises a
          `ValueError` instead of silently initialising the missing head; pass `allow_different_head=True` to
          reuse the matching weights on purpose, or use `hf_rnn.models.load_rnn(folder)` to load the saved head;
        - a truncated or corrupt `model.safetensors` raises an `OSError` naming the file;
        - weights that do not fit `config.json` (an edited `hidden_size`) raise a `ModelLoadError` (a `ValueError`)
          naming the folder, instead of a table of every weight and a `RuntimeError`.
        """
        check_saved_architecture(pretrained_model_name_or_path, cls.__name__, allow_different_head)
        try:
            with clear_size_mismatch(pretrained_model_name_or_path):
                loaded = super().from_pretrained(pretrained_model_name_or_path, *model_args, **kwargs)
        except Exception as error:  # noqa: BLE001 - only weight-file errors are rewrapped, the rest re-raised
            reraise_weight_file_error(error, pretrained_model_name_or_path)
            raise
        if isinstance(loaded, tuple):  # output_loading_info=True
            own_weight_memory(loaded[0])
        else:
            own_weight_memory(loaded)
        return loaded


class RNNModel(RNNPreTrainedModel):
    """The shared encoder: `nn.Embedding` -> dropout -> fused RNN/GRU/LSTM (packed by `attention_mask`).

    This is what `AutoModel` loads for `model_type="hf_rnn"`.
    """

    def __init__(self, config: RNNConfig):
        super().__init__(config)
        self.embeddings = nn.Embedding(config.vocab_size, config.embedding_size)
        self.embedding_dropout = optional_dropout(config.dropout)
        self.layers = build_fused_rnn(config, config.embedding_size)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings = value

    @can_return_tuple
    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        cache: RNNStateCache | None = None,
        use_cache: bool | None = None,
        output_hidden_states: bool | None = None,
        return_sequences: bool = True,
        **kwargs,
    ) -> RNNModelOutput | tuple:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, seq_len)`): token ids.
            attention_mask (`torch.Tensor` of shape `(batch_size, seq_len)` or `(batch_size, past_len + seq_len)`,
                *optional*): 1 for tokens, 0 for padding (right or left). With a `cache`, a mask covering past and
                new tokens (as `generate()` passes it) is cut to its last `seq_len` columns.
            inputs_embeds (`torch.Tensor` of shape `(batch_size, seq_len, embedding_size)`, *optional*): instead of
                `input_ids`, e.g. numeric features.
            cache (`RNNStateCache`, *optional*): continue from this state (unidirectional models only); updated in
                place and returned.
            use_cache (`bool`, *optional*, defaults to `False`): return the final state as an `RNNStateCache`.
            output_hidden_states (`bool`, *optional*): return `(embeddings, last_hidden_state)`.
            return_sequences (`bool`, *optional*, defaults to `True`): `False` leaves `last_hidden_state` as `None`
                and saves unpacking it, for heads that only read the final state (Keras' `return_sequences`).
            **kwargs: ignored (lets `generate()` pass encoder kwargs such as `output_attentions`).

        Returns:
            [`RNNModelOutput`] (or a tuple when `return_dict=False`).
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("RNNModel needs exactly one of `input_ids` or `inputs_embeds`.")
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        use_cache = bool(use_cache) or cache is not None
        if use_cache and self.config.bidirectional:
            raise ValueError(
                "A bidirectional RNN cannot continue from a cached state: its backward direction would need the "
                "tokens that come later. Use a unidirectional config for incremental decoding."
            )

        if inputs_embeds is None:
            inputs_embeds = self.embeddings(input_ids)
        seq_len = inputs_embeds.shape[1]
        if attention_mask is not None and attention_mask.shape[1] != seq_len:
            if cache is None or attention_mask.shape[1] < seq_len:
                raise ValueError(
                    f"attention_mask has {attention_mask.shape[1]} columns but the input has {seq_len} tokens."
                )
            attention_mask = attention_mask[:, -seq_len:]  # the past is already summarised in the cache

        initial_state = cache.get_state() if cache is not None and cache.has_state() else None
        outputs, (hidden, cell) = run_rnn(
            self.layers,
            self.embedding_dropout(inputs_embeds),
            attention_mask,
            initial_state,
            return_sequences=return_sequences or bool(output_hidden_states),
        )
        if use_cache:
            cache = cache if cache is not None else RNNStateCache(self.config.num_layers)
            cache.update_state(hidden, cell, num_new_tokens=seq_len)

        return RNNModelOutput(
            last_hidden_state=outputs,
            final_hidden_state=hidden.transpose(0, 1),
            final_cell_state=None if cell is None else cell.transpose(0, 1),
            cache=cache if use_cache else None,
            hidden_states=(inputs_embeds, outputs) if output_hidden_states else None,
        )


# --------------------------------------------------------------------------------------------------------------
# Classification heads
# --------------------------------------------------------------------------------------------------------------


class RNNForSequenceClassification(RNNPreTrainedModel):
    """RNN encoder -> pooled features -> dense classifier (sentiment classification in the lecture).

    Pooling: with `config.attention == "none"`, the top layer's final state (forward after the last real token,
    concatenated with backward after the first for a bidirectional RNN); otherwise attention pooling, where that
    final state is the query scored against every state.
    """

    # One loss term per example: there is no token count for the Trainer to normalise by.
    accepts_loss_kwargs = False

    def __init__(self, config: RNNConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.rnn = RNNModel(config)
        feature_size = config.num_directions * config.hidden_size
        if config.attention != "none":
            self.attention_pooling = RNNAttention(
                config.attention, feature_size, feature_size, config.hidden_size
            )
        self.classifier = RNNClassifierHead(config, feature_size, config.num_labels)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.rnn.embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.rnn.embeddings = value

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput | tuple:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, seq_len)`)
            attention_mask (`torch.Tensor` of shape `(batch_size, seq_len)`, *optional*): 1 = token, 0 = padding.
            labels (`torch.Tensor` of shape `(batch_size,)`, *optional*): class ids for cross-entropy; float targets
                of shape `(batch_size,)` for regression when `num_labels == 1` (MSE), or `(batch_size, num_labels)`
                for multi-label (BCE with logits), following `config.problem_type` like `transformers` heads.
            output_attentions (`bool`, *optional*): return the attention-pooling weights (attention heads only).

        Returns:
            `SequenceClassifierOutput` with `logits` of shape `(batch_size, num_labels)` and, when
            `output_attentions`, `attentions=(weights,)` where `weights` has shape `(batch_size, 1, 1, seq_len)`
            (one head, one query, one weight per position; zeros on padding).
        """
        output_attentions = (
            output_attentions if output_attentions is not None else self.config.output_attentions
        )
        encoded = self.rnn(
            input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            # Last-state pooling reads only h_n; unpacking every position would cost time for nothing.
            return_sequences=self.config.attention != "none",
        )
        pooled = last_layer_features(encoded.final_hidden_state, self.config.num_directions)
        attentions = None
        if self.config.attention != "none":
            context, weights = self.attention_pooling(
                pooled[:, None, :], encoded.last_hidden_state, attention_mask
            )
            pooled = context[:, 0]
            attentions = (weights[:, None],) if output_attentions else None  # [B, 1, 1, T]
        logits = self.classifier(pooled)

        loss = None
        if labels is not None:
            loss = self.loss_function(labels=labels, pooled_logits=logits, config=self.config)

        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=encoded.hidden_states, attentions=attentions
        )


class RNNForTokenClassification(RNNPreTrainedModel):
    """RNN encoder -> dense classifier on every position (word labeling in the lecture).

    With `num_labels == 1` the head is a binary tagger (one logit per token, BCE with logits), which is what the
    lecture's `... -> Dense(1, activation='sigmoid')` on `return_sequences=True` outputs computes.
    """

    def __init__(self, config: RNNConfig):
        config.check_head_supports_attention(type(self).__name__)
        super().__init__(config)
        self.num_labels = config.num_labels
        self.rnn = RNNModel(config)
        self.classifier = RNNClassifierHead(
            config, config.num_directions * config.hidden_size, config.num_labels
        )
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.rnn.embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.rnn.embeddings = value

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> TokenClassifierOutput | tuple:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, seq_len)`)
            attention_mask (`torch.Tensor` of shape `(batch_size, seq_len)`, *optional*): 1 = token, 0 = padding.
            labels (`torch.LongTensor` of shape `(batch_size, seq_len)`, *optional*): label ids, -100 = ignored
                (e.g. sub-word continuations). Padded positions (mask 0) are ignored too. With `num_labels == 1`,
                0/1 targets for a binary tagger.

        Returns:
            `TokenClassifierOutput` with `logits` of shape `(batch_size, seq_len, num_labels)`.
        """
        encoded = self.rnn(
            input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.classifier(encoded.last_hidden_state)

        loss = None
        if labels is not None:
            if attention_mask is not None:
                labels = labels.masked_fill(attention_mask == 0, -100)
            if self.num_labels == 1:
                kept = labels != -100
                losses = F.binary_cross_entropy_with_logits(
                    logits[..., 0][kept].float(), labels[kept].float(), reduction="none"
                )
                loss = average_loss(losses, kwargs.get("num_items_in_batch"))
            else:
                loss = self.loss_function(logits, labels, self.config, **loss_kwargs(kwargs))

        return TokenClassifierOutput(loss=loss, logits=logits, hidden_states=encoded.hidden_states)


# --------------------------------------------------------------------------------------------------------------
# Causal language model
# --------------------------------------------------------------------------------------------------------------


class RNNForCausalLM(RNNLMHeadMixin, RNNPreTrainedModel, GenerationMixin):
    """Unidirectional RNN language model (text generation in the lecture).

    `generate()` works with greedy search, sampling (`top_k`, `top_p`, `temperature`) and beam search. The cache is
    an [`RNNStateCache`]: after the prompt has been run once, each new token costs a single RNN step.
    """

    _tied_weights_keys = {"lm_head.weight": "rnn.embeddings.weight"}

    def __init__(self, config: RNNConfig):
        if config.bidirectional:
            raise ValueError(
                "RNNForCausalLM cannot be bidirectional (RNNConfig.bidirectional=True): the backward direction reads "
                "the sequence right-to-left, so a bidirectional LM would see the token it must predict. Use "
                "bidirectional=False, or RNNForSeq2SeqLM for a bidirectional encoder with a unidirectional decoder."
            )
        config.check_head_supports_attention(type(self).__name__)
        super().__init__(_with_encoder_decoder_flag(config, False))
        config = self.config
        self.rnn = RNNModel(config)
        self._add_lm_head(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.rnn.embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.rnn.embeddings = value

    @can_return_tuple
    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        cache: RNNStateCache | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        output_hidden_states: bool | None = None,
        logits_to_keep: int = 0,
        **kwargs,
    ) -> CausalLMOutputWithPast | tuple:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, seq_len)`): the tokens to read. With a `cache`,
                only the new tokens (`generate()` passes one per step).
            attention_mask (`torch.Tensor` of shape `(batch_size, seq_len)` or `(batch_size, past_len + seq_len)`,
                *optional*): 1 = token, 0 = padding. Left padding (as used for batched generation) and right padding
                are both handled by packing.
            cache (`RNNStateCache`, *optional*): state after the previous tokens (`past_key_values` is accepted as a
                deprecated alias, as in `transformers` 5).
            labels (`torch.LongTensor` of shape `(batch_size, seq_len)`, *optional*): usually `labels = input_ids`;
                shifted inside the model (position t predicts token t + 1). -100 and padded positions are ignored.
            use_cache (`bool`, *optional*): return the final state as `cache` (default: `config.use_cache` in eval
                mode, never when `labels` are given).
            logits_to_keep (`int`, *optional*): compute logits for the last `logits_to_keep` positions only (0 = all);
                `generate()` sets 1 to skip the vocabulary projection of the prompt.

        Returns:
            `CausalLMOutputWithPast` with `logits` of shape `(batch_size, seq_len, vocab_size)` and `cache`.
        """
        if labels is not None:
            use_cache = False
        elif use_cache is None:
            use_cache = self.config.use_cache and not self.training
        encoded = self.rnn(
            input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            cache=cache,
            use_cache=use_cache,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        hidden = encoded.last_hidden_state
        if logits_to_keep and labels is None:
            hidden = hidden[:, -logits_to_keep:]
        logits = self._logits(hidden)

        loss = None
        if labels is not None:
            # Position t predicts token t + 1; a pair counts only if both tokens are real. Masking just the labels
            # would let a left-padding position "predict" the first real token.
            shift_labels = F.pad(labels[:, 1:], (0, 1), value=-100)
            if attention_mask is not None:
                real = attention_mask[:, -labels.shape[1] :].bool()
                real_pair = real & F.pad(real[:, 1:], (0, 1), value=False)
                shift_labels = shift_labels.masked_fill(~real_pair, -100)
            loss = self.loss_function(
                logits=logits,
                labels=labels,
                shift_labels=shift_labels,
                vocab_size=self.config.vocab_size,
                **loss_kwargs(kwargs),
            )

        return CausalLMOutputWithPast(
            loss=loss, logits=logits, cache=encoded.cache, hidden_states=encoded.hidden_states
        )


# --------------------------------------------------------------------------------------------------------------
# Sequence-to-sequence
# --------------------------------------------------------------------------------------------------------------


class RNNForSeq2SeqLM(RNNLMHeadMixin, RNNPreTrainedModel, GenerationMixin):
    """Encoder-decoder RNN (machine translation in the lecture).

    The encoder is an [`RNNModel`] (may be bidirectional); the decoder an [`RNNDecoder`] (always unidirectional)
    whose initial state is bridged from the encoder's final state, with optional attention over the encoder
    states. `generate()` supports greedy search, sampling and beam search (`num_beams > 1`); its cache is the
    decoder's [`RNNStateCache`], reordered between beam steps by `generate()` itself.
    """

    _tied_weights_keys = {"lm_head.weight": "decoder.embeddings.weight"}

    def __init__(self, config: RNNConfig):
        super().__init__(_with_encoder_decoder_flag(config, True))
        config = self.config
        self.encoder = RNNModel(config)
        self.decoder = RNNDecoder(config)
        self._add_lm_head(config)
        self.post_init()

    def get_encoder(self) -> RNNModel:
        return self.encoder

    def get_decoder(self) -> RNNDecoder:
        return self.decoder

    def get_input_embeddings(self) -> nn.Embedding:
        return self.encoder.embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.encoder.embeddings = value

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        return shift_tokens_right(labels, self.config.pad_token_id, self._decoder_start_token_id())

    def _decoder_start_token_id(self) -> int:
        start = self.config.decoder_start_token_id
        start = self.config.bos_token_id if start is None else start
        if start is None:
            raise ValueError(
                "RNNForSeq2SeqLM needs RNNConfig.decoder_start_token_id (or bos_token_id) to shift labels into "
                "decoder inputs."
            )
        return start

    @can_return_tuple
    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: RNNModelOutput | tuple | None = None,
        cache: RNNStateCache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> Seq2SeqLMOutput | tuple:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, src_len)`): source tokens.
            attention_mask (`torch.Tensor` of shape `(batch_size, src_len)`, *optional*): source padding mask.
            decoder_input_ids (`torch.LongTensor` of shape `(batch_size, tgt_len)`, *optional*): decoder inputs;
                built from `labels` by shifting right with `decoder_start_token_id` when omitted (like BART/T5).
                With a `cache`, only the new tokens.
            decoder_attention_mask (*optional*): accepted for API compatibility and unused: the unidirectional
                decoder never sees the right padding of later positions (their labels should be -100).
            encoder_outputs (`RNNModelOutput` or tuple, *optional*): precomputed `get_encoder()` outputs.
            cache (`RNNStateCache`, *optional*): decoder state after the previous target tokens (`past_key_values`
                is accepted as a deprecated alias).
            labels (`torch.LongTensor` of shape `(batch_size, tgt_len)`, *optional*): target ids, -100 = ignored.
            output_attentions (`bool`, *optional*): return the decoder-over-encoder alignments.

        Returns:
            `Seq2SeqLMOutput` with `logits` of shape `(batch_size, tgt_len, vocab_size)`, `cache`, and (with
            attention and `output_attentions`) `cross_attentions = (weights,)`, `weights` of shape
            `(batch_size, 1, tgt_len, src_len)` (one layer, one head).
        """
        output_attentions = (
            output_attentions if output_attentions is not None else self.config.output_attentions
        )
        if labels is not None:
            use_cache = False
            if decoder_input_ids is None:
                decoder_input_ids = self.prepare_decoder_input_ids_from_labels(labels)
        elif use_cache is None:
            use_cache = self.config.use_cache and not self.training
        if decoder_input_ids is None:
            raise ValueError("RNNForSeq2SeqLM needs `decoder_input_ids` or `labels`.")

        if encoder_outputs is None:
            encoder_outputs = self.encoder(
                input_ids,
                attention_mask=attention_mask,
                inputs_embeds=inputs_embeds,
                output_hidden_states=output_hidden_states,
                return_dict=True,
            )
        elif not isinstance(encoder_outputs, RNNModelOutput):
            encoder_outputs = RNNModelOutput(*encoder_outputs)

        if cache is not None and cache.has_state():
            initial_state = cache.get_state()
        else:
            initial_state = self.decoder.initial_state(
                encoder_outputs.final_hidden_state, encoder_outputs.final_cell_state
            )
        decoder_outputs, (hidden, cell), alignments = self.decoder(
            decoder_input_ids, encoder_outputs.last_hidden_state, attention_mask, initial_state
        )
        if use_cache or cache is not None:
            cache = cache if cache is not None else RNNStateCache(self.config.num_layers)
            cache.update_state(hidden, cell, num_new_tokens=decoder_input_ids.shape[1])

        logits = self._logits(decoder_outputs)

        loss = None
        if labels is not None:
            losses = F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), reduction="none"
            )
            loss = average_loss(losses[labels.reshape(-1) != -100], kwargs.get("num_items_in_batch"))

        return Seq2SeqLMOutput(
            loss=loss,
            logits=logits,
            cache=cache,
            cross_attentions=(alignments[:, None],) if output_attentions and alignments is not None else None,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_hidden_states=encoder_outputs.hidden_states,
        )


# --------------------------------------------------------------------------------------------------------------
# Time series
# --------------------------------------------------------------------------------------------------------------


class RNNForTimeSeriesPrediction(RNNPreTrainedModel):
    """RNN over a numeric window -> the next `prediction_length` values (time-series prediction in the lecture).

    Each window is normalised by the mean and standard deviation of its observed past values inside the model,
    and the forecast is mapped back, so raw series values can be fed directly. The RNN reads, per step, the
    normalised values and the observed flags (`2 * input_size` features); missing values are set to the mean.
    """

    main_input_name = "past_values"
    accepts_loss_kwargs = False  # MSE over windows, no token count to normalise by

    def __init__(self, config: RNNConfig):
        if config.prediction_length is None:
            raise ValueError(
                "RNNForTimeSeriesPrediction needs RNNConfig.prediction_length (the forecast horizon)."
            )
        config.check_head_supports_attention(type(self).__name__)
        super().__init__(config)
        self.input_size = config.input_size or 1
        self.layers = build_fused_rnn(config, 2 * self.input_size)
        self.head = nn.Linear(
            config.num_directions * config.hidden_size, config.prediction_length * self.input_size
        )
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        past_values: torch.Tensor,
        past_observed_mask: torch.Tensor | None = None,
        future_values: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> RNNTimeSeriesPredictionOutput | tuple:
        r"""
        Args:
            past_values (`torch.FloatTensor` of shape `(batch_size, context_length)` or
                `(batch_size, context_length, input_size)`): the window, on its original scale.
            past_observed_mask (same shape, *optional*): 1 where a value was observed, 0 where it is missing.
            future_values (`torch.FloatTensor` of shape `(batch_size, prediction_length[, input_size])`, *optional*):
                targets; the loss is the MSE between the normalised forecast and the normalised targets.

        Returns:
            [`RNNTimeSeriesPredictionOutput`] with `prediction` shaped like `future_values`.
        """
        univariate = past_values.dim() == 2
        values = past_values[..., None] if univariate else past_values  # [B, T, F]
        if values.shape[-1] != self.input_size:
            raise ValueError(
                f"past_values has {values.shape[-1]} features, the config says input_size={self.input_size}."
            )
        if values.shape[1] == 0:  # no mean nor spread to scale by: a forecast from nothing would be made up
            raise ValueError("past_values has no time steps: a forecast needs at least one past value.")
        normalised, observed, loc, scale = scale_windows(values, past_observed_mask)  # loc, scale [B, 1, F]

        rnn_inputs = torch.cat([normalised, observed], dim=-1)
        outputs, (hidden, _) = run_rnn(self.layers, rnn_inputs, return_sequences=bool(output_hidden_states))
        features = last_layer_features(hidden.transpose(0, 1), self.config.num_directions)
        forecast = self.head(features).reshape(-1, self.config.prediction_length, self.input_size)

        loss = None
        if future_values is not None:
            target = future_values[..., None] if univariate else future_values
            loss = F.mse_loss(forecast, (target - loc) / scale)
        prediction = forecast * scale + loc
        if univariate:
            prediction = prediction[..., 0]

        return RNNTimeSeriesPredictionOutput(
            loss=loss,
            prediction=prediction,
            loc=loc,
            scale=scale,
            hidden_states=(rnn_inputs, outputs) if output_hidden_states else None,
        )


RNN_HEADS: dict[str, type[RNNPreTrainedModel]] = {
    cls.__name__: cls
    for cls in (
        RNNModel,
        RNNForSequenceClassification,
        RNNForTokenClassification,
        RNNForCausalLM,
        RNNForSeq2SeqLM,
        RNNForTimeSeriesPrediction,
    )
}


def register_auto_classes() -> None:
    """Make `AutoConfig` / `AutoModel*` resolve `model_type="hf_rnn"` to these classes (no trust_remote_code).

    Called on `import hf_rnn.models`; re-imports (e.g. module reloads) are harmless.
    """
    from hf_rnn.families.auto_registration import register_with_auto

    register_with_auto(RNNConfig, {
        "AutoModel": RNNModel, "AutoModelForSequenceClassification": RNNForSequenceClassification,
        "AutoModelForTokenClassification": RNNForTokenClassification, "AutoModelForCausalLM": RNNForCausalLM,
        "AutoModelForSeq2SeqLM": RNNForSeq2SeqLM, "AutoModelForTimeSeriesPrediction": RNNForTimeSeriesPrediction})
