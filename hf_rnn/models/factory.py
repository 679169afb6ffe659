"""The builders of the built-in families, importable from here as before: each lives with its family now
(``hf_rnn.families.rnn.building``, ``hf_rnn.families.llm.building``), and ``build_model`` / ``build_tokenizer``
(by the recipe's family) are ``hf_rnn.families``'.

The head follows from the task's kind, for both families:

=======================  ===============================  ===================================
task kind                RNN                              LLM (``load_llm``)
=======================  ===============================  ===================================
sequence-classification  RNNForSequenceClassification     PromptClassifier (``head=prompt``: the LM
                                                          head's label words), or
                                                          AutoModelForSequenceClassification
                                                          (``head=new-head``)
token-classification     RNNForTokenClassification        AutoModelForTokenClassification
causal-lm                RNNForCausalLM                   AutoModelForCausalLM
translation              RNNForSeq2SeqLM                  AutoModelForCausalLM (chat prompt)
forecasting              RNNForTimeSeriesPrediction       AutoModelForCausalLM (digit strings), or
                                                          PatchLLMForTimeSeriesPrediction
                                                          (``mode=patch``: values, frozen blocks)
=======================  ===============================  ===================================
"""

from __future__ import annotations

from hf_rnn.families import build_model, build_tokenizer
from hf_rnn.families.llm.building import build_llm, build_patch_model
from hf_rnn.families.rnn.building import RNN_HEAD_BY_KIND, build_rnn, copy_llm_embeddings
from hf_rnn.tokenization import tokenizer_from_section

__all__ = ["RNN_HEAD_BY_KIND", "build_llm", "build_model", "build_patch_model", "build_rnn", "build_tokenizer",
           "copy_llm_embeddings", "tokenizer_from_section"]
