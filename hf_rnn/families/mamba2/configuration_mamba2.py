"""Configuration of the Mamba-2 model family (`model_type="hf_mamba2"`).

`HfMamba2Config` is transformers' own `Mamba2Config` (the layers are transformers' `Mamba2Model`, built from it)
with what this package's task heads add: a second, right-to-left stack (`bidirectional`), the pooling of the
sequence classifier, the classifier's dropout, whether the language model reads a task's prompt (`reads_prompt`,
translation) and the forecaster's sizes. Its own `model_type` makes the Auto classes load these heads, not
transformers' `Mamba2ForCausalLM`.
"""

from __future__ import annotations

from transformers import Mamba2Config

POOLING_TYPES = ("mean", "last", "attention")
# the positive-integer fields of Mamba2Config a recipe sets (the rest keep transformers' defaults)
_POSITIVE_FIELDS = ("vocab_size", "hidden_size", "state_size", "num_heads", "head_dim", "num_hidden_layers",
                    "expand", "conv_kernel", "chunk_size", "n_groups")


class HfMamba2Config(Mamba2Config):
    r"""
    Configuration of [`HfMamba2Model`] and its heads: every `Mamba2Config` field, plus the ones below. Problems are
    a `ValueError` naming the field (on init, and again when a model is built from the config).

    The width of the state-space mixer is `expand * hidden_size`, split into `num_heads` heads of `head_dim`
    channels each: `num_heads * head_dim` must equal `expand * hidden_size` (as `Mamba2Config` requires), and the
    heads share `n_groups` groups of `B`, `C` projections (`num_heads % n_groups == 0`).

    Args:
        bidirectional (`bool`, *optional*, defaults to `False`):
            Add a second Mamba-2 stack that reads each row's real tokens right-to-left; the two stacks' outputs are
            concatenated (`2 * hidden_size` features). Not for the language model, which would see what it predicts.
        pooling (`str`, *optional*, defaults to `"mean"`):
            How [`HfMamba2ForSequenceClassification`] summarises the sequence: `"mean"` of the real tokens'
            states, `"last"`: the forward stack at the last real token (with the backward stack at the first), or
            `"attention"`: additive attention over the real tokens' states, queried by the `"last"` features (the
            BiLSTM classifier's attention pooling).
        classifier_dropout (`float`, *optional*, defaults to 0.0):
            Dropout before the classification layer.
        reads_prompt (`bool`, *optional*, defaults to `False`):
            [`HfMamba2ForCausalLM`] reads a task's prompt and answer (translation: source, then target, the loss on
            the target) rather than the task's own token blocks (`hf_rnn.tasks.input_family`).
        prediction_length (`int`, *optional*):
            Forecast horizon of [`HfMamba2ForTimeSeriesPrediction`].
        input_size (`int`, *optional*):
            Values per time step of [`HfMamba2ForTimeSeriesPrediction`] (1: univariate). A config with it set
            describes a stack that reads projected values, not token embeddings.
        embedding_size (`int`, *optional*):
            Width of the token embeddings when it differs from `hidden_size`: a linear layer projects them to the
            stack's width, as an RNN's input weights do (e.g. SmolLM2's 576-d table, frozen, under a 128-wide
            stack). `None`: the embeddings are `hidden_size` wide. Not with `tie_word_embeddings`.

    Example:

    ```python
    >>> from hf_rnn.models import HfMamba2Config, HfMamba2ForSequenceClassification
    >>> config = HfMamba2Config(vocab_size=100, hidden_size=32, num_heads=4, head_dim=16, state_size=8,
    ...                         num_hidden_layers=2, num_labels=3)
    >>> model = HfMamba2ForSequenceClassification(config)
    ```
    """

    model_type = "hf_mamba2"

    # small defaults (transformers' are those of a 2.7B model)
    vocab_size: int = 49152
    hidden_size: int = 128
    num_heads: int = 4
    head_dim: int = 64
    state_size: int = 16
    num_hidden_layers: int = 2
    n_groups: int = 1
    chunk_size: int = 64
    pad_token_id: int | None = 0
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    bidirectional: bool = False
    pooling: str = "mean"
    classifier_dropout: float = 0.0
    reads_prompt: bool = False
    prediction_length: int | None = None
    input_size: int | None = None
    embedding_size: int | None = None

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        self.check_mamba2_settings()

    def check_mamba2_settings(self) -> None:
        """Raise a `ValueError` naming the first invalid field (a subclass of `Mamba2Config` is not validated by
        its strict-dataclass checks, so they are made here)."""
        for name in _POSITIVE_FIELDS:
            _check_positive_int(name, getattr(self, name))
        for name in ("prediction_length", "input_size", "embedding_size"):
            if getattr(self, name) is not None:
                _check_positive_int(name, getattr(self, name))
        width = self.expand * self.hidden_size
        if self.num_heads * self.head_dim != width:
            raise ValueError(
                f"HfMamba2Config: num_heads * head_dim ({self.num_heads} * {self.head_dim}) must equal "
                f"expand * hidden_size ({self.expand} * {self.hidden_size} = {width}), the mixer's width."
            )
        if self.num_heads % self.n_groups:
            raise ValueError(f"HfMamba2Config.n_groups={self.n_groups} must divide num_heads={self.num_heads} "
                             "(each group's B and C are shared by num_heads / n_groups heads).")
        if self.pooling not in POOLING_TYPES:
            raise ValueError(f"HfMamba2Config.pooling must be one of {', '.join(map(repr, POOLING_TYPES))}; "
                             f"got {self.pooling!r}.")
        if isinstance(self.classifier_dropout, bool) or not 0.0 <= self.classifier_dropout < 1.0:
            raise ValueError(f"HfMamba2Config.classifier_dropout must be in [0, 1); got {self.classifier_dropout!r}.")
        for name in ("bidirectional", "reads_prompt", "tie_word_embeddings"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"HfMamba2Config.{name} must be True or False; got {getattr(self, name)!r}.")
        if self.projects_embeddings and self.tie_word_embeddings:
            raise ValueError(f"HfMamba2Config.embedding_size={self.embedding_size} differs from hidden_size="
                             f"{self.hidden_size}, so the output layer cannot share the embedding table: set "
                             "tie_word_embeddings=False or embedding_size=None.")

    @property
    def num_directions(self) -> int:
        """2 with a right-to-left stack, else 1."""
        return 2 if self.bidirectional else 1

    @property
    def projects_embeddings(self) -> bool:
        """Whether token embeddings of `embedding_size` are projected to `hidden_size` before the stack."""
        return self.embedding_size is not None and self.embedding_size != self.hidden_size and not self.reads_values

    @property
    def reads_values(self) -> bool:
        """Whether the stack reads projected values (a forecaster) rather than token embeddings."""
        return self.input_size is not None


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"HfMamba2Config.{name} must be a positive integer (> 0); got {value!r}.")
