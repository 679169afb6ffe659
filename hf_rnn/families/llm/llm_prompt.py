"""Prompt-based fine-tuning: a causal LM trained as a classifier through its own LM head.

PET (Schick & Schütze, EACL 2021) and LM-BFF (Gao et al., ACL 2021) fine-tune a language model on a
classification task by asking it the task as a question and reading the LM head's scores of the label words at
the answer position, with the cross-entropy over those words as the loss. Nothing new is added: the LM head
already scores the words, so before any update the classifier *is* the zero-shot one (``ZeroShotClassifier``,
the same instruction, answer prefix and label words in the chat template), and a training run that validates
at step 0 and keeps its best checkpoint cannot end under the zero-shot prompt. A new linear head (transformers'
``AutoModelForSequenceClassification``, the recipe's ``model.head=new-head``) starts from chance instead.

``PromptClassifier`` saves as the causal LM's own folder (``AutoModelForCausalLM`` loads the weights) plus
``prompt_classifier.json``, the question and label words; ``PromptClassifier.from_pretrained`` reads both back.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hf_rnn.assets.cache import atomic_write_text
from hf_rnn.errors import ConfigError, ModelLoadError
from hf_rnn.families.llm.llm import base_model_of
from hf_rnn.families.llm.llm_zero_shot import GENERIC_PROMPT, ZeroShotClassifier, default_prompt

PROMPT_FILE = "prompt_classifier.json"  # beside the causal LM's config.json and weights
PROMPT_FORMAT = 1
# model.head of an LLM recipe for a classification task: the LM head on the label words, or a new linear head
HEADS = ("prompt", "new-head")


class PromptClassifier(ZeroShotClassifier):
    """A causal LM fine-tuned to answer a classification question with a label word.

    ``forward`` reads the task's encoded texts, asks the zero-shot question about each (see
    ``ZeroShotClassifier``) and returns, per label, the log-probability of its word's first token at the
    answer position: ``logits`` [B, num_labels]; with ``labels`` [B], ``loss`` is the cross-entropy over them
    (the same as over the LM head's raw logits of the label words: log-softmax shifts each row by one constant).

    Under gradients the shared head of the prompt (system message and instruction) is read once per batch, with
    gradients, and repeated over its rows; each row reads only its own text and the answer opening.

    Args:
        model: a causal LM, or a peft LoRA model around one.
        tokenizer: its tokenizer.
        label_names, instruction, answer_prefix, label_words, max_text_tokens: as ``ZeroShotClassifier``.
    """

    answers_with_label_words = True  # the app asks its causal LM the question, as it asks the zero-shot LLM

    def __init__(self, model: nn.Module, tokenizer, label_names: Sequence[str],
                 instruction: str = GENERIC_PROMPT[0], answer_prefix: str = GENERIC_PROMPT[1],
                 label_words: Sequence[str] | None = None, max_text_tokens: int = 256) -> None:
        super().__init__(model, tokenizer, label_names, instruction=instruction, answer_prefix=answer_prefix,
                         label_words=label_words, max_text_tokens=max_text_tokens)
        self._head_ids: list[int] | None = None
        base = base_model_of(model)
        self._keeps_logits = "logits_to_keep" in inspect.signature(base.forward).parameters

    # ------------------------------------------------------------------ what the rest of hf_rnn asks a model

    @property
    def name_or_path(self) -> str:
        return getattr(base_model_of(self.lm), "name_or_path", "") or ""

    def get_base_model(self) -> nn.Module:
        """The transformers causal LM (under a peft wrapper too): gradient checkpointing, attention settings."""
        return base_model_of(self.lm)

    @property
    def merge_and_unload(self):
        """For a LoRA model only (``hasattr`` is False otherwise): peft's ``merge_and_unload``, in place as
        peft's is, returning this classifier over the merged LM (what ``run_folder.save_model`` saves)."""
        if not hasattr(self.lm, "merge_and_unload"):
            raise AttributeError("merge_and_unload")

        def merge() -> PromptClassifier:
            self.lm = self.lm.merge_and_unload()
            self.config = self.lm.config
            return self

        return merge

    def prompt_settings(self) -> dict[str, Any]:
        """What ``prompt_classifier.json`` holds: the question and the words the classifier answers with."""
        return {"format": PROMPT_FORMAT, "label_names": self.label_names, "label_words": self.label_words,
                "instruction": self.instruction, "answer_prefix": self.answer_prefix,
                "max_text_tokens": self.max_text_tokens}

    def save_pretrained(self, folder: str | os.PathLike, state_dict: dict[str, torch.Tensor] | None = None,
                        **kwargs: Any) -> None:
        """The LM's ``save_pretrained`` (a LoRA model's: its adapter) and ``prompt_classifier.json``.
        ``state_dict``: this module's (keys ``lm.*``, e.g. gathered from FSDP shards)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if state_dict is not None:
            kwargs["state_dict"] = {k[len("lm."):]: v for k, v in state_dict.items() if k.startswith("lm.")}
        self.lm.save_pretrained(folder, **kwargs)
        atomic_write_text(folder / PROMPT_FILE, json.dumps(self.prompt_settings(), indent=1))

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike, **model_kwargs: Any) -> PromptClassifier:
        """A saved classifier: the causal LM (``AutoModelForCausalLM``, never remote code), its tokenizer and
        ``prompt_classifier.json``. ``model_kwargs`` go to ``from_pretrained`` (e.g. ``attn_implementation``).

        Raises:
            ModelLoadError: no or an unreadable ``prompt_classifier.json``, or no tokenizer in the folder.
        """
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = Path(folder)
        settings = read_prompt_settings(folder)
        if settings is None:
            raise ModelLoadError(f"{folder} has no {PROMPT_FILE}: it is not a prompt classifier")
        if not (folder / "tokenizer_config.json").exists():
            raise ModelLoadError(f"{folder} has no tokenizer, which a prompt classifier needs to ask its question")
        model = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=False, **model_kwargs)
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        return cls(model, tokenizer, settings["label_names"], settings["instruction"], settings["answer_prefix"],
                   settings["label_words"], settings["max_text_tokens"])

    def train(self, mode: bool = True) -> PromptClassifier:
        # evaluation reads the prompt's shared head once while the weights stay; the training loop switches modes
        # around every evaluation, and a fused optimizer's step leaves the weights' version counters as they were
        self._prefix, self._prefix_key = None, None
        return super().train(mode)

    # ------------------------------------------------------------------ scoring under gradients

    def shared_head_ids(self) -> list[int]:
        if self._head_ids is None:  # the prompt and tokenizer never change: worked out once
            self._head_ids = super().shared_head_ids()
        return self._head_ids

    def _next_logits(self, prompts: list[list[int]], device) -> torch.Tensor:
        if not torch.is_grad_enabled():  # evaluation: the head's cache read once for as long as the weights stay
            return super()._next_logits(prompts, device)
        ids = self.shared_head_ids()
        if ids and all(p[: len(ids)] == ids and len(p) > len(ids) for p in prompts):
            head = self._read_shared_prefix(device, grad=True)  # this batch's: the weights change every step
            if head is not None:
                return self._cached_next_logits(prompts, *head, device, copy_cache=False)
        return self._full_next_logits(prompts, device)

    def _full_next_logits(self, prompts: list[list[int]], device) -> torch.Tensor:
        """As ``ZeroShotClassifier``'s, computing the LM head only at the rows' answer positions where the model
        can (a [B, T, V] tensor of logits, and its gradient, would cost more than the forward)."""
        if not self._keeps_logits:
            return super()._full_next_logits(prompts, device)
        batch = self.tokenizer.pad({"input_ids": prompts}, return_tensors="pt").to(device)
        last = batch["attention_mask"].sum(1) - 1  # [B] each row's last real position
        keep = last.unique()  # sorted positions, at most B of them
        out = self.lm(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=keep)
        column = torch.searchsorted(keep, last)  # each row's answer position among the kept ones
        return out.logits[torch.arange(len(prompts), device=device), column].float()  # [B, V]


def read_prompt_settings(folder: str | os.PathLike) -> dict[str, Any] | None:
    """A saved prompt classifier's ``prompt_classifier.json``, checked; ``None`` where the folder has none.

    Raises:
        ModelLoadError: the file is not valid JSON or lacks a setting.
    """
    path = Path(folder) / PROMPT_FILE
    if not path.exists():
        return None
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"cannot read {path}: {str(e).splitlines()[0]}") from None
    needed = ("label_names", "label_words", "instruction", "answer_prefix", "max_text_tokens")
    missing = [k for k in needed if not isinstance(settings, dict) or k not in settings]
    if missing:
        raise ModelLoadError(f"{path} lacks {', '.join(missing)}: save the prompt classifier again")
    return settings


def is_prompt_classifier_folder(folder: str | os.PathLike) -> bool:
    return (Path(folder) / PROMPT_FILE).exists()


def load_prompt_classifier(name_or_path: str | os.PathLike | None, task: Any, *, mode: str = "full",
                           label_words: Sequence[str] | None = None, **llm_options: Any):
    """``(PromptClassifier, tokenizer)``: a causal LM (``load_llm`` with ``mode``, LoRA and freezing options)
    asking ``task``'s zero-shot question (``default_prompt(task)``).

    Raises:
        ConfigError: ``mode="freeze"`` (it trains only a new head, and this classifier has none), or label words
            that share a first token.
    """
    from hf_rnn.families.llm.llm import load_llm

    if mode == "freeze":
        raise ConfigError("model.mode=freeze trains only a new task head; the prompt classifier reads the LM head "
                          "and adds none: use model.mode=full or lora, or model.head=new-head")
    lm, tokenizer = load_llm(name_or_path, "causal-lm", mode=mode, **llm_options)
    instruction, answer_prefix = default_prompt(task)
    try:
        classifier = PromptClassifier(lm, tokenizer, task.label_names, instruction, answer_prefix, label_words)
    except ConfigError as e:
        raise ConfigError(f"{e}; or train a new head: model.head=new-head") from None
    return classifier, tokenizer


__all__ = ["HEADS", "PROMPT_FILE", "PromptClassifier", "is_prompt_classifier_folder", "load_prompt_classifier",
           "read_prompt_settings"]
