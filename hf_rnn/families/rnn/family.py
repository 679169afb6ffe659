"""The RNN family: this package's ``RNNFor...`` heads (``hf_rnn.models``), trained from scratch.

Its ``--model`` names are ``rnn`` (the task's recipe as written), the cell variants (``lstm``, ``bilstm``,
``gru``, ``bigru``, ``simplernn``, ``bisimplernn``) and the ablations (``rnn-noattention``); its ``model:``
section is an ``RNNConfig`` plus how the embeddings start. Its models read the task's own inputs (token ids
of the shared tokenizer, source/target pairs, windows of values) and show attention where they have it: a
classifier's attention pooling, an encoder-decoder's alignment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from hf_rnn.errors import ConfigError
from hf_rnn.families.base import CardFacts, ModelFamily

# --model shortcuts. "rnn" takes the recipe as written; the others change the cell.
RNN_VARIANTS = {
    "lstm": ("lstm", False), "bilstm": ("lstm", True),
    "gru": ("gru", False), "bigru": ("gru", True),
    "simplernn": ("rnn", False), "bisimplernn": ("rnn", True),
}
# the task's recipe RNN with one part taken out: name -> model settings it changes
RNN_ABLATIONS = {"rnn-noattention": {"attention": "none"}}  # the lecture's claim that attention helps, measured
# pyproject.toml's license: the RNN runs' weights are this project's
PROJECT_LICENSE = "apache-2.0"
# the pipelines tests/test_pipeline.py runs on saved RNN heads
TESTED_PIPELINES = ("text-classification", "token-classification", "text-generation")
# why the app shows no attention of an RNN, by task kind
_NOTES = {
    "token-classification": "An RNN tagger carries the sentence in its hidden states (both directions for a "
                            "BiLSTM); it has no attention weights to show.",
    "causal-lm": "An RNN language model carries the text so far in its hidden state; it has no attention weights "
                 "to show.",
    "translation": "This encoder-decoder was trained without attention (RNNConfig attention='none'): the decoder "
                   "reads only the encoder's last state.",
    "forecasting": "An RNN forecaster carries the window in its hidden state; it has no attention weights to show.",
}
# the heads a run saves, one per task kind (building.RNN_HEAD_BY_KIND): named here, where no torch is imported
SAVED_HEADS = ("RNNForSequenceClassification", "RNNForTokenClassification", "RNNForCausalLM", "RNNForSeq2SeqLM",
               "RNNForTimeSeriesPrediction")
# heads that show attention in the app (with RNNConfig.attention other than "none")
_HEADS_WITH_MAPS = ("RNNForSequenceClassification", "RNNForSeq2SeqLM")


@dataclass
class RNNModelSection:
    """An ``RNNConfig``; the head follows from the task's kind."""

    family: str = field(default="rnn", metadata={"choices": ("rnn",)})
    name: str = "bilstm"
    cell: str = field(default="lstm", metadata={"choices": ("rnn", "gru", "lstm")})
    bidirectional: bool = False
    embedding_size: int = field(default=128, metadata={"min": 1})
    hidden_size: int = field(default=128, metadata={"min": 1})
    num_layers: int = field(default=1, metadata={"min": 1})
    dropout: float = field(default=0.0, metadata={"min": 0.0, "max": 0.99})
    attention: str = field(default="none", metadata={"choices": ("none", "additive", "dot", "general")})
    classifier_hidden_sizes: list[int] = field(default_factory=list)
    classifier_activation: str = "relu"
    classifier_dropout: float = field(default=0.0, metadata={"min": 0.0, "max": 0.99})
    tie_word_embeddings: bool = False
    # "llm": start the embedding table from the built-in LLM's input embeddings (same
    # tokenizer, so row i is token i in both); embedding_size must be the LLM's width (576)
    init_embeddings: str | None = field(default=None, metadata={"choices": (None, "llm")})
    freeze_embeddings: bool = False  # keep the embedding table fixed (e.g. the LLM's): far fewer updates


class RNNFamily(ModelFamily):
    name = "rnn"
    plot_style = ("o", "tab:blue")
    section = RNNModelSection
    model_type = "hf_rnn"
    names = ("rnn", *RNN_VARIANTS, *RNN_ABLATIONS)
    no_checkpointing_reason: ClassVar[str] = "the RNN family has no checkpointed layers"
    maps_notes = _NOTES
    # the pipelines are those tests/test_pipeline.py runs on saved RNN heads; the card's own Use section fits all
    card = CardFacts(license=PROJECT_LICENSE, own_classes=SAVED_HEADS,
                     pipelines=TESTED_PIPELINES)

    # ------------------------------------------------------------------ recipes

    def builtin_recipe(self, model: str, read: Callable[[str], dict]) -> dict:
        key = model.lower()
        data = read("rnn")
        if key in RNN_VARIANTS:
            cell, bidirectional = RNN_VARIANTS[key]
            data.setdefault("model", {}).update(name=key, cell=cell, bidirectional=bidirectional)
        elif key in RNN_ABLATIONS:
            data.setdefault("model", {}).update(name=key, **RNN_ABLATIONS[key])
        return data

    def check_section(self, model: dict) -> None:
        """Checks of the raw ``model:`` mapping, before its fields are: a key that needs its reason said."""
        if "dtype" in model:  # an unknown-key message would not say why
            raise ConfigError("model.dtype is the LLM family's weight dtype; an RNN keeps float32 weights: "
                              "drop model.dtype (training.mixed_precision=bf16 autocasts either family)")

    def check_recipe(self, recipe, kind: str) -> None:
        tok = recipe.tokenizer
        if tok.word_level and tok.char_level:
            raise ConfigError("tokenizer.word_level and tokenizer.char_level are two vocabularies: choose one")
        if kind == "causal-lm" and recipe.model.bidirectional:
            raise ConfigError("a bidirectional language model would see the token it predicts: set "
                              "model.bidirectional=false (or --model lstm/gru)")
        if recipe.training.gradient_checkpointing:
            raise ConfigError("training.gradient_checkpointing is for the LLM family: an RNN's fused layers cannot "
                              "recompute their activations; set training.gradient_checkpointing=false")
        if recipe.training.save_adapter:
            raise ConfigError("training.save_adapter saves a LoRA adapter of an LLM; an RNN has none: "
                              "set training.save_adapter=false")

    # ------------------------------------------------------------------ building and loading

    def build_model(self, task, model_section, tokenizer=None):
        from hf_rnn.families.rnn.building import build_rnn

        return build_rnn(task, model_section, tokenizer), tokenizer

    def load(self, run, output_attentions: bool = False):
        from hf_rnn.families.rnn.loading_rnn import load_rnn

        return load_rnn(run.path)

    # ------------------------------------------------------------------ attention and the app

    def attention_maps(self, model, tokenizer, text: str, **options):
        from hf_rnn.families.attention import rnn_attention_maps

        return rnn_attention_maps(model, tokenizer, text, **options)

    def forward_with_maps(self, lm, ids: list[int], text: str, task_kind: str, **options):
        """A plain forward pass; the maps of a classifier's attention pooling (over ``text``, cut to what
        ``ids`` holds), else the note of the task's kind."""
        import torch

        with torch.no_grad():
            out = lm.model(input_ids=torch.tensor([ids]))
        if type(lm.model).__name__ != "RNNForSequenceClassification":
            return out, None, self.no_maps_note(lm, task_kind)
        if getattr(lm.model.config, "attention", "none") == "none":
            return out, None, (f"{lm.name} reads its final states and has no attention to show. Train one with "
                               "attention pooling (model.attention=additive) to see where it looks.")
        from hf_rnn.families.attention import rnn_attention_maps

        if len(lm.tokenizer(text)["input_ids"]) > len(ids):  # cut here (the page says so) rather than have it warn
            text = lm.tokenizer.decode(ids, skip_special_tokens=True)
        maps = rnn_attention_maps(lm.model, lm.tokenizer, text, max_length=len(ids))
        maps.model_name = lm.name
        return out, maps, None

    def run_attention(self, config: dict) -> tuple[bool, str]:
        attention = config.get("attention", "none")
        shown = attention != "none" and config.get("architectures", [""])[0] in _HEADS_WITH_MAPS
        return shown, (f"+ {attention} attention" if attention != "none" else "")



RNN = RNNFamily()
