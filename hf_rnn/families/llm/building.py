"""A model of the LLM family for a task from a recipe's ``model:`` section (an ``LLMModelSection``): the recipe's
LLM with the task's head and training mode, or a numeric forecaster on its lower blocks (``model.mode=patch``)."""

from __future__ import annotations

from hf_rnn.errors import ConfigError
from hf_rnn.families.llm.llm import load_llm, resolve_llm_source
from hf_rnn.families.llm.patch_forecaster import build_patch_forecaster


def build_llm(task, model_cfg):
    """``(model, tokenizer)``: the recipe's LLM (an ``LLMModelSection``) with the task's head and training mode;
    for classification with ``model.head=prompt``, a ``PromptClassifier`` (the LM head on the label words)."""
    if task.kind == "sequence-classification" and getattr(model_cfg, "head", "new-head") == "prompt":
        from hf_rnn.families.llm.llm_prompt import load_prompt_classifier

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
