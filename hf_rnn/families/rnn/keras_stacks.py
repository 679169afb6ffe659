"""The lecture's two Keras stacks, built as hf_rnn models, and Keras' parameter-count formulas.

Lecture stacks (CS344 "Advanced Recurrent Neural Networks", slides "RNNs"):

1. `"simple_rnn"` -- sentiment-style classifier::

       SimpleRNN(5)
       Dense(3, activation='softmax')

2. `"bilstm_tagger"` -- both LSTMs return sequences, so the Dense layers act on every time step: a binary
   word-labeling model (one sigmoid per token)::

       Bidirectional(LSTM(64, return_sequences=True))
       Bidirectional(LSTM(64, return_sequences=True))
       Dense(64, activation='relu')
       Dense(1, activation='sigmoid')

The models output logits: the final softmax/sigmoid is applied by the loss (or by `logits.softmax(-1)` /
`logits.sigmoid()` at inference), which has no parameters and so does not change the counts.

Parameter counts. Keras, per RNN layer with input size `d` (per direction):
SimpleRNN `units*(d+units+1)`, LSTM `4*units*(d+units+1)`, GRU (reset_after=True) `3*units*(d+units+2)`.
PyTorch keeps two bias vectors (`b_ih`, `b_hh`) per gate, i.e. `+units` (RNN) / `+4*units` (LSTM) per layer and
direction. `keras_bias=True` (the default here) makes the hf_rnn models keep one, so the counts match Keras
exactly. In Keras the stacks start from `d`-dimensional inputs; our models start from token ids, so the
embedding table (`vocab_size * d`) comes on top: `count_parameters(model, include_embeddings=False)` leaves it out.
"""

from __future__ import annotations

from torch import nn

from hf_rnn.families.rnn.configuration_rnn import RNNConfig
from hf_rnn.families.rnn.modeling_rnn import RNNForSequenceClassification, RNNForTokenClassification
from hf_rnn.training.parameters import count_parameters as parameter_counts

KERAS_STACKS = {
    "simple_rnn": dict(cell="rnn", hidden_size=5, num_layers=1, bidirectional=False, num_labels=3),
    "bilstm_tagger": dict(
        cell="lstm",
        hidden_size=64,
        num_layers=2,
        bidirectional=True,
        num_labels=1,
        classifier_hidden_sizes=[64],
        classifier_activation="relu",
    ),
}
_HEADS = {"simple_rnn": RNNForSequenceClassification, "bilstm_tagger": RNNForTokenClassification}


def keras_stack_config(
    name: str, input_dim: int, vocab_size: int, keras_bias: bool = True, **overrides
) -> RNNConfig:
    """`RNNConfig` of a lecture stack whose RNN reads `input_dim`-dimensional embeddings."""
    if name not in KERAS_STACKS:
        raise ValueError(f"Unknown Keras stack {name!r}; choose one of {', '.join(KERAS_STACKS)}.")
    fields = {**KERAS_STACKS[name], **overrides}
    return RNNConfig(vocab_size=vocab_size, embedding_size=input_dim, keras_bias=keras_bias, **fields)


def build_keras_stack(
    name: str, input_dim: int, vocab_size: int, keras_bias: bool = True, **overrides
) -> nn.Module:
    """Build a lecture stack (`"simple_rnn"` -> `RNNForSequenceClassification`, `"bilstm_tagger"` ->
    `RNNForTokenClassification`) on top of a `vocab_size x input_dim` embedding."""
    return _HEADS[name](keras_stack_config(name, input_dim, vocab_size, keras_bias, **overrides))


def keras_rnn_params(cell: str, units: int, input_dim: int, bidirectional: bool = False) -> int:
    """Keras' parameter count of one RNN layer (`Bidirectional` doubles it)."""
    per_direction = {
        "rnn": units * (input_dim + units + 1),
        "lstm": 4 * units * (input_dim + units + 1),
        "gru": 3 * units * (input_dim + units + 2),  # reset_after=True, the Keras 2+ default
    }[cell]
    return per_direction * (2 if bidirectional else 1)


def keras_dense_params(input_dim: int, units: int) -> int:
    """Keras' parameter count of `Dense(units)` on `input_dim` features."""
    return input_dim * units + units


def keras_stack_params(name: str, input_dim: int) -> int:
    """What Keras' `model.summary()` reports for a lecture stack on `input_dim` inputs (no embedding)."""
    stack = KERAS_STACKS[name]
    directions = 2 if stack["bidirectional"] else 1
    total, features = 0, input_dim
    for _ in range(stack["num_layers"]):
        total += keras_rnn_params(stack["cell"], stack["hidden_size"], features, stack["bidirectional"])
        features = directions * stack["hidden_size"]
    for size in stack.get("classifier_hidden_sizes", []) + [stack["num_labels"]]:
        total += keras_dense_params(features, size)
        features = size
    return total


def count_parameters(model: nn.Module, include_embeddings: bool = True) -> int:
    """Number of trainable-by-design parameters (`nn.Parameter`s; `keras_bias` zero buffers are not counted), as
    Keras' `model.summary()` gives it: one number, trainable or not, the embedding tables left out on request."""
    return parameter_counts(model, skip=() if include_embeddings else (nn.Embedding,))[0]
