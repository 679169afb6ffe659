"""hf_rnn: RNNs and a small LLM, side by side, on the same tasks.

The public API, imported lazily so that ``import hf_rnn`` (and ``hf-rnn --help``) stays
fast; the first use of a name imports its module::

    from hf_rnn import load_task, train, train_recipe, compare, attention_maps, load_llm, RNNConfig

``import hf_rnn`` also registers the RNN family (``model_type="hf_rnn"``) with transformers' Auto classes, so
``AutoConfig``, ``AutoModelFor...`` and ``transformers.pipeline`` load a saved RNN folder. The registration
itself waits until transformers' Auto classes are imported (see ``hf_rnn._auto``): importing this package
stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from hf_rnn._version import __version__

_EXPORTS = {
    # tasks and data
    "load_task": "hf_rnn.tasks",
    "TASKS": "hf_rnn.tasks",
    "Task": "hf_rnn.tasks",
    "fetch": "hf_rnn.assets.fetching",
    "load_tokenizer": "hf_rnn.tokenization",
    "train_word_tokenizer": "hf_rnn.tokenization",
    # the RNN family
    "RNNConfig": "hf_rnn.models",
    "RNNForSequenceClassification": "hf_rnn.models",
    "RNNForTokenClassification": "hf_rnn.models",
    "RNNForCausalLM": "hf_rnn.models",
    "RNNForSeq2SeqLM": "hf_rnn.models",
    "RNNForTimeSeriesPrediction": "hf_rnn.models",
    "load_rnn": "hf_rnn.models",
    # the LLM family
    "load_llm": "hf_rnn.families.llm.llm",
    "zero_shot": "hf_rnn.families.llm.llm_zero_shot",
    # training, comparison, attention
    "train": "hf_rnn.training.loop",
    "train_recipe": "hf_rnn.training.recipe_training",
    "load_recipe": "hf_rnn.training.recipes",
    "TrainConfig": "hf_rnn.training.loop",
    # run folders: reading them, and metrics.json's schema
    "read_run": "hf_rnn.runs.run",
    "Run": "hf_rnn.runs.run",
    "load_run_model": "hf_rnn.runs.run",
    "RunMetrics": "hf_rnn.runs.schema",
    "compare": "hf_rnn.comparison.compare",
    "compare_runs": "hf_rnn.comparison.compare",
    "compare_sizes": "hf_rnn.comparison.learning_curve",
    "Comparison": "hf_rnn.comparison.schema",
    "attention_maps": "hf_rnn.families",
    "AttentionMaps": "hf_rnn.families.attention",
    # errors
    "HfRnnError": "hf_rnn.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hf_rnn' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # cache: later lookups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


from hf_rnn import _auto  # noqa: E402  (after __getattr__: registering may import hf_rnn.models

_auto.install()
