"""``ModelFamily``: the one interface every model family implements, and ``CardFacts``, what its cards say.

A family is what a recipe's ``model.family`` names: the RNNs of this package, the transformers LLMs and the
Mamba-2 stacks (``families/rnn``, ``families/llm``, ``families/mamba2``, one package each). The rest of the
package never asks *which* family a model belongs to; it asks the family object. What a family writes is narrow:

* **build**: ``build_tokenizer`` and ``build_model``, a fresh tokenizer and model for a task from the recipe;
* **load**: ``load``, the model saved in a run folder;
* **encode**: ``default_tokenizer``, the tokenizer that encodes a task's text for a live model when none is given;
* **forward with maps**: ``forward_with_maps`` (one forward pass over token ids, with the attention or hidden
  attention maps it shows) and ``attention_maps`` (the maps of a text, generating or teacher-forcing a target);
* **recipe checks**: ``check_recipe``, the settings the family cannot run, and ``builtin_recipe`` where its
  ``--model`` names change the task's recipe.

Everything else is data the family sets (class attributes): its ``name``, ``model:`` ``section``, ``model_type``,
``--model`` ``names`` and ``aliases``, ``maps_notes`` (why a model shows no maps, by task kind) and ``card``
(``CardFacts``: licence, its own classes, the pipelines its cards show, its Use sections). The generic methods
here (``claims``, ``owns``, ``recipe_aliases``, ``no_maps_note``) read that data; a family does not override them.

How a model reads a task (the task's own inputs, or a prompt) is the model's: ``hf_rnn.tasks.input_family``.

The defaults suit a small family of ``PreTrainedModel``s that read the task's own inputs with the shared
tokenizer, like the RNNs: a new family (``tests/test_new_family.py``) subclasses ``ModelFamily``, sets ``name``,
``section`` and ``model_type``, writes ``build_model`` and ``load``, and registers itself with
``hf_rnn.families.register_family``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from hf_rnn.errors import ConfigError


def is_model_path(model: str) -> bool:
    """Whether ``--model model`` is a Hub id or a folder (a model the catch-all family loads)."""
    return "/" in model or os.sep in model or Path(model).expanduser().exists()


@dataclasses.dataclass(frozen=True)
class CardFacts:
    """What the model cards of a family's runs say (``hf_rnn.report.cards`` reads these; a family writes no card code).

    ``license``: the licence of a model this project trains from scratch (None: not known). ``own_classes``: the
    saved classes that come with ``hf_rnn`` (``import hf_rnn`` registers them with the Auto classes).
    ``pipelines``: the ``transformers.pipeline`` tags the card shows (those tested on saved models).
    ``base_model``: whether a run starts from another model's weights (``metrics.json``'s ``name_or_path``; None:
    the built-in LLM), which the card names with its licence. ``usage``: saved class name -> the card's "Use"
    section ``(intro, code lines)`` where the generic one does not fit.
    """

    license: str | None = None
    own_classes: tuple[str, ...] = ()
    pipelines: tuple[str, ...] = ()
    base_model: bool = False
    usage: Mapping[str, tuple[str, tuple[str, ...]]] = dataclasses.field(default_factory=dict)


class ModelFamily:
    """A model family: one object per family, registered by name (``hf_rnn.families.FAMILIES``)."""

    name: ClassVar[str]
    # the recipe's ``model:`` section, a dataclass whose ``family`` field defaults to ``name``
    section: ClassVar[type]
    # the ``config.model_type`` of the family's models: how a live model is told to be one of them
    model_type: ClassVar[str | None] = None
    # the family of any transformers model that no other family claims (the LLM family): it also answers to any
    # ``--model`` that is a Hub id or a folder
    catch_all: ClassVar[bool] = False
    # the ``--model`` names this family answers to, lower case (empty: its ``name`` only)
    names: ClassVar[tuple[str, ...]] = ()
    # more ``--model`` names every recipe of the family answers to (``--config`` with ``--model``)
    aliases: ClassVar[tuple[str, ...]] = ()
    # ``recipe_name`` (``<task>_<recipe_name>.yaml``) for the family's own built-in recipes; None: its ``name``
    recipe_name: ClassVar[str | None] = None
    # why ``training.gradient_checkpointing`` cannot run (the model has no checkpointed layers)
    no_checkpointing_reason: ClassVar[str] = "transformers has no support for it"
    # task kind -> why the app shows no maps of the family's model on a task of that kind
    maps_notes: ClassVar[Mapping[str, str]] = {}
    # what its model cards say
    card: ClassVar[CardFacts] = CardFacts()
    # how the report's quality-against-size figure draws its models (a matplotlib marker and colour)
    plot_style: ClassVar[tuple[str, str]] = ("D", "tab:green")

    def __repr__(self) -> str:
        return f"<model family {self.name!r}>"

    # ------------------------------------------------------------------ generic: read the data above

    def model_names(self) -> tuple[str, ...]:
        """The ``--model`` names this family answers to (lower case), e.g. ``("rnn", "lstm", ...)``."""
        return self.names or (self.name,)

    def claims(self, model: str) -> bool:
        """Whether ``--model model`` names one of this family's models (any Hub id or folder: the catch-all's)."""
        return model.lower() in self.model_names() or (self.catch_all and is_model_path(model))

    def recipe_aliases(self, model_section) -> set[str]:
        """The ``--model`` names a recipe with this ``model:`` section answers to (``--config`` with ``--model``)."""
        return {model_section.name.lower(), self.name, *self.aliases}

    def section_fields(self) -> set[str]:
        return {f.name for f in dataclasses.fields(self.section)}

    def owns(self, model: Any) -> bool:
        """Whether ``model`` (a live model) is one of this family's."""
        config = getattr(model, "config", None)
        return self.model_type is not None and getattr(config, "model_type", None) == self.model_type

    def no_maps_note(self, lm, task_kind: str) -> str:
        """Why the app shows no attention maps of ``lm`` (a ``LoadedModel``) on a ``task_kind`` task."""
        return self.maps_notes.get(task_kind, f"{lm.name} has no attention weights to show.")

    # ------------------------------------------------------------------ recipe checks

    def builtin_recipe(self, model: str, read: Callable[[str], dict]) -> dict:
        """The raw recipe (a mapping, before overrides) of ``--model model`` for a task; ``read(name)`` is the
        task's built-in recipe ``<task>_<name>.yaml`` (in the task's ``recipe_dir``, else the package's)."""
        data = read(self.recipe_name or self.name)
        if model.lower() != self.name:
            data.setdefault("model", {})["name"] = model.lower()
        return data

    def check_recipe(self, recipe, kind: str) -> None:
        """Raise ``ConfigError`` for settings this family cannot run (``kind``: the task's kind). The default
        is the checks of a family that reads the shared tokenizer and has no LLM options."""
        tok = recipe.tokenizer
        if tok.word_level and tok.char_level:
            raise ConfigError("tokenizer.word_level and tokenizer.char_level are two vocabularies: choose one")
        if recipe.training.gradient_checkpointing:
            raise ConfigError(f"training.gradient_checkpointing is for the LLM family: {self.name} models cannot "
                              "recompute their activations; set training.gradient_checkpointing=false")
        if recipe.training.save_adapter:
            raise ConfigError(f"training.save_adapter saves a LoRA adapter of an LLM; a {self.name} model has "
                              "none: set training.save_adapter=false")

    # ------------------------------------------------------------------ build

    def build_tokenizer(self, task, model_section, tokenizer_section):
        """The tokenizer a fresh model reads (``None`` for a numeric forecaster, which reads no text): by
        default the recipe's ``tokenizer:`` section (the built-in LLM's, another one, word- or character-level)."""
        from hf_rnn.tokenization import tokenizer_from_section

        return None if task.kind == "forecasting" else tokenizer_from_section(task, tokenizer_section)

    def build_model(self, task, model_section, tokenizer=None):
        """``(model, tokenizer)``: a fresh model for ``task`` from the recipe's ``model:`` section. Seed first."""
        raise NotImplementedError

    # ------------------------------------------------------------------ load

    def load(self, run, output_attentions: bool = False):
        """The model saved in the run folder ``run`` (an ``hf_rnn.runs.run.Run``); the caller sets eval mode."""
        raise NotImplementedError

    # ------------------------------------------------------------------ encode

    def default_tokenizer(self, model, task):
        """The tokenizer that encodes ``task``'s text for ``model`` when none is given (``hf_rnn.train``): the
        built-in one, none for values."""
        from hf_rnn.tasks import DIRECT, input_family
        from hf_rnn.tokenization import load_tokenizer

        if input_family(model) == DIRECT and task.kind == "forecasting":
            return None
        return load_tokenizer(None)

    # ------------------------------------------------------------------ forward with maps

    def forward_with_maps(self, lm, ids: list[int], text: str, task_kind: str, **options):
        """One forward pass of ``lm`` (a ``LoadedModel``: model, tokenizer, name) over ``ids`` (the input
        ``text``, as far as it fits) for a ``task_kind`` task: ``(output, maps, note)``, the note saying why
        there are no maps. The default: a plain forward pass, no maps."""
        import torch

        with torch.no_grad():
            out = lm.model(input_ids=torch.tensor([ids]))
        return out, None, self.no_maps_note(lm, task_kind)

    def attention_maps(self, model, tokenizer, text: str, **options):
        """``hf_rnn.families.attention.AttentionMaps`` of ``model`` on ``text`` (``options``: ``generate``,
        ``max_new_tokens``, ``target_text``, ``max_length``). ``InputError`` when it has none to show."""
        from hf_rnn.errors import InputError

        raise InputError(f"{type(model).__name__} ({self.name} family) has no attention maps to show")

    # ------------------------------------------------------------------ training and the app (to narrow further)

    def metrics_fields(self, model, recipe_model: dict, source: str | None) -> dict[str, Any]:
        """What ``metrics.json``'s ``model`` records beyond family, name and class (``source``: where an
        LLM's weights came from)."""
        return {"name_or_path": None, "mode": None}

    def quick_profile_layers(self, recipe) -> int | None:
        """The decoder layers of a model the quick profile trains only the top of (``None``: it trains
        the model whole)."""
        return None

    def app_kind(self, run, model, llm_dtype: str) -> tuple[str, int | None]:
        """How the app asks the model (``"direct"``: the task's own inputs; ``"head"``: a classification or
        tagging head on a prompt-reading LM; ``"causal"``: a prompted causal LM) and its context in tokens."""
        return "direct", None

    def run_attention(self, config: dict) -> tuple[bool, str]:
        """Whether a run's model (its ``config.json``) shows attention maps in the app, and what its label
        says about it."""
        return False, ""
