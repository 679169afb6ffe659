"""The Mamba-2 family: transformers' `Mamba2Model` stacks under this package's task heads
(`hf_rnn.families.mamba2.modeling_mamba2`), trained from scratch, no Hub.

Its ``--model`` names are ``mamba2`` (the task's recipe ``<task>_mamba2.yaml``, left-to-right) and ``bimamba2``
(the same recipe with a second, right-to-left stack: classification and tagging only). Its models read the
task's own inputs (token ids, windows of values), except translation, where a decoder-only Mamba-2 continues
the task's prompt (the source) with the target, as the LLM does. Every token-reading model shows its hidden
attention: each mixer's scan as the matrix ``L o C Bᵀ diag(dt)`` (``hf_rnn.families.mamba2.hidden_attention``).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hf_rnn.errors import ConfigError
from hf_rnn.families.base import CardFacts, ModelFamily
from hf_rnn.families.rnn.family import PROJECT_LICENSE

# --model name -> settings it changes in the task's mamba2 recipe
MAMBA2_VARIANTS = {"mamba2": {}, "bimamba2": {"bidirectional": True}}
HEAD_BY_KIND = {
    "sequence-classification": "HfMamba2ForSequenceClassification",
    "token-classification": "HfMamba2ForTokenClassification",
    "causal-lm": "HfMamba2ForCausalLM",
    "translation": "HfMamba2ForCausalLM",  # reads_prompt: a decoder-only LM over source -> target
    "forecasting": "HfMamba2ForTimeSeriesPrediction",
}
# the kinds whose model reads left-to-right only (it predicts what comes next)
_LEFT_TO_RIGHT_KINDS = ("causal-lm", "translation", "forecasting")
# the pipelines tests/test_mamba2.py runs on saved Mamba-2 heads
TESTED_PIPELINES = ("text-classification", "token-classification", "text-generation")
_NOTES = {
    "forecasting": "A Mamba-2 forecaster reads projected values, not tokens; its hidden attention over time steps "
                   "is not drawn here.",
}
# section fields that are not HfMamba2Config arguments, or are under another name there
_NOT_CONFIG = ("family", "name", "num_layers", "init_embeddings", "freeze_embeddings")


@dataclass
class Mamba2ModelSection:
    """An ``HfMamba2Config`` in a recipe's words; the head follows from the task's kind. The mixer's width is
    ``expand * hidden_size``, split into ``num_heads`` heads (``head_dim = expand * hidden_size / num_heads``)."""

    family: str = field(default="mamba2", metadata={"choices": ("mamba2",)})
    name: str = "mamba2"
    hidden_size: int = field(default=128, metadata={"min": 1})
    num_layers: int = field(default=2, metadata={"min": 1})
    state_size: int = field(default=16, metadata={"min": 1})
    num_heads: int = field(default=4, metadata={"min": 1})
    expand: int = field(default=2, metadata={"min": 1})
    n_groups: int = field(default=1, metadata={"min": 1})
    conv_kernel: int = field(default=4, metadata={"min": 1})
    chunk_size: int = field(default=64, metadata={"min": 1})
    bidirectional: bool = False
    pooling: str = field(default="mean", metadata={"choices": ("mean", "last", "attention")})
    classifier_dropout: float = field(default=0.0, metadata={"min": 0.0, "max": 0.99})
    tie_word_embeddings: bool = False
    # the token embeddings' width where it differs from hidden_size (a linear layer projects them to the stack's)
    embedding_size: int | None = field(default=None, metadata={"min": 1})
    # the RNNs' option: start from SmolLM2's input embeddings (its tokenizer, and embedding_size=576, the LLM's
    # width, or hidden_size=576)
    init_embeddings: str | None = field(default=None, metadata={"choices": (None, "llm")})
    freeze_embeddings: bool = False  # keep the embedding table fixed: far fewer updates


class Mamba2Family(ModelFamily):
    name = "mamba2"
    section = Mamba2ModelSection
    model_type = "hf_mamba2"
    recipe_name = "mamba2"
    names = tuple(MAMBA2_VARIANTS)
    no_checkpointing_reason: ClassVar[str] = "the Mamba-2 heads do not recompute their activations"
    maps_notes = _NOTES
    # the pipelines are those tests/test_mamba2.py runs on saved Mamba-2 heads
    card = CardFacts(license=PROJECT_LICENSE, own_classes=tuple(sorted(set(HEAD_BY_KIND.values()))),
                     pipelines=TESTED_PIPELINES)

    # ------------------------------------------------------------------ recipes

    def builtin_recipe(self, model: str, read: Callable[[str], dict]) -> dict:
        key = model.lower()
        data = read(self.recipe_name)
        data.setdefault("model", {}).update(name=key, **MAMBA2_VARIANTS.get(key, {}))
        return data

    def check_recipe(self, recipe, kind: str) -> None:
        super().check_recipe(recipe, kind)
        model = recipe.model
        width = model.expand * model.hidden_size
        if width % model.num_heads:
            raise ConfigError(f"model.num_heads={model.num_heads} must divide the mixer's width expand * hidden_size "
                              f"= {model.expand} * {model.hidden_size} = {width} (head_dim = width / num_heads)")
        if model.num_heads % model.n_groups:
            raise ConfigError(f"model.n_groups={model.n_groups} must divide model.num_heads={model.num_heads}")
        if model.bidirectional and kind in _LEFT_TO_RIGHT_KINDS:
            raise ConfigError(f"a bidirectional Mamba-2 would read what it predicts on a {kind} task: set "
                              "model.bidirectional=false (--model mamba2)")
        if model.pooling != "mean" and kind != "sequence-classification":
            raise ConfigError(f"model.pooling is the sequence classifier's; a {kind} task reads every position: "
                              "drop it")

    # ------------------------------------------------------------------ building and loading

    def build_tokenizer(self, task, model_section, tokenizer_section):
        tokenizer = super().build_tokenizer(task, model_section, tokenizer_section)
        if task.kind == "translation" and tokenizer is not None:
            tokenizer = with_answer_separator(tokenizer)
        return tokenizer

    def build_model(self, task, model_section, tokenizer=None):
        from hf_rnn.families.mamba2.configuration_mamba2 import HfMamba2Config
        from hf_rnn.families.mamba2.modeling_mamba2 import MAMBA2_HEADS

        kind = task.kind
        settings: dict[str, Any] = {k: v for k, v in dataclasses.asdict(model_section).items() if k not in _NOT_CONFIG}
        width = model_section.expand * model_section.hidden_size
        settings.update(num_hidden_layers=model_section.num_layers, head_dim=max(1, width // model_section.num_heads))
        if kind == "forecasting":
            settings.update(vocab_size=1, prediction_length=task.horizon, input_size=1, pad_token_id=None)
        else:
            if tokenizer is None:
                raise ConfigError(f"a Mamba-2 model for {task.name} needs a tokenizer")
            settings.update(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
        if kind in ("sequence-classification", "token-classification"):
            labels = task.label_names
            settings.update(num_labels=len(labels), id2label=dict(enumerate(labels)),
                            label2id={name: i for i, name in enumerate(labels)})
        settings["reads_prompt"] = kind == "translation"
        try:
            model = MAMBA2_HEADS[HEAD_BY_KIND[kind]](HfMamba2Config(**settings))
        except ValueError as e:  # the config and the heads name the field that does not fit
            raise ConfigError(f"model: {str(e).splitlines()[0]}") from None
        if model_section.init_embeddings == "llm":
            from hf_rnn.families.llm_embeddings import copy_llm_embeddings

            copy_llm_embeddings(model, tokenizer, width="embedding_size" if model.config.projects_embeddings
                                else "embedding_size (or hidden_size)")
        if model_section.freeze_embeddings and model.get_input_embeddings() is not None:
            model.get_input_embeddings().weight.requires_grad_(False)
        return model, tokenizer

    def load(self, run, output_attentions: bool = False):
        from hf_rnn.families.mamba2.modeling_mamba2 import load_mamba2

        return load_mamba2(run.path)

    # ------------------------------------------------------------------ attention and the app

    def attention_maps(self, model, tokenizer, text: str, *, generate: bool = False, max_new_tokens: int = 20,
                       target_text: str | None = None, max_length: int | None = None, **_):
        """The hidden attention of every layer and head over ``text`` (its tokens as the model reads them), and
        for a language model over what it generates greedily (``generate``) or ``target_text`` teacher-forced."""
        from hf_rnn.errors import InputError
        from hf_rnn.families.mamba2.hidden_attention import hidden_attention_maps
        from hf_rnn.generation import generate_one

        if getattr(model, "main_input_name", None) == "past_values":
            raise InputError(f"{type(model).__name__} reads values, not text: it has no attention maps over tokens")
        ids = list(tokenizer(text)["input_ids"])
        if max_length is not None:
            ids = ids[:max_length]
        if not ids:
            raise InputError("the text has no tokens for this model")
        prompt_length = None
        is_lm = type(model).__name__ == "HfMamba2ForCausalLM"
        if is_lm and target_text is not None:
            prompt_length = len(ids)
            ids += list(tokenizer(target_text, add_special_tokens=False)["input_ids"])
        elif is_lm and generate:
            prompt_length = len(ids)
            ids += generate_one(model, tokenizer, ids, max_new_tokens)
        model_name = getattr(model.config, "name_or_path", None) or type(model).__name__
        _, maps = hidden_attention_maps(model, tokenizer, ids, text, str(model_name), prompt_length=prompt_length)
        return maps

    def forward_with_maps(self, lm, ids: list[int], text: str, task_kind: str, prompt_length: int | None = None,
                    input_start: int = 0, **model_kwargs):
        """One forward pass over exactly ``ids`` with every mixer's hidden attention."""
        from hf_rnn.families.mamba2.hidden_attention import hidden_attention_maps

        out, maps = hidden_attention_maps(lm.model, lm.tokenizer, ids, text, lm.name, prompt_length=prompt_length,
                                          input_start=input_start, **model_kwargs)
        return out, maps, None

    def app_kind(self, run, model, llm_dtype: str) -> tuple[str, int | None]:
        """A translator reads the task's prompt (``"causal"``); the rest the task's own inputs. No context limit:
        the state has a fixed size whatever the length."""
        from hf_rnn.tasks import PROMPTED, input_family

        return ("causal" if input_family(model) == PROMPTED else "direct"), None

    def run_attention(self, config: dict) -> tuple[bool, str]:
        shown = config.get("architectures", [""])[0] != "HfMamba2ForTimeSeriesPrediction"
        return shown, ("hidden attention" if shown else "")



def with_answer_separator(tokenizer):
    """``tokenizer``, or a copy with a chat template that ends the prompt with its bos token (else its eos), where it
    has no template: without one the prompt ends in a line break, which a word-level vocabulary drops, and a
    decoder-only model could not tell where the source ends and the target begins."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer
    separator = tokenizer.bos_token or tokenizer.eos_token
    if separator is None:
        return tokenizer
    tokenizer = copy.deepcopy(tokenizer)
    tokenizer.chat_template = ("{% for message in messages %}{{ message['content'] }}{% endfor %}"
                               "{% if add_generation_prompt %} " + separator + " {% endif %}")
    return tokenizer


MAMBA2 = Mamba2Family()
