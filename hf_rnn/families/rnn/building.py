"""A fresh RNN head for a task from a recipe's ``model:`` section (an ``RNNModelSection``): the head follows from
the task's kind, its sizes from the recipe and the tokenizer."""

from __future__ import annotations

import dataclasses
from typing import Any

from hf_rnn.errors import ConfigError
from hf_rnn.families.llm_embeddings import copy_llm_embeddings
from hf_rnn.families.rnn.configuration_rnn import RNNConfig
from hf_rnn.families.rnn.modeling_rnn import RNN_HEADS

RNN_HEAD_BY_KIND = {
    "sequence-classification": "RNNForSequenceClassification",
    "token-classification": "RNNForTokenClassification",
    "causal-lm": "RNNForCausalLM",
    "translation": "RNNForSeq2SeqLM",
    "forecasting": "RNNForTimeSeriesPrediction",
}

# RNNModelSection fields that are RNNConfig arguments (the rest name the recipe)
_NOT_CONFIG = ("family", "name", "init_embeddings", "freeze_embeddings")


def build_rnn(task, model_cfg, tokenizer=None):
    """An ``RNNFor...`` head for ``task.kind`` (a new kind's ``head_kind``: the head it shares, with its
    ``head_config``), sized by the recipe and the tokenizer."""
    kind = task.head_kind or task.kind
    settings: dict[str, Any] = {
        k: v for k, v in dataclasses.asdict(model_cfg).items() if k not in _NOT_CONFIG
    }
    if kind == "forecasting":
        settings.update(vocab_size=1, prediction_length=task.horizon, input_size=1, pad_token_id=None)
    else:
        if tokenizer is None:
            raise ConfigError(f"an RNN for {task.name} needs a tokenizer")
        settings.update(
            vocab_size=len(tokenizer),
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    labels = task.label_names
    if labels is not None and kind in ("sequence-classification", "token-classification"):
        settings.update(
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={name: i for i, name in enumerate(labels)},
        )
    if kind == "translation":
        start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        settings.update(decoder_start_token_id=start)
    settings.update(task.head_config())
    head = RNN_HEADS[RNN_HEAD_BY_KIND[kind]]
    try:
        model = head(RNNConfig(**settings))
    except ValueError as e:  # RNNConfig / the head name the field and the allowed values
        raise ConfigError(f"model: {str(e).splitlines()[0]}") from None
    if getattr(model_cfg, "init_embeddings", None) == "llm":
        copy_llm_embeddings(model, tokenizer)
    if getattr(model_cfg, "freeze_embeddings", False) and model.get_input_embeddings() is not None:
        model.get_input_embeddings().weight.requires_grad_(False)
    return model
