"""The RNN model family as `transformers` models, plus the lecture's step-by-step RNN and Keras stacks.

Importing this package registers `model_type="hf_rnn"` with `AutoConfig` and the `AutoModel*` classes.
"""

from .attention_rnn import RNNAttention
from .cache_rnn import RNNStateCache, RNNStateLayer
from .configuration_rnn import ATTENTION_TYPES, CELL_TYPES, RNNConfig
from .equations import SimpleRNN
from .keras_stacks import (
    KERAS_STACKS,
    build_keras_stack,
    count_parameters,
    keras_dense_params,
    keras_rnn_params,
    keras_stack_config,
    keras_stack_params,
)
from .layers_rnn import RNNClassifierHead, RNNDecoder, run_rnn, shift_tokens_right
from .loading_rnn import load_rnn
from .modeling_rnn import (
    RNN_HEADS,
    RNNForCausalLM,
    RNNForSeq2SeqLM,
    RNNForSequenceClassification,
    RNNForTimeSeriesPrediction,
    RNNForTokenClassification,
    RNNModel,
    RNNPreTrainedModel,
    register_auto_classes,
)
from .outputs_rnn import RNNModelOutput, RNNTimeSeriesPredictionOutput
from .patch_forecaster import PatchForecasterConfig, PatchLLMForTimeSeriesPrediction
from .patch_forecaster import register_auto_classes as register_patch_forecaster

register_auto_classes()
register_patch_forecaster()

__all__ = [
    "PatchForecasterConfig",
    "PatchLLMForTimeSeriesPrediction",
    "ATTENTION_TYPES",
    "CELL_TYPES",
    "KERAS_STACKS",
    "RNN_HEADS",
    "RNNAttention",
    "RNNClassifierHead",
    "RNNConfig",
    "RNNDecoder",
    "RNNForCausalLM",
    "RNNForSeq2SeqLM",
    "RNNForSequenceClassification",
    "RNNForTimeSeriesPrediction",
    "RNNForTokenClassification",
    "RNNModel",
    "RNNModelOutput",
    "RNNPreTrainedModel",
    "RNNStateCache",
    "RNNStateLayer",
    "RNNTimeSeriesPredictionOutput",
    "SimpleRNN",
    "build_keras_stack",
    "count_parameters",
    "keras_dense_params",
    "keras_rnn_params",
    "keras_stack_config",
    "keras_stack_params",
    "load_rnn",
    "register_auto_classes",
    "run_rnn",
    "shift_tokens_right",
]
