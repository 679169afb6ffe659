"""The LLM family: any decoder-only transformers model (the built-in SmolLM2 by default), fine-tuned with a
task head, LoRA or frozen layers (``hf_rnn.families.llm.llm``), or used as a numeric forecaster on its lower blocks
(``model.mode=patch``: ``hf_rnn.families.llm.patch_forecaster``).

Its ``--model`` names are ``llm`` and ``smollm2`` (the task's recipe as written), the variants that read the
task another way (``smollm2-twice``), the other uses of the model (``smollm2-patch``), and any Hub id or folder.
It is the family of every transformers model that no other family claims. Its models read a prompt (a chat
prompt, digit strings) unless they forecast values, and show self-attention.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hf_rnn.errors import ConfigError
from hf_rnn.families.base import CardFacts, ModelFamily

LLM_DTYPES = ("float32", "bfloat16", "float16", "auto")  # model.dtype of the LLM family
LLM_NAMES = ("llm", "smollm2")
# the built-in LLM with another way of reading the task: name -> task options it sets
# tagging: the sentence twice, the second copy tagged
LLM_VARIANTS = {"smollm2-twice": {"repeat_input": True}}
# the built-in LLM used another way: name -> the recipe sections' keys it sets.
# smollm2-newhead (classification): a new linear head on the last token's state (AutoModelForSequenceClassification)
# instead of the default prompt classifier, which reads the LM head's label words (models/llm_prompt.py)
# smollm2-patch (forecasting): patches of values in, values out, lower blocks frozen (GPT4TS); its ~17k
# new weights train at a forecasting head's rate for many passes over the few hundred windows, like the LSTM
LLM_MODES = {"smollm2-newhead": {"model": {"head": "new-head"}},
             "smollm2-patch": {"model": {"mode": "patch"},
                               "training": {"learning_rate": 1e-3, "batch_size": 16, "epochs": 60,
                                            "warmup_steps": 20, "eval_steps": 70, "early_stopping_patience": 5,
                                            "logging_steps": 20}}}
# the license of HuggingFaceTB/SmolLM2-135M-Instruct on the Hub, which an LLM run's weights derive from
BUILTIN_LLM_LICENSE = "apache-2.0"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass
class LLMModelSection:
    """``hf_rnn.families.llm.llm.load_llm`` arguments."""

    family: str = field(default="llm", metadata={"choices": ("llm",)})
    name: str = "smollm2"
    name_or_path: str | None = None  # None: the built-in SmolLM2-135M-Instruct
    # patch: a numeric forecaster on the lower blocks, frozen (models/patch_forecaster.py)
    mode: str = field(default="full", metadata={"choices": ("full", "lora", "freeze", "patch")})
    # classification: "prompt" asks the zero-shot question and trains the LM head's label words (step 0 is the
    # zero-shot classifier), "new-head" adds a new linear head; other kinds ignore it
    head: str = field(default="prompt", metadata={"choices": ("prompt", "new-head")})
    lora_r: int = field(default=8, metadata={"min": 1})
    lora_alpha: int = field(default=16, metadata={"min": 1})
    lora_dropout: float = field(default=0.0, metadata={"min": 0.0, "max": 0.99})
    lora_target_modules: list[str] | None = None
    freeze_layers: int = field(default=0, metadata={"min": 0})
    # the dtype the weights are loaded in and train in ("auto": the checkpoint's own); not
    # training.mixed_precision, which autocasts the computation around weights kept in this dtype
    dtype: str = field(default="float32", metadata={"choices": LLM_DTYPES})
    # mode=patch only: the LLM blocks kept, and how the window is cut into patches
    llm_layers: int = field(default=6, metadata={"min": 1})
    patch_length: int = field(default=4, metadata={"min": 1})
    patch_stride: int = field(default=2, metadata={"min": 1})


class LLMFamily(ModelFamily):
    name = "llm"
    plot_style = ("s", "tab:orange")
    section = LLMModelSection
    catch_all = True
    names = (*LLM_NAMES, *LLM_VARIANTS, *LLM_MODES)
    aliases = ("smollm2",)
    # only a forecaster on values has no maps: it reads no tokens
    maps_notes = {"forecasting": "This LLM forecaster reads patches of values, not tokens; its attention over "
                                 "patches is not drawn here."}
    # fine-tuned from a base model (the card names it, and its licence); a plain transformers model, but for the
    # forecaster on patches (its own head, one of hf_rnn's classes) and the prompt classifier (hf_rnn's class
    # over a causal LM)
    card = CardFacts(base_model=True, own_classes=("PatchLLMForTimeSeriesPrediction",), usage={
        "PromptClassifier": (
            "A causal LM that answers the task's question with a label word: `AutoModelForCausalLM` loads its "
            "weights, and `hf_rnn` the classifier (the question and label words are in `prompt_classifier.json`; "
            "LoRA adapters, if any, are merged into the weights).",
            ("from hf_rnn.families.llm.llm_prompt import PromptClassifier", "",
             'model = PromptClassifier.from_pretrained("PATH")  # logits: a label word\'s log-probability'))})

    def builtin_recipe(self, model: str, read: Callable[[str], dict]) -> dict:
        key = model.lower()
        data = read("llm")
        if key in LLM_VARIANTS:
            data.setdefault("model", {})["name"] = key
            data.setdefault("task", {}).setdefault("options", {}).update(LLM_VARIANTS[key])
        elif key in LLM_MODES:
            data.setdefault("model", {})["name"] = key
            for section, values in LLM_MODES[key].items():
                data.setdefault(section, {}).update(values)
        elif key not in LLM_NAMES:  # a Hub id or a folder
            data.setdefault("model", {}).update(name=Path(model.rstrip("/")).name, name_or_path=model)
        return data

    def check_recipe(self, recipe, kind: str) -> None:
        tok, model = recipe.tokenizer, recipe.model
        if model.mode == "patch" and kind != "forecasting":
            raise ConfigError(f"model.mode=patch is a numeric forecaster: it needs a forecasting task, not "
                              f"{recipe.task.name} ({kind})")
        if tok.word_level or tok.char_level or tok.name_or_path is not None:
            raise ConfigError("an LLM uses its own tokenizer: leave tokenizer.name_or_path null and "
                              "tokenizer.word_level and tokenizer.char_level false")
        if model.dtype != "float32" and model.mode == "patch":
            raise ConfigError("model.dtype applies to modes full, lora and freeze; a patch forecaster keeps "
                              "float32: drop model.dtype")
        if model.dtype == "float16" and recipe.training.mixed_precision == "fp16":
            # fp16 autocast scales the loss and unscales float32 gradients; float16 weights give float16 ones
            raise ConfigError("model.dtype=float16 with training.mixed_precision=fp16: fp16 loss scaling needs "
                              "float32 weights; use model.dtype=float32, or training.mixed_precision=no")
        if model.head == "prompt" and model.mode == "freeze" and kind == "sequence-classification":
            raise ConfigError("model.mode=freeze trains only a new task head; the prompt classifier (model.head=prompt)"
                              " reads the LM head and adds none: use model.mode=full or lora, or model.head=new-head")
        if recipe.training.save_adapter and model.mode != "lora":
            raise ConfigError(f"training.save_adapter saves a LoRA adapter; model.mode is {model.mode}: "
                              "set model.mode=lora or training.save_adapter=false")

    # ------------------------------------------------------------------ building and loading

    def build_tokenizer(self, task, model_section, tokenizer_section):
        return None  # an LLM brings its own tokenizer from build_model (none for a patch forecaster)

    def build_model(self, task, model_section, tokenizer=None):
        from hf_rnn.families.llm.building import build_llm, build_patch_model

        if model_section.mode == "patch":
            return build_patch_model(task, model_section), None  # reads values, no text: no tokenizer
        return build_llm(task, model_section)

    def default_tokenizer(self, model, task):
        from hf_rnn.tasks import DIRECT, input_family
        from hf_rnn.tokenization import load_tokenizer

        if input_family(model) == DIRECT and task.kind == "forecasting":
            return None  # a forecaster on patches of values reads no text
        return load_tokenizer(getattr(model, "name_or_path", "") or None)

    def metrics_fields(self, model, recipe_model: dict, source: str | None) -> dict[str, Any]:
        return {"name_or_path": source, "mode": recipe_model.get("mode")}

    def load(self, run, output_attentions: bool = False):
        import transformers

        if run.metrics.model.mode == "patch":  # a numeric forecaster on LLM blocks
            from hf_rnn.families.llm.patch_forecaster import PatchLLMForTimeSeriesPrediction

            return PatchLLMForTimeSeriesPrediction.from_pretrained(run.path)
        from hf_rnn.families.llm.llm import LLM_HEADS  # the head each task kind is trained with
        from hf_rnn.families.llm.llm_prompt import PromptClassifier, is_prompt_classifier_folder

        kwargs = {"attn_implementation": "eager"} if output_attentions else {}
        if is_prompt_classifier_folder(run.path):  # a causal LM answering with label words (model.head=prompt)
            return PromptClassifier.from_pretrained(run.path, **kwargs)
        auto = getattr(transformers, LLM_HEADS[run.metrics.task.kind][0])
        return auto.from_pretrained(run.path, **kwargs)

    def quick_profile_layers(self, recipe) -> int | None:
        """The decoder layers of the recipe's LLM (read from its config, no weights loaded); ``None`` for a
        patch forecaster, which trains its own small set of weights."""
        if recipe.model.mode == "patch":
            return None
        from hf_rnn.families.llm.llm import _num_layers, load_llm_config, resolve_llm_source

        source, local_only = resolve_llm_source(recipe.model.name_or_path)
        return _num_layers(load_llm_config(source, local_files_only=local_only))

    # ------------------------------------------------------------------ attention and the app

    def attention_maps(self, model, tokenizer, text: str, **options):
        from hf_rnn.families.attention import self_attention_maps
        from hf_rnn.families.llm.llm_zero_shot import ZeroShotClassifier

        if isinstance(model, ZeroShotClassifier):  # a prompt classifier: its causal LM over the question it asks
            text, model = tokenizer.decode(model.prompt_ids(text)), model.lm
        return self_attention_maps(model, tokenizer, text, **options)

    def forward_with_maps(self, lm, ids: list[int], text: str, task_kind: str, prompt_length: int | None = None,
                    input_start: int = 0, **model_kwargs):
        """One forward pass with every layer's self-attention over exactly ``ids``."""
        from hf_rnn.families.attention import forward_with_self_attention

        out, maps = forward_with_self_attention(lm.model, lm.tokenizer, ids, text, lm.name,
                                                prompt_length=prompt_length, input_start=input_start,
                                                **model_kwargs)
        return out, maps, None

    def app_kind(self, run, model, llm_dtype: str) -> tuple[str, int | None]:
        from hf_rnn.tasks import DIRECT, input_family

        if input_family(model) == DIRECT:  # a forecaster that reads values, as an RNN forecaster does
            return "direct", None
        import torch

        from hf_rnn.families.llm.llm import context_length

        model.to(getattr(torch, llm_dtype))
        if getattr(model, "answers_with_label_words", False):  # a prompt classifier asks its causal LM
            return "causal", context_length(model)
        heads = ("sequence-classification", "token-classification")
        return ("head" if run.metrics.task.kind in heads else "causal"), context_length(model)

    def run_attention(self, config: dict) -> tuple[bool, str]:
        return True, ""



def is_builtin_llm(source: str | None) -> bool:
    """Whether an LLM run's ``name_or_path`` is the built-in SmolLM2: unset, one of its names, or its cache folder."""
    from hf_rnn.assets.cache import builtin_llm_names, builtin_llm_path

    if source is None or str(source).lower() in builtin_llm_names():
        return True
    return Path(str(source)).expanduser().resolve() == builtin_llm_path().expanduser().resolve()


def looks_like_hub_id(source: str) -> bool:
    return bool(_HUB_ID.match(str(source))) and not Path(str(source)).expanduser().exists()


LLM = LLMFamily()
