"""The models of the built-in families, importable from one place: the RNN family as `transformers` models, plus
the lecture's step-by-step RNN and Keras stacks, the Mamba-2 family's task heads and the LLM-backed forecaster.

Each family's models live in its package (`hf_rnn.families.rnn`, `hf_rnn.families.llm`, `hf_rnn.families.mamba2`);
this package re-exports them, and the modules' old paths (`hf_rnn.models.modeling_rnn`, `hf_rnn.models.llm`, ...)
name the same module objects (see `MOVED_MODULES`), so code written against them keeps working.

Importing this package registers `model_type="hf_rnn"`, `"hf_mamba2"` and the patch forecaster's with `AutoConfig`
and the `AutoModel*` classes.
"""

import sys

from hf_rnn.families import auto_registration, saved_folder, window_scaling
from hf_rnn.families.llm import llm, llm_prompt, llm_zero_shot, patch_forecaster
from hf_rnn.families.llm.patch_forecaster import PatchForecasterConfig, PatchLLMForTimeSeriesPrediction
from hf_rnn.families.llm.patch_forecaster import register_auto_classes as register_patch_forecaster
from hf_rnn.families.mamba2 import configuration_mamba2, hidden_attention, modeling_mamba2
from hf_rnn.families.mamba2.configuration_mamba2 import HfMamba2Config
from hf_rnn.families.mamba2.modeling_mamba2 import (
    MAMBA2_HEADS,
    HfMamba2ForCausalLM,
    HfMamba2ForSequenceClassification,
    HfMamba2ForTimeSeriesPrediction,
    HfMamba2ForTokenClassification,
    HfMamba2Model,
    HfMamba2PreTrainedModel,
    load_mamba2,
)
from hf_rnn.families.mamba2.modeling_mamba2 import register_auto_classes as register_mamba2
from hf_rnn.families.rnn import (
    attention_rnn,
    cache_rnn,
    configuration_rnn,
    equations,
    keras_stacks,
    layers_rnn,
    loading_rnn,
    modeling_rnn,
    outputs_rnn,
)
from hf_rnn.families.rnn.attention_rnn import RNNAttention
from hf_rnn.families.rnn.cache_rnn import RNNStateCache, RNNStateLayer
from hf_rnn.families.rnn.configuration_rnn import ATTENTION_TYPES, CELL_TYPES, RNNConfig
from hf_rnn.families.rnn.equations import SimpleRNN
from hf_rnn.families.rnn.keras_stacks import (
    KERAS_STACKS,
    build_keras_stack,
    count_parameters,
    keras_dense_params,
    keras_rnn_params,
    keras_stack_config,
    keras_stack_params,
)
from hf_rnn.families.rnn.layers_rnn import RNNClassifierHead, RNNDecoder, run_rnn, shift_tokens_right
from hf_rnn.families.rnn.loading_rnn import load_rnn
from hf_rnn.families.rnn.modeling_rnn import (
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
from hf_rnn.families.rnn.outputs_rnn import RNNModelOutput, RNNTimeSeriesPredictionOutput

# the modules that moved into the family packages, by their old name here: `import hf_rnn.models.llm` (and
# `from hf_rnn.models.modeling_rnn import ...`) find the moved module itself, so patches of its globals hold
MOVED_MODULES = {
    module.__name__.rpartition(".")[2]: module
    for module in (attention_rnn, auto_registration, cache_rnn, configuration_mamba2, configuration_rnn, equations,
                   hidden_attention, keras_stacks, layers_rnn, llm, llm_prompt, llm_zero_shot, loading_rnn,
                   modeling_mamba2, modeling_rnn, outputs_rnn, patch_forecaster, saved_folder, window_scaling)
}
for _name, _module in MOVED_MODULES.items():
    sys.modules.setdefault(f"{__name__}.{_name}", _module)

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
