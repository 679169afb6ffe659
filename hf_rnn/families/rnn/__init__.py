"""The RNN family as one package: the family object (``family``), its ``transformers`` models
(``configuration_rnn``, ``modeling_rnn`` and the layers, cache, attention and outputs it is made of), how a fresh
one is built (``building``) and a saved one loaded (``loading_rnn``), and the lecture's step-by-step RNN
(``equations``) and Keras stacks (``keras_stacks``).

Importing the package defines only the family (no torch): its models load when a model is built or read;
``hf_rnn.models`` re-exports them and registers them with transformers' Auto classes.
"""

from hf_rnn.families.rnn.family import (
           PROJECT_LICENSE,
           RNN,
           RNN_ABLATIONS,
           RNN_VARIANTS,
           TESTED_PIPELINES,
           RNNFamily,
           RNNModelSection,
)

__all__ = ["PROJECT_LICENSE", "RNN", "RNN_ABLATIONS", "RNN_VARIANTS", "TESTED_PIPELINES", "RNNFamily",
           "RNNModelSection"]
