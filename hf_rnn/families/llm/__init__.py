"""The LLM family as one package: the family object (``family``), loading and fine-tuning a transformers LLM
(``llm``), the zero-shot and prompt-trained classifiers (``llm_zero_shot``, ``llm_prompt``), the numeric
forecaster on its lower blocks (``patch_forecaster``) and how a fresh model is built (``building``).

Importing the package defines only the family (no torch): its models load when a model is built or read.
"""

from hf_rnn.families.base import is_model_path
from hf_rnn.families.llm.family import (
    BUILTIN_LLM_LICENSE,
    LLM,
    LLM_DTYPES,
    LLM_MODES,
    LLM_NAMES,
    LLM_VARIANTS,
    LLMFamily,
    LLMModelSection,
    is_builtin_llm,
    looks_like_hub_id,
)

__all__ = ["BUILTIN_LLM_LICENSE", "LLM", "LLM_DTYPES", "LLM_MODES", "LLM_NAMES", "LLM_VARIANTS", "LLMFamily",
           "LLMModelSection", "is_builtin_llm", "is_model_path", "looks_like_hub_id"]
