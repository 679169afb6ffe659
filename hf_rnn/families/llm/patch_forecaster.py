"""A numeric forecaster built on a pretrained LLM: patches of the window in, values out.

The recipe of "One Fits All" (Zhou et al., 2023, GPT4TS): the series is not written as
digits for the tokenizer. Each window is standardised, cut into overlapping patches, and a
learned linear map turns every patch into one input vector for the LLM's lower decoder
blocks, which stay frozen (only their normalisation weights train). A linear head reads the
last hidden states of all patches and writes the forecast, which is mapped back to the
series' scale. The pretrained blocks bring what they learned about sequences; the few
trained weights (patch embedding, norms, head) fit the task.

::

    past_values [B, C] --scale--> [B, C] --pad end by stride, unfold--> patches [B, N, P]
        --patch_embedding--> [B, N, H] --first `llm_layers` decoder blocks--> [B, N, H]
        --flatten, head--> [B, horizon] --unscale--> prediction [B, horizon]

with ``N = (C - P) // stride + 2`` patches (PatchTST's end padding adds the last one).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig, PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput, can_return_tuple

from hf_rnn.families.window_scaling import scale_windows

# parameters of the LLM blocks that train: the normalisation weights (GPT4TS trains the layer
# norms and position embeddings; a RoPE model has no position embedding table)
TRAINED_BODY_PARAMETERS = ("norm", "ln_")


class PatchForecasterConfig(PretrainedConfig):
    """Configuration of [`PatchLLMForTimeSeriesPrediction`].

    Args:
        llm_config (`dict`): the pretrained LLM's configuration (``config.to_dict()``, with its
            ``model_type``), from which the body is built.
        llm_layers (`int`): how many of the LLM's lower decoder blocks the body keeps.
        context_length (`int`): past values per window.
        prediction_length (`int`): values forecast per window.
        patch_length (`int`): values per patch.
        patch_stride (`int`): step between the starts of two patches.
        head_dropout (`float`): dropout on the flattened hidden states before the head.
    """

    model_type = "hf_rnn_patch_llm"

    def __init__(self, llm_config: dict | None = None, llm_layers: int = 6, context_length: int = 24,
                 prediction_length: int = 1, patch_length: int = 4, patch_stride: int = 2,
                 head_dropout: float = 0.1, **kwargs):
        self.llm_config = dict(llm_config or {})
        self.llm_layers = int(llm_layers)
        self.context_length = int(context_length)
        self.prediction_length = int(prediction_length)
        self.patch_length = int(patch_length)
        self.patch_stride = int(patch_stride)
        self.head_dropout = float(head_dropout)
        for name in ("llm_layers", "context_length", "prediction_length", "patch_length", "patch_stride"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1; got {getattr(self, name)}")
        if self.patch_length > self.context_length:
            raise ValueError(f"patch_length ({self.patch_length}) is longer than the window "
                             f"(context_length={self.context_length})")
        super().__init__(**kwargs)

    @property
    def num_patches(self) -> int:
        return (self.context_length - self.patch_length) // self.patch_stride + 2

    def body_config(self) -> PretrainedConfig:
        """The LLM's configuration cut to ``llm_layers`` blocks and a one-row token table (the body
        reads patch vectors, never token ids)."""
        data = copy.deepcopy(self.llm_config)
        model_type = data.pop("model_type", None)
        if not model_type:
            raise ValueError("llm_config has no model_type: build it from the LLM's config.to_dict()")
        config = AutoConfig.for_model(model_type, **data)
        total = config.num_hidden_layers
        if self.llm_layers > total:
            raise ValueError(f"llm_layers={self.llm_layers}, but the LLM has {total} decoder layers")
        config.num_hidden_layers = self.llm_layers
        if isinstance(getattr(config, "layer_types", None), list):
            config.layer_types = config.layer_types[: self.llm_layers]
        config.vocab_size = 1
        config.pad_token_id = config.bos_token_id = config.eos_token_id = None
        config.use_cache = False
        return config


@dataclass
class PatchForecastOutput(ModelOutput):
    """Output of [`PatchLLMForTimeSeriesPrediction`].

    Args:
        loss (`torch.Tensor` of shape `()`, *optional*): MSE on the scaled values, when `future_values` is given.
        prediction (`torch.Tensor` of shape `(batch_size, prediction_length)`): forecast on the series' scale.
        loc, scale (`torch.Tensor` of shape `(batch_size, 1, 1)`): each window's mean and standard deviation.
        attentions (`tuple(torch.Tensor)`, *optional*): per block `(batch_size, heads, num_patches, num_patches)`,
            when `output_attentions=True` (eager attention).
    """

    loss: torch.Tensor | None = None
    prediction: torch.Tensor | None = None
    loc: torch.Tensor | None = None
    scale: torch.Tensor | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class PatchLLMForTimeSeriesPrediction(PreTrainedModel):
    """Frozen LLM blocks between a learned patch embedding and a linear forecast head (GPT4TS)."""

    config_class = PatchForecasterConfig
    base_model_prefix = "body"
    main_input_name = "past_values"
    accepts_loss_kwargs = False  # MSE over windows, no token count to normalise by
    supports_gradient_checkpointing = True
    _supports_sdpa = True

    def __init__(self, config: PatchForecasterConfig):
        super().__init__(config)
        body_config = config.body_config()
        self.body = AutoModel.from_config(body_config)
        self._no_split_modules = list(getattr(self.body, "_no_split_modules", None) or [])
        hidden = body_config.hidden_size
        self.patch_embedding = nn.Linear(config.patch_length, hidden)
        self.dropout = nn.Dropout(config.head_dropout)
        self.head = nn.Linear(config.num_patches * hidden, config.prediction_length)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        # the body's own initialisation for its blocks; the new linear maps start small (the body
        # expects inputs on the scale of its token embeddings)
        if module is self.patch_embedding or module is self.head:
            init.normal_(module.weight, mean=0.0, std=0.02)
            init.zeros_(module.bias)
        else:
            self.body._init_weights(module)

    def freeze_body(self) -> None:
        """Freeze the LLM blocks but their normalisation weights (the patch embedding and head train)."""
        for name, parameter in self.body.named_parameters():
            parameter.requires_grad_(any(part in name for part in TRAINED_BODY_PARAMETERS))

    def patches(self, scaled: torch.Tensor) -> torch.Tensor:
        """``[B, C]`` scaled windows → ``[B, N, patch_length]`` overlapping patches."""
        stride = self.config.patch_stride
        padded = torch.cat([scaled, scaled[:, -1:].expand(-1, stride)], dim=1)  # repeat the last value
        return padded.unfold(1, self.config.patch_length, stride)

    @can_return_tuple
    def forward(self, past_values: torch.Tensor, past_observed_mask: torch.Tensor | None = None,
                future_values: torch.Tensor | None = None, output_attentions: bool | None = None,
                **kwargs) -> PatchForecastOutput:
        r"""
        Args:
            past_values (`torch.FloatTensor` of shape `(batch_size, context_length)`): the window, on its own scale.
            past_observed_mask (same shape, *optional*): 1 where a value was observed, 0 where it is missing.
            future_values (`torch.FloatTensor` of shape `(batch_size, prediction_length)`, *optional*): targets.

        Returns:
            [`PatchForecastOutput`] (a tuple with ``return_dict=False``).
        """
        if past_values.dim() != 2 or past_values.shape[1] != self.config.context_length:
            raise ValueError(f"past_values must be [batch, {self.config.context_length}]; got "
                             f"{list(past_values.shape)}")
        dtype = self.patch_embedding.weight.dtype
        scaled, _, loc, scale = scale_windows(past_values[..., None].float(), past_observed_mask)
        embeddings = self.patch_embedding(self.patches(scaled[..., 0]).to(dtype))  # [B, N, H]
        out = self.body(inputs_embeds=embeddings, output_attentions=output_attentions, use_cache=False)
        hidden = out.last_hidden_state  # [B, N, H]
        forecast = self.head(self.dropout(hidden.flatten(1))).float()  # [B, horizon], scaled
        loss = None
        if future_values is not None:
            loss = F.mse_loss(forecast, (future_values.float() - loc[..., 0]) / scale[..., 0])
        prediction = forecast * scale[..., 0] + loc[..., 0]
        return PatchForecastOutput(loss=loss, prediction=prediction, loc=loc, scale=scale,
                                   attentions=getattr(out, "attentions", None))


def build_patch_forecaster(source: str, local_files_only: bool, task, *, llm_layers: int = 6,
                           patch_length: int = 4, patch_stride: int = 2, dtype=None
                           ) -> PatchLLMForTimeSeriesPrediction:
    """A forecaster for ``task`` (a ``ForecastingTask``) whose blocks are the lower ``llm_layers``
    decoder blocks of the pretrained LLM at ``source``, frozen but for their norms.

    Raises:
        ValueError: a setting that does not fit the LLM or the task's window (named).
    """
    body = AutoModel.from_pretrained(source, local_files_only=local_files_only, trust_remote_code=False,
                                     dtype=dtype or torch.float32)
    config = PatchForecasterConfig(llm_config=body.config.to_dict(), llm_layers=llm_layers,
                                   context_length=task.context_length, prediction_length=task.horizon,
                                   patch_length=patch_length, patch_stride=patch_stride)
    model = PatchLLMForTimeSeriesPrediction(config).to(body.dtype)
    own = model.body.state_dict()
    pretrained = {k: v for k, v in body.state_dict().items() if k in own and own[k].shape == v.shape}
    missing = [k for k in own if k not in pretrained and "embed" not in k and "wte" not in k]
    if missing:  # every block weight must come from the LLM: a silent random block would be no LLM at all
        raise ValueError(f"the LLM at {source} has no weights for {missing[:3]}")
    model.body.load_state_dict(pretrained, strict=False)
    model.freeze_body()
    return model


def register_auto_classes() -> None:
    """Make `AutoConfig` / `AutoModelForTimeSeriesPrediction` resolve ``hf_rnn_patch_llm``."""
    from transformers import AutoModelForTimeSeriesPrediction

    AutoConfig.register(PatchForecasterConfig.model_type, PatchForecasterConfig, exist_ok=True)
    AutoModelForTimeSeriesPrediction.register(PatchForecasterConfig, PatchLLMForTimeSeriesPrediction,
                                              exist_ok=True)


__all__ = ["PatchForecasterConfig", "PatchForecastOutput", "PatchLLMForTimeSeriesPrediction",
           "build_patch_forecaster", "register_auto_classes"]
