"""The builders the two built-in families use (``hf_rnn.families``): a recipe's ``model`` and ``tokenizer``
sections → a model and its tokenizer. ``build_model`` / ``build_tokenizer`` (by the recipe's family) are
``hf_rnn.families``'; the names here stay for code that imported them from this module.

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

import dataclasses
from typing import Any

from ..assets import ensure_builtin_llm
from ..errors import ConfigError
from ..tokenization import load_tokenizer, train_char_tokenizer, train_word_tokenizer
from .configuration_rnn import RNNConfig
from .llm import load_llm, resolve_llm_source
from .modeling_rnn import RNN_HEADS
from .patch_forecaster import build_patch_forecaster

RNN_HEAD_BY_KIND = {
    "sequence-classification": "RNNForSequenceClassification",
    "token-classification": "RNNForTokenClassification",
    "causal-lm": "RNNForCausalLM",
    "translation": "RNNForSeq2SeqLM",
    "forecasting": "RNNForTimeSeriesPrediction",
}

# RNNModelSection fields that are RNNConfig arguments (the rest name the recipe)
_NOT_CONFIG = ("family", "name", "init_embeddings", "freeze_embeddings")


def tokenizer_from_section(task, tokenizer_cfg):
    """The tokenizer a recipe's ``tokenizer:`` section names: the built-in LLM's (default), another one, or a
    word- or character-level vocabulary trained on the task's training split."""
    if tokenizer_cfg.word_level:
        return train_word_tokenizer(_training_texts(task), vocab_size=tokenizer_cfg.vocab_size,
                                    lowercase=tokenizer_cfg.lowercase)
    if tokenizer_cfg.char_level:
        return train_char_tokenizer(_training_texts(task), vocab_size=tokenizer_cfg.vocab_size)
    return load_tokenizer(tokenizer_cfg.name_or_path)


def _training_texts(task):
    """Every text of the training split (words of a tagged sentence joined by spaces)."""
    ds = task.dataset["train"]
    for column in ds.column_names:
        feature = ds.features[column]
        dtype = getattr(feature, "dtype", None) or getattr(getattr(feature, "feature", None), "dtype", None)
        if dtype != "string":
            continue
        for value in ds[column]:
            yield " ".join(value) if isinstance(value, list) else value


def build_llm(task, model_cfg):
    """``(model, tokenizer)``: the recipe's LLM (an ``LLMModelSection``) with the task's head and training mode;
    for classification with ``model.head=prompt``, a ``PromptClassifier`` (the LM head on the label words)."""
    if task.kind == "sequence-classification" and getattr(model_cfg, "head", "new-head") == "prompt":
        from .llm_prompt import load_prompt_classifier

        return load_prompt_classifier(model_cfg.name_or_path, task, mode=model_cfg.mode, lora_r=model_cfg.lora_r,
                                      lora_alpha=model_cfg.lora_alpha, lora_dropout=model_cfg.lora_dropout,
                                      lora_target_modules=model_cfg.lora_target_modules,
                                      freeze_layers=model_cfg.freeze_layers, dtype=model_cfg.dtype)
    return load_llm(
        model_cfg.name_or_path,
        task,
        mode=model_cfg.mode,
        lora_r=model_cfg.lora_r,
        lora_alpha=model_cfg.lora_alpha,
        lora_dropout=model_cfg.lora_dropout,
        lora_target_modules=model_cfg.lora_target_modules,
        freeze_layers=model_cfg.freeze_layers,
        dtype=model_cfg.dtype,
    )


def build_patch_model(task, model_cfg):
    """A numeric forecaster on the recipe's LLM (``model.mode=patch``): see ``patch_forecaster``."""
    if task.kind != "forecasting":
        raise ConfigError(f"model.mode=patch forecasts values; {task.name} is a {task.kind} task")
    source, local_only = resolve_llm_source(model_cfg.name_or_path)
    try:
        return build_patch_forecaster(source, local_only, task, llm_layers=model_cfg.llm_layers,
                                      patch_length=model_cfg.patch_length, patch_stride=model_cfg.patch_stride)
    except ValueError as e:  # the config names the setting that does not fit
        raise ConfigError(f"model: {str(e).splitlines()[0]}") from None


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


def copy_llm_embeddings(model, tokenizer) -> None:
    """Start ``model``'s token embeddings from the built-in LLM's input embeddings.

    The RNN reads SmolLM2's token ids, so SmolLM2's embedding table is a ready-made
    word representation learned on far more text than any task split: the RNN then
    trains on top of it (all weights stay trainable).
    """
    import torch
    from safetensors import safe_open

    folder = ensure_builtin_llm()
    with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
        table = f.get_tensor("model.embed_tokens.weight")
    embeddings = model.get_input_embeddings()
    if embeddings is None or tuple(embeddings.weight.shape) != tuple(table.shape):
        shape = None if embeddings is None else tuple(embeddings.weight.shape)
        raise ConfigError(f"model.init_embeddings=llm needs the LLM's tokenizer and embedding_size={table.shape[1]} "
                          f"(embedding table {tuple(table.shape)}; this model's is {shape})")
    with torch.no_grad():
        embeddings.weight.copy_(table)


def __getattr__(name: str):
    # build_model and build_tokenizer ask the recipe's family, which imports this module: found by name
    if name in ("build_model", "build_tokenizer"):
        import importlib

        return getattr(importlib.import_module("hf_rnn.families"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
