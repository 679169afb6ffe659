"""The RNN model family as `transformers` models, plus the lecture's step-by-step RNN and Keras stacks, and the
Mamba-2 family's task heads.

Importing this package registers `model_type="hf_rnn"` and `"hf_mamba2"` with `AutoConfig` and the `AutoModel*`
classes.
"""

from .attention_rnn import RNNAttention
from .cache_rnn import RNNStateCache, RNNStateLayer
from .configuration_mamba2 import HfMamba2Config
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
from .modeling_mamba2 import (
    MAMBA2_HEADS,
    HfMamba2ForCausalLM,
    HfMamba2ForSequenceClassification,
    HfMamba2ForTimeSeriesPrediction,
    HfMamba2ForTokenClassification,
    HfMamba2Model,
    HfMamba2PreTrainedModel,
    load_mamba2,
)
from .modeling_mamba2 import register_auto_classes as register_mamba2
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
register_mamba2()

__all__ = [
    "MAMBA2_HEADS",
    "HfMamba2Config",
    "HfMamba2ForCausalLM",
    "HfMamba2ForSequenceClassification",
    "HfMamba2ForTimeSeriesPrediction",
    "HfMamba2ForTokenClassification",
    "HfMamba2Model",
    "HfMamba2PreTrainedModel",
    "load_mamba2",
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
