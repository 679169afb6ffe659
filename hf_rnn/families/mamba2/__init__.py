"""The Mamba-2 family as one package: the family object (``family``), its task heads on transformers'
``Mamba2Model`` (``configuration_mamba2``, ``modeling_mamba2``) and their hidden attention (``hidden_attention``).

Importing the package defines only the family (no torch): its models load when a model is built or read;
``hf_rnn.models`` re-exports them and registers them with transformers' Auto classes.
"""

from hf_rnn.families.mamba2.family import (
    HEAD_BY_KIND,
    MAMBA2,
    MAMBA2_VARIANTS,
    TESTED_PIPELINES,
    Mamba2Family,
    Mamba2ModelSection,
)

__all__ = ["HEAD_BY_KIND", "MAMBA2", "MAMBA2_VARIANTS", "TESTED_PIPELINES", "Mamba2Family", "Mamba2ModelSection"]
