"""Configuration of the RNN model family (`model_type="hf_rnn"`).

One `RNNConfig` describes every head of the family: the shared encoder (embedding -> fused RNN/GRU/LSTM),
the dense classifier used by the classification heads, the decoder-over-encoder attention of the seq2seq head
and the forecasting sizes of the time-series head. Fields that a head does not use are simply ignored by it.
"""

from __future__ import annotations

from transformers import PretrainedConfig
from transformers.activations import ACT2CLS

CELL_TYPES = ("rnn", "gru", "lstm")
ATTENTION_TYPES = ("none", "additive", "dot", "general")
CLASSIFIER_ACTIVATIONS = tuple(sorted(ACT2CLS))

# Heads that know what to do with `config.attention`; the message of `check_head_supports_attention` lists them.
HEADS_WITH_ATTENTION = (
    "RNNForSequenceClassification (attention pooling)",
    "RNNForSeq2SeqLM (decoder-over-encoder)",
)


class RNNConfig(PretrainedConfig):
    r"""
    Configuration for [`RNNModel`] and its heads. Validation happens in `__post_init__` (and again when a model is
    built from the config), and every problem is a `ValueError` that names the field and the allowed values.

    Args:
        vocab_size (`int`, *optional*, defaults to 49152):
            Number of token ids the embedding (and the LM head) covers.
        embedding_size (`int`, *optional*, defaults to 128):
            Size `d` of the token embeddings, i.e. the input size of the first RNN layer.
        hidden_size (`int`, *optional*, defaults to 256):
            Number of units of each RNN layer (per direction).
        num_layers (`int`, *optional*, defaults to 1):
            Number of stacked RNN layers (also readable as `num_hidden_layers`).
        cell (`str`, *optional*, defaults to `"lstm"`):
            `"rnn"` (tanh Elman cell, the lecture's SimpleRNN), `"gru"` or `"lstm"`.
        bidirectional (`bool`, *optional*, defaults to `False`):
            Run a second RNN right-to-left and concatenate both directions (outputs have `2 * hidden_size` features).
            Not allowed for [`RNNForCausalLM`]: a bidirectional LM would see the token it must predict.
        dropout (`float`, *optional*, defaults to 0.0):
            Dropout on the embeddings and between stacked RNN layers.
        attention (`str`, *optional*, defaults to `"none"`):
            `"none"`, `"additive"` (Bahdanau), `"dot"` or `"general"` (Luong). For [`RNNForSequenceClassification`]
            it selects attention pooling over the encoder states; for [`RNNForSeq2SeqLM`] the decoder-over-encoder
            attention. Other heads raise a `ValueError` when it is not `"none"`.
        classifier_hidden_sizes (`list[int]`, *optional*, defaults to `[]`):
            Sizes of the dense layers between the RNN features and the output layer of the classification heads.
        classifier_activation (`str`, *optional*, defaults to `"relu"`):
            Activation of those dense layers (any key of `transformers.activations.ACT2CLS`).
        classifier_dropout (`float`, *optional*, defaults to 0.0):
            Dropout before each dense layer of the classifier.
        keras_bias (`bool`, *optional*, defaults to `False`):
            Keep a single bias vector per RNN/LSTM layer, as Keras does, instead of PyTorch's two (`b_ih`, `b_hh`,
            which only ever act through their sum). The second bias becomes a zero buffer, so parameter counts match
            Keras exactly. No effect for GRU: Keras' default GRU (`reset_after=True`) has two biases too.
        pad_token_id / bos_token_id / eos_token_id / decoder_start_token_id (`int`, *optional*):
            Special token ids used by the loss (shifting) and by `generate()`.
        tie_word_embeddings (`bool`, *optional*, defaults to `False`):
            Share the (decoder) input embedding with the LM output layer. When `hidden_size != embedding_size`
            a linear projection `hidden_size -> embedding_size` is inserted before the tied output layer.
        prediction_length (`int`, *optional*):
            Forecast horizon `H` of [`RNNForTimeSeriesPrediction`].
        input_size (`int`, *optional*):
            Number of numeric features per time step of [`RNNForTimeSeriesPrediction`] (1 for a univariate series).
        initializer_range (`float`, *optional*, defaults to 0.1):
            Standard deviation of the normal init of embeddings and linear layers.
        use_cache (`bool`, *optional*, defaults to `True`):
            Whether generative heads return their recurrent state as a cache at inference time.
        num_labels / id2label / label2id / problem_type:
            Standard `transformers` classification fields.

    Example:

    ```python
    >>> from hf_rnn.models import RNNConfig, RNNForSequenceClassification
    >>> config = RNNConfig(vocab_size=100, embedding_size=16, hidden_size=32, cell="gru", num_labels=3)
    >>> model = RNNForSequenceClassification(config)
    ```
    """

    model_type = "hf_rnn"
    attribute_map = {"num_hidden_layers": "num_layers"}

    vocab_size: int = 49152
    embedding_size: int = 128
    hidden_size: int = 256
    num_layers: int = 1
    cell: str = "lstm"
    bidirectional: bool = False
    dropout: float = 0.0
    attention: str = "none"
    classifier_hidden_sizes: list[int] | None = None
    classifier_activation: str = "relu"
    classifier_dropout: float = 0.0
    keras_bias: bool = False
    pad_token_id: int | None = 0
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    decoder_start_token_id: int | None = None
    tie_word_embeddings: bool = False
    prediction_length: int | None = None
    input_size: int | None = None
    initializer_range: float = 0.1
    use_cache: bool = True

    def __post_init__(self, **kwargs):
        # JSON has no tuples; normalising here keeps save/load round trips equal.
        self.classifier_hidden_sizes = list(self.classifier_hidden_sizes or [])
        super().__post_init__(**kwargs)
        self.check_rnn_settings()

    def check_rnn_settings(self) -> None:
        """Raise a `ValueError` naming the first invalid field. Called on init and by every model `__init__`
        (so a config mutated after creation is caught before weights are built)."""
        _check_choice("cell", self.cell, CELL_TYPES)
        _check_choice("attention", self.attention, ATTENTION_TYPES)
        _check_choice("classifier_activation", self.classifier_activation, CLASSIFIER_ACTIVATIONS)
        for name in ("vocab_size", "embedding_size", "hidden_size", "num_layers"):
            _check_positive_int(name, getattr(self, name))
        for name in ("prediction_length", "input_size"):
            if getattr(self, name) is not None:
                _check_positive_int(name, getattr(self, name))
        for index, size in enumerate(self.classifier_hidden_sizes):
            _check_positive_int(f"classifier_hidden_sizes[{index}]", size)
        for name in ("dropout", "classifier_dropout"):
            _check_probability(name, getattr(self, name))
        for name in ("bidirectional", "keras_bias", "tie_word_embeddings"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"RNNConfig.{name} must be True or False, got {getattr(self, name)!r}.")

    def check_head_supports_attention(self, head_name: str) -> None:
        """Raise a `ValueError` if `attention` is set for a head that has no attention."""
        if self.attention != "none":
            raise ValueError(
                f"{head_name} has no attention, but RNNConfig.attention={self.attention!r}. Set attention='none' for "
                f"this head; attention is supported by: {', '.join(HEADS_WITH_ATTENTION)}."
            )

    @property
    def num_directions(self) -> int:
        """2 for a bidirectional RNN, else 1."""
        return 2 if self.bidirectional else 1


def _check_choice(name: str, value, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"RNNConfig.{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}.")


def _check_positive_int(name: str, value) -> None:
    # bool is an int subclass; `hidden_size=True` is certainly a mistake.
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"RNNConfig.{name} must be a positive integer (> 0); got {value!r}.")


def _check_probability(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"RNNConfig.{name} is a dropout probability and must be in [0, 1); got {value!r}.")
