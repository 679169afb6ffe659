"""Mamba-2 task heads as `transformers` models (`model_type="hf_mamba2"`), trained from scratch.

The layers are transformers' own [`Mamba2Model`] (embedding -> `Mamba2Block`s -> RMSNorm), built from an
[`HfMamba2Config`]; with no `mamba_ssm` / `causal_conv1d` kernels they run transformers' chunked PyTorch path
(state-space duality), which trains on a CPU. The heads add what each task kind needs:

- [`HfMamba2ForSequenceClassification`]: masked mean, last real token, or additive attention over the real
  tokens (queried by the last one, as the RNN classifier's attention pooling) of the states -> linear layer.
  The attention's layers start from this family's init (normal, std `initializer_range`), not the RNN's.
- [`HfMamba2ForTokenClassification`]: a linear layer on every state.
- [`HfMamba2ForCausalLM`]: next-token prediction; `generate()` carries the recurrent and conv states in
  transformers' cache. With `reads_prompt=True` it is a decoder-only translator over source -> target.
- [`HfMamba2ForTimeSeriesPrediction`]: normalised values (and observed flags) -> a linear projection as
  `inputs_embeds` -> the last state -> `prediction_length` values.

`bidirectional=True` adds a second `Mamba2Model` that reads each row's real tokens right-to-left (padding stays
where it is, so neither direction reads it), its states turned back to left-to-right order and concatenated.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, Mamba2Model
from transformers.modeling_outputs import (
    BaseModelOutputWithPast,
    CausalLMOutputWithPast,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from transformers.models.mamba2.modeling_mamba2 import Mamba2PreTrainedModel
from transformers.utils import can_return_tuple

from hf_rnn.families.mamba2.configuration_mamba2 import HfMamba2Config
from hf_rnn.families.rnn.attention_rnn import RNNAttention
from hf_rnn.families.rnn.layers_rnn import loss_kwargs
from hf_rnn.families.rnn.modeling_rnn import own_weight_memory
from hf_rnn.families.rnn.outputs_rnn import RNNTimeSeriesPredictionOutput
from hf_rnn.families.saved_folder import read_saved_architecture, reraise_weight_file_error
from hf_rnn.families.window_scaling import scale_windows

# --------------------------------------------------------------------------------------------------------------
# Padding helpers
# --------------------------------------------------------------------------------------------------------------


def reversal_index(attention_mask: torch.Tensor | None, batch_size: int, seq_len: int,
                   device: torch.device) -> torch.Tensor:
    """`[B, T]` positions that reverse each row's real tokens among themselves and leave padding in place.

    The k-th real token of a row trades places with its (n-1-k)-th (n real tokens), wherever the padding is;
    the index is its own inverse, so gathering with it twice gives the input back.
    """
    positions = torch.arange(seq_len, device=device).expand(batch_size, seq_len)
    if attention_mask is None:
        return positions.flip(1)
    real = attention_mask.bool()
    order = torch.argsort((~real).to(torch.int8), dim=1, stable=True)  # real positions first, in order
    rank = real.long().cumsum(1) - 1  # k: how many real tokens come before, [B, T]
    count = real.long().sum(1, keepdim=True)  # n
    partner = order.gather(1, (count - 1 - rank).clamp(min=0))
    return torch.where(real, partner, positions)


def gather_positions(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """`values[b, index[b, t]]` for `values` `[B, T, ...]` and `index` `[B, T]`."""
    expanded = index.reshape(*index.shape, *([1] * (values.dim() - 2))).expand_as(values)
    return values.gather(1, expanded)


def last_real_positions(attention_mask: torch.Tensor | None, batch_size: int, seq_len: int,
                        device: torch.device) -> torch.Tensor:
    """`[B]` position of each row's last real token (the last column without a mask)."""
    if attention_mask is None:
        return torch.full((batch_size,), seq_len - 1, device=device, dtype=torch.long)
    positions = torch.arange(seq_len, device=device)
    return (attention_mask.bool() * (positions + 1)).argmax(1)


def first_real_positions(attention_mask: torch.Tensor | None, batch_size: int, seq_len: int,
                         device: torch.device) -> torch.Tensor:
    """`[B]` position of each row's first real token."""
    if attention_mask is None:
        return torch.zeros(batch_size, device=device, dtype=torch.long)
    positions = torch.arange(seq_len, device=device)
    return (attention_mask.bool() * (seq_len - positions)).argmax(1)


# --------------------------------------------------------------------------------------------------------------
# Base classes
# --------------------------------------------------------------------------------------------------------------


class HfMamba2PreTrainedModel(Mamba2PreTrainedModel):
    """Common base: transformers' Mamba-2 weight init, the config check, and a `from_pretrained` that refuses a
    folder saved with another head (transformers would start the missing head at random, silently)."""

    config: HfMamba2Config
    config_class = HfMamba2Config
    base_model_prefix = "mamba2"
    main_input_name = "input_ids"
    reads_task_inputs = True  # the task's own inputs, not an LLM's prompt (hf_rnn.tasks.input_family)
    supports_gradient_checkpointing = False
    _no_split_modules = ["Mamba2Block"]

    def __init__(self, config: HfMamba2Config, *inputs, **kwargs):
        config.check_mamba2_settings()  # the config may have been edited since it was created
        super().__init__(config, *inputs, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, allow_different_head: bool = False,
                        **kwargs):
        folder = os.fspath(pretrained_model_name_or_path)
        if not allow_different_head and os.path.isdir(folder):
            saved = read_saved_architecture(folder)
            if saved is not None and saved != cls.__name__:
                raise ValueError(
                    f"'{folder}' holds a {saved} checkpoint (config.json 'architectures'), which cannot be loaded "
                    f"as {cls.__name__}: the heads have different weights, so the new head would be random. Load "
                    f"it with {saved}.from_pretrained or hf_rnn.models.load_mamba2(folder), or pass "
                    "allow_different_head=True to reuse the shared weights on purpose."
                )
        try:
            loaded = super().from_pretrained(pretrained_model_name_or_path, *model_args, **kwargs)
        except Exception as error:  # noqa: BLE001 - only weight-file errors are rewrapped, the rest re-raised
            reraise_weight_file_error(error, pretrained_model_name_or_path)
            raise
        own_weight_memory(loaded[0] if isinstance(loaded, tuple) else loaded)
        return loaded


class HfMamba2Model(HfMamba2PreTrainedModel):
    """One or two transformers `Mamba2Model` stacks over the same embeddings.

    `backbone` reads left-to-right and owns the token embeddings (none when the config reads values:
    `input_size` set, inputs come as `inputs_embeds`); `embedding_projection` maps them to the stack's width
    where `embedding_size` differs from `hidden_size`; `backward_backbone` (bidirectional only) reads each
    row's real tokens right-to-left. This is what `AutoModel` loads for `model_type="hf_mamba2"`.
    """

    def __init__(self, config: HfMamba2Config):
        super().__init__(config)
        self.backbone = Mamba2Model(config)
        self.embedding_projection = None
        if config.reads_values:
            self.backbone.embeddings = None  # values are projected by the head, never looked up
        elif config.projects_embeddings:  # a table of another width (SmolLM2's 576) under a narrower stack
            self.backbone.embeddings = nn.Embedding(config.vocab_size, config.embedding_size)
            self.embedding_projection = nn.Linear(config.embedding_size, config.hidden_size)
        self.backward_backbone = None
        if config.bidirectional:
            self.backward_backbone = Mamba2Model(config)
            self.backward_backbone.embeddings = None  # it reads the forward stack's embeddings, reversed
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding | None:
        return self.backbone.embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.backbone.embeddings = value

    def stacks(self) -> list[tuple[str, Mamba2Model]]:
        """`[(direction, Mamba2Model)]`: `("forward", ...)`, then `("backward", ...)` when bidirectional."""
        stacks = [("forward", self.backbone)]
        if self.backward_backbone is not None:
            stacks.append(("backward", self.backward_backbone))
        return stacks

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        cache=None,
        use_cache: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPast:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, seq_len)`): token ids.
            attention_mask (`torch.Tensor` of shape `(batch_size, seq_len)`, *optional*): 1 = token, 0 = padding
                (left or right; padded positions are zeroed before every mixer, so they change no state).
            inputs_embeds (`torch.Tensor` of shape `(batch_size, seq_len, embedding_size)`, *optional*): instead of
                `input_ids`: token embeddings as `get_input_embeddings()` gives them (`embedding_size` wide, projected
                here; `hidden_size` wide without a projection), or a forecaster's projected values.
            cache (`Cache`, *optional*): transformers' recurrent cache (forward stack only: generation).
            use_cache (`bool`, *optional*): return the cache.

        Returns:
            `BaseModelOutputWithPast` with `last_hidden_state` of shape
            `(batch_size, seq_len, num_directions * hidden_size)` and the `cache`.
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("HfMamba2Model needs exactly one of `input_ids` or `inputs_embeds`.")
        if self.backward_backbone is not None and (use_cache or cache is not None):
            raise ValueError("A bidirectional Mamba-2 cannot continue from a cached state: its backward stack "
                             "would need the tokens that come later.")
        if inputs_embeds is None:
            if self.backbone.embeddings is None:
                raise ValueError("This Mamba-2 stack reads values (config.input_size is set): pass inputs_embeds.")
            inputs_embeds = self.backbone.embeddings(input_ids)  # (batch_size, seq_len, embedding_size)
        if self.embedding_projection is not None:  # what get_input_embeddings() gives may be fed back as inputs_embeds
            inputs_embeds = self.embedding_projection(inputs_embeds)  # (batch_size, seq_len, hidden_size)
        forward = self.backbone(inputs_embeds=inputs_embeds, attention_mask=attention_mask, cache=cache,
                                use_cache=use_cache, return_dict=True)
        hidden = forward.last_hidden_state
        if self.backward_backbone is not None:
            batch_size, seq_len = inputs_embeds.shape[:2]
            index = reversal_index(attention_mask, batch_size, seq_len, inputs_embeds.device)
            backward = self.backward_backbone(inputs_embeds=gather_positions(inputs_embeds, index),
                                              attention_mask=attention_mask, return_dict=True)
            hidden = torch.cat([hidden, gather_positions(backward.last_hidden_state, index)], dim=-1)
        return BaseModelOutputWithPast(last_hidden_state=hidden, cache=forward.cache)


# --------------------------------------------------------------------------------------------------------------
# Classification heads
# --------------------------------------------------------------------------------------------------------------


class HfMamba2ForSequenceClassification(HfMamba2PreTrainedModel):
    """Mamba-2 stack(s) -> pooled features (masked mean, last real token, or attention over the real tokens)
    -> dropout -> linear layer."""

    accepts_loss_kwargs = False  # one loss term per example: no token count to normalise by

    def __init__(self, config: HfMamba2Config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = HfMamba2Model(config)
        self.dropout = nn.Dropout(config.classifier_dropout)
        features = config.num_directions * config.hidden_size
        if config.pooling == "attention":  # the same additive scores as the RNN classifier's attention pooling
            self.attention_pooling = RNNAttention("additive", features, features, config.hidden_size)
        self.score = nn.Linear(features, config.num_labels)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.model.set_input_embeddings(value)

    def pool(self, hidden: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        """`[B, F]` features of `hidden` `[B, T, F]`: the real tokens' mean; the forward half at the last real
        token (and the backward half at the first, where that direction ends); or, for `"attention"`, the real
        tokens' states weighted by additive attention with those last features as the query."""
        batch_size, seq_len = hidden.shape[:2]
        if self.config.pooling == "mean":
            if attention_mask is None:
                return hidden.mean(1)
            weights = attention_mask.to(hidden.dtype)[..., None]
            return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        rows = torch.arange(batch_size, device=hidden.device)
        last = last_real_positions(attention_mask, batch_size, seq_len, hidden.device)
        width = self.config.hidden_size
        pooled = hidden[rows, last, :width]
        if self.config.bidirectional:
            first = first_real_positions(attention_mask, batch_size, seq_len, hidden.device)
            pooled = torch.cat([pooled, hidden[rows, first, width:]], dim=-1)
        if self.config.pooling == "attention":
            context, _ = self.attention_pooling(pooled[:, None, :], hidden, attention_mask)  # [B, 1, F]
            return context[:, 0]
        return pooled

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, seq_len)`)
            attention_mask (`torch.Tensor` of shape `(batch_size, seq_len)`, *optional*): 1 = token, 0 = padding.
            labels (`torch.Tensor` of shape `(batch_size,)`, *optional*): class ids (cross-entropy), or what
                `config.problem_type` asks for, as in transformers' heads.

        Returns:
            `SequenceClassifierOutput` with `logits` of shape `(batch_size, num_labels)`.
        """
        hidden = self.model(input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds).last_hidden_state
        logits = self.score(self.dropout(self.pool(hidden, attention_mask)))
        loss = None
        if labels is not None:
            loss = self.loss_function(labels=labels, pooled_logits=logits, config=self.config)
        return SequenceClassifierOutput(loss=loss, logits=logits)


class HfMamba2ForTokenClassification(HfMamba2PreTrainedModel):
    """Mamba-2 stack(s) -> dropout -> a linear layer on every position (left-to-right, or both directions)."""

    def __init__(self, config: HfMamba2Config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = HfMamba2Model(config)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.score = nn.Linear(config.num_directions * config.hidden_size, config.num_labels)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.model.set_input_embeddings(value)

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        **kwargs,
    ) -> TokenClassifierOutput:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, seq_len)`)
            attention_mask (`torch.Tensor` of shape `(batch_size, seq_len)`, *optional*): 1 = token, 0 = padding.
            labels (`torch.LongTensor` of shape `(batch_size, seq_len)`, *optional*): label ids, -100 = ignored;
                padded positions are ignored too.

        Returns:
            `TokenClassifierOutput` with `logits` of shape `(batch_size, seq_len, num_labels)`.
        """
        hidden = self.model(input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds).last_hidden_state
        logits = self.score(self.dropout(hidden))
        loss = None
        if labels is not None:
            if attention_mask is not None:
                labels = labels.masked_fill(attention_mask == 0, -100)
            loss = self.loss_function(logits, labels, self.config, **loss_kwargs(kwargs))
        return TokenClassifierOutput(loss=loss, logits=logits)


# --------------------------------------------------------------------------------------------------------------
# Causal language model
# --------------------------------------------------------------------------------------------------------------


class HfMamba2ForCausalLM(HfMamba2PreTrainedModel, GenerationMixin):
    """Left-to-right Mamba-2 language model; `generate()` continues from transformers' recurrent cache (each new
    token one recurrent step). With `config.reads_prompt` it reads a task's prompt and answer instead of the task's
    token blocks: translation as a decoder-only LM over source -> target, the loss on the target."""

    _tied_weights_keys = {"lm_head.weight": "model.backbone.embeddings.weight"}

    def __init__(self, config: HfMamba2Config):
        if config.bidirectional:
            raise ValueError("HfMamba2ForCausalLM cannot be bidirectional (HfMamba2Config.bidirectional=True): the "
                             "right-to-left stack would read the token the model must predict.")
        if config.reads_values:
            raise ValueError("HfMamba2ForCausalLM reads tokens: HfMamba2Config.input_size must be None.")
        super().__init__(config)
        self.model = HfMamba2Model(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    @property
    def reads_task_inputs(self) -> bool:  # noqa: D102 - input_family reads it: a translator reads prompts
        return not self.config.reads_prompt

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.model.set_input_embeddings(value)

    def prepare_inputs_for_generation(self, input_ids, inputs_embeds=None, use_cache=None, cache=None,
                                      attention_mask=None, is_first_iteration: bool | None = False, **kwargs):
        inputs = super().prepare_inputs_for_generation(
            input_ids, inputs_embeds=inputs_embeds, use_cache=use_cache, cache=cache, attention_mask=attention_mask,
            is_first_iteration=is_first_iteration, **kwargs)
        if use_cache and not is_first_iteration:
            # the prompt's padding is in the state already; a new token is never padding
            inputs["attention_mask"] = None
        return inputs

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        cache=None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int = 0,
        **kwargs,
    ) -> CausalLMOutputWithPast:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, seq_len)`): the tokens; with a `cache`, only the
                new ones.
            attention_mask (`torch.Tensor` of shape `(batch_size, seq_len)`, *optional*): 1 = token, 0 = padding
                (left padding for batched generation, right padding in training).
            cache (`Cache`, *optional*): the recurrent and conv states after the previous tokens.
            labels (`torch.LongTensor` of shape `(batch_size, seq_len)`, *optional*): usually `input_ids`, shifted
                inside (position t predicts token t + 1); -100 and pairs that touch padding are ignored.
            logits_to_keep (`int`, *optional*): logits of the last `logits_to_keep` positions only (0 = all).

        Returns:
            `CausalLMOutputWithPast` with `logits` of shape `(batch_size, seq_len, vocab_size)` and the `cache`.
        """
        if labels is not None:
            use_cache = False
        elif use_cache is None:
            use_cache = self.config.use_cache and not self.training
        encoded = self.model(input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds, cache=cache,
                             use_cache=use_cache)
        hidden = encoded.last_hidden_state
        if logits_to_keep and labels is None:
            hidden = hidden[:, -logits_to_keep:]
        logits = self.lm_head(hidden).float()
        loss = None
        if labels is not None:
            shift_labels = F.pad(labels[:, 1:], (0, 1), value=-100)
            if attention_mask is not None:  # a pair counts only when both tokens are real
                real = attention_mask[:, -labels.shape[1]:].bool()
                shift_labels = shift_labels.masked_fill(~(real & F.pad(real[:, 1:], (0, 1), value=False)), -100)
            loss = self.loss_function(logits=logits, labels=labels, shift_labels=shift_labels,
                                      vocab_size=self.config.vocab_size, **loss_kwargs(kwargs))
        return CausalLMOutputWithPast(loss=loss, logits=logits, cache=encoded.cache)


# --------------------------------------------------------------------------------------------------------------
# Time series
# --------------------------------------------------------------------------------------------------------------


class HfMamba2ForTimeSeriesPrediction(HfMamba2PreTrainedModel):
    """A window of values -> the next `prediction_length` values.

    Each window is normalised by its observed values inside the model (as the RNN forecaster does) and mapped
    back; per step the stack reads a linear projection of the normalised values and the observed flags
    (`2 * input_size` -> `hidden_size`) as `inputs_embeds`, and the last step's state is projected to the forecast.
    """

    main_input_name = "past_values"
    accepts_loss_kwargs = False  # MSE over windows

    def __init__(self, config: HfMamba2Config):
        if config.prediction_length is None or config.input_size is None:
            raise ValueError("HfMamba2ForTimeSeriesPrediction needs HfMamba2Config.prediction_length (the "
                             "horizon) and input_size (values per step).")
        if config.bidirectional:
            raise ValueError("HfMamba2ForTimeSeriesPrediction reads the window left-to-right: set "
                             "bidirectional=False.")
        super().__init__(config)
        self.value_projection = nn.Linear(2 * config.input_size, config.hidden_size)
        self.model = HfMamba2Model(config)
        self.head = nn.Linear(config.hidden_size, config.prediction_length * config.input_size)
        self.post_init()

    def get_input_embeddings(self) -> None:
        return None  # it reads values (value_projection), no token table

    @can_return_tuple
    def forward(
        self,
        past_values: torch.Tensor,
        past_observed_mask: torch.Tensor | None = None,
        future_values: torch.Tensor | None = None,
        **kwargs,
    ) -> RNNTimeSeriesPredictionOutput:
        r"""
        Args:
            past_values (`torch.FloatTensor` of shape `(batch_size, context_length)` or
                `(batch_size, context_length, input_size)`): the window, on its original scale.
            past_observed_mask (same shape, *optional*): 1 where a value was observed, 0 where it is missing.
            future_values (`torch.FloatTensor` of shape `(batch_size, prediction_length[, input_size])`, *optional*):
                targets; the loss is the MSE of the normalised forecast against the normalised targets.

        Returns:
            `RNNTimeSeriesPredictionOutput` with `prediction` shaped like `future_values`.
        """
        univariate = past_values.dim() == 2
        values = past_values[..., None] if univariate else past_values  # [B, T, F]
        input_size = self.config.input_size
        if values.shape[-1] != input_size:
            raise ValueError(f"past_values has {values.shape[-1]} features, the config says input_size={input_size}.")
        normalised, observed, loc, scale = scale_windows(values, past_observed_mask)
        embeds = self.value_projection(torch.cat([normalised, observed], dim=-1))
        hidden = self.model(inputs_embeds=embeds).last_hidden_state[:, -1]
        forecast = self.head(hidden).reshape(-1, self.config.prediction_length, input_size)
        loss = None
        if future_values is not None:
            target = future_values[..., None] if univariate else future_values
            loss = F.mse_loss(forecast, (target - loc) / scale)
        prediction = forecast * scale + loc
        if univariate:
            prediction = prediction[..., 0]
        return RNNTimeSeriesPredictionOutput(loss=loss, prediction=prediction, loc=loc, scale=scale)


MAMBA2_HEADS: dict[str, type[HfMamba2PreTrainedModel]] = {
    cls.__name__: cls
    for cls in (HfMamba2Model, HfMamba2ForSequenceClassification, HfMamba2ForTokenClassification,
                HfMamba2ForCausalLM, HfMamba2ForTimeSeriesPrediction)
}


def load_mamba2(folder: str | os.PathLike, **kwargs):
    """A saved `hf_mamba2` folder loaded with the head it was saved with (`config.json` 'architectures')."""
    folder = os.fspath(folder)
    saved = read_saved_architecture(folder) if os.path.isdir(folder) else None
    if saved not in MAMBA2_HEADS:
        raise ValueError(f"'{folder}' is not a saved hf_mamba2 model (config.json 'architectures' = {saved!r}); "
                         f"expected one of {', '.join(MAMBA2_HEADS)}.")
    return MAMBA2_HEADS[saved].from_pretrained(folder, **kwargs)


def register_auto_classes() -> None:
    """Make `AutoConfig` / `AutoModel*` resolve `model_type="hf_mamba2"` to these classes (no trust_remote_code)."""
    from hf_rnn.families.auto_registration import register_with_auto

    register_with_auto(HfMamba2Config, {
        "AutoModel": HfMamba2Model, "AutoModelForSequenceClassification": HfMamba2ForSequenceClassification,
        "AutoModelForTokenClassification": HfMamba2ForTokenClassification,
        "AutoModelForCausalLM": HfMamba2ForCausalLM,
        "AutoModelForTimeSeriesPrediction": HfMamba2ForTimeSeriesPrediction})
