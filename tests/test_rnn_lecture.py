"""The lecture's step-by-step RNN equations and Keras stacks, checked against the fused models."""

from __future__ import annotations

import pytest
import torch

from hf_rnn.families.rnn.equations import SimpleRNN
from hf_rnn.families.rnn.keras_stacks import (
    build_keras_stack,
    count_parameters,
    keras_rnn_params,
    keras_stack_params,
)
from hf_rnn.models import RNNConfig, RNNForSequenceClassification, RNNForTokenClassification


def simple_rnn_config(**overrides) -> RNNConfig:
    fields = dict(vocab_size=50, embedding_size=6, hidden_size=7, num_layers=1, cell="rnn", num_labels=4)
    fields.update(overrides)
    return RNNConfig(**fields)


@pytest.mark.parametrize("keras_bias", [False, True])
def test_equations_match_the_fused_token_classifier(keras_bias):
    torch.manual_seed(0)
    model = RNNForTokenClassification(simple_rnn_config(keras_bias=keras_bias)).eval()
    ids = torch.randint(0, 50, (3, 9))
    twin = SimpleRNN.from_model(model)
    assert twin.W_X.shape == (6, 7) and twin.W_A.shape == (7, 7) and twin.b_A.shape == (7,)
    assert twin.W_Y.shape == (7, 4) and twin.b_Y.shape == (4,)
    with torch.no_grad():
        y, activations = twin(model.get_input_embeddings()(ids))
        torch.testing.assert_close(y, model(ids).logits, atol=1e-5, rtol=0)
        torch.testing.assert_close(activations, model.rnn(ids).last_hidden_state, atol=1e-5, rtol=0)


def test_equations_match_the_fused_sequence_classifier_with_softmax_output():
    torch.manual_seed(1)
    model = RNNForSequenceClassification(simple_rnn_config(num_labels=3)).eval()
    ids = torch.randint(0, 50, (4, 5))
    twin = SimpleRNN.from_model(model, output_activation="softmax")
    with torch.no_grad():
        y, _ = twin(model.get_input_embeddings()(ids))
        # Sentiment classification: the output is one value, y_T, the last step's.
        torch.testing.assert_close(y[:, -1], model(ids).logits.softmax(-1), atol=1e-5, rtol=0)


def test_copy_from_fused_accepts_a_bare_nn_rnn():
    torch.manual_seed(2)
    rnn, output = torch.nn.RNN(3, 5, batch_first=True), torch.nn.Linear(5, 2)
    twin = SimpleRNN(3, 5, 2, output_activation="sigmoid").copy_from_fused(rnn, output)
    x = torch.randn(2, 6, 3)
    with torch.no_grad():
        torch.testing.assert_close(twin(x)[0], torch.sigmoid(output(rnn(x)[0])), atol=1e-5, rtol=0)


def test_equations_refuse_models_they_cannot_mirror():
    with pytest.raises(ValueError, match="cell='rnn'"):
        SimpleRNN.from_model(RNNForTokenClassification(simple_rnn_config(cell="gru")))
    with pytest.raises(ValueError, match="one-layer"):
        SimpleRNN.from_model(RNNForTokenClassification(simple_rnn_config(num_layers=2)))


# Keras' model.summary() counts for d = 16 input features, from the formulas in the task description:
#   SimpleRNN(5): 5*(16+5+1) = 110, Dense(3): 5*3+3 = 18                             -> 128
#   BiLSTM(64) on 16: 2*4*64*(16+64+1) = 41472, BiLSTM(64) on 128: 2*4*64*(128+64+1) = 98816,
#   Dense(64) on 128: 8256, Dense(1) on 64: 65                                       -> 148609
D = 16
VOCAB = 100


def test_keras_formulas():
    assert keras_rnn_params("rnn", 5, D) == 110
    assert keras_rnn_params("lstm", 64, D, bidirectional=True) == 41472
    assert keras_rnn_params("lstm", 64, 128, bidirectional=True) == 98816
    assert keras_rnn_params("gru", 4, 3) == 3 * 4 * (3 + 4 + 2)
    assert keras_stack_params("simple_rnn", D) == 128
    assert keras_stack_params("bilstm_tagger", D) == 148609


@pytest.mark.parametrize("name, keras_count", [("simple_rnn", 128), ("bilstm_tagger", 148609)])
def test_keras_stacks_match_keras_counts_exactly_with_keras_bias(name, keras_count):
    model = build_keras_stack(name, input_dim=D, vocab_size=VOCAB)  # keras_bias=True by default
    assert count_parameters(model, include_embeddings=False) == keras_count
    # The embedding table (vocab x d) is extra: Keras' stacks start from d-dimensional inputs.
    assert count_parameters(model) == keras_count + VOCAB * D


@pytest.mark.parametrize(
    "name, extra",
    [
        ("simple_rnn", 5),  # one more bias vector of 5 units
        ("bilstm_tagger", 2 * 2 * 4 * 64),  # 2 layers x 2 directions x 4 gates x 64 units
    ],
)
def test_pytorch_bias_pair_adds_the_documented_count(name, extra):
    model = build_keras_stack(name, input_dim=D, vocab_size=VOCAB, keras_bias=False)
    assert count_parameters(model, include_embeddings=False) == keras_stack_params(name, D) + extra


def test_keras_stacks_run_with_the_lecture_shapes():
    ids = torch.randint(0, VOCAB, (2, 7))
    classifier = build_keras_stack("simple_rnn", input_dim=D, vocab_size=VOCAB).eval()
    assert classifier(ids).logits.shape == (2, 3)  # Dense(3, softmax): softmax applied by the loss
    tagger = build_keras_stack("bilstm_tagger", input_dim=D, vocab_size=VOCAB).eval()
    assert tagger(ids).logits.shape == (2, 7, 1)  # return_sequences=True: one sigmoid per token
