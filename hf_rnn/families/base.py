"""``ModelFamily``: the one interface every model family implements.

A family is what a recipe's ``model.family`` names: the RNNs of this package and the transformers LLMs are
the first two (``families/rnn.py``, ``families/llm.py``). The rest of the package never asks *which* family a
model belongs to; it asks the family object to do the family-specific part:

* recipes: the ``--model`` names it answers to and their raw recipes (``builtin_recipe``), its
  ``model:`` section (``section``, a dataclass checked by ``config_schema``), its checks (``check_recipe``);
* building: the tokenizer (``build_tokenizer``) and the model (``build_model``) for a task;
* training: the tokenizer a model trains with when none is given, what ``metrics.json`` records about it,
  why it cannot checkpoint activations;
* reading runs: ``load_model`` of a run folder;
* attention maps (``attention_maps``) and the app's forward pass with its maps (``app_forward``);
* the model card's metadata (licence, base model, how to load it).

How a model reads a task (the task's own inputs, or a prompt) is the model's: ``hf_rnn.tasks.input_family``.

The defaults here suit a small family of ``PreTrainedModel``s that read the task's own inputs with the
shared tokenizer, like the RNNs: a new family (``tests/test_new_family.py``) subclasses ``ModelFamily``,
sets ``name``, ``section`` and ``model_type``, writes ``build_model`` and ``load_model``, and registers
itself with ``hf_rnn.families.register_family``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ConfigError

if TYPE_CHECKING:  # annotations only
    from ..run_schema import ModelInfo


class ModelFamily:
    """A model family: one object per family, registered by name (``hf_rnn.families.FAMILIES``)."""

    name: ClassVar[str]
    # the recipe's ``model:`` section, a dataclass whose ``family`` field defaults to ``name``
    section: ClassVar[type]
    # the ``config.model_type`` of the family's models: how a live model is told to be one of them
    model_type: ClassVar[str | None] = None
    # the family of any transformers model that no other family claims (the LLM family)
    catch_all: ClassVar[bool] = False
    # ``recipe_name`` (``<task>_<recipe_name>.yaml``) for the family's own built-in recipes; None: it has none
    recipe_name: ClassVar[str | None] = None
    # the model card's licence for a model trained from scratch by this project (None: not known)
    card_license: ClassVar[str | None] = None

    def __repr__(self) -> str:
        return f"<model family {self.name!r}>"

    # ------------------------------------------------------------------ recipes

    def model_names(self) -> tuple[str, ...]:
        """The ``--model`` names this family answers to (lower case), e.g. ``("rnn", "lstm", ...)``."""
        return (self.name,)

    def claims(self, model: str) -> bool:
        """Whether ``--model model`` names one of this family's models."""
        return model.lower() in self.model_names()

    def recipe_aliases(self, model_section) -> set[str]:
        """The ``--model`` names a recipe with this ``model:`` section answers to (``--config`` with ``--model``)."""
        return {model_section.name.lower(), self.name}

    def builtin_recipe(self, model: str, read: Callable[[str], dict]) -> dict:
        """The raw recipe (a mapping, before overrides) of ``--model model`` for a task; ``read(name)`` is the
        task's built-in recipe ``<task>_<name>.yaml`` (in the task's ``recipe_dir``, else the package's)."""
        data = read(self.recipe_name or self.name)
        if model.lower() != self.name:
            data.setdefault("model", {})["name"] = model.lower()
        return data

    def section_fields(self) -> set[str]:
        return {f.name for f in dataclasses.fields(self.section)}

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

    # ------------------------------------------------------------------ building

    def build_tokenizer(self, task, model_section, tokenizer_section):
        """The tokenizer a fresh model reads (``None`` for a numeric forecaster, which reads no text): by
        default the recipe's ``tokenizer:`` section (the built-in LLM's, another one, word- or character-level)."""
        from ..tokenization import tokenizer_from_section

        return None if task.kind == "forecasting" else tokenizer_from_section(task, tokenizer_section)

    def build_model(self, task, model_section, tokenizer=None):
        """``(model, tokenizer)``: a fresh model for ``task`` from the recipe's ``model:`` section. Seed first."""
        raise NotImplementedError

    # ------------------------------------------------------------------ training and runs

    def owns(self, model: Any) -> bool:
        """Whether ``model`` (a live model) is one of this family's."""
        config = getattr(model, "config", None)
        return self.model_type is not None and getattr(config, "model_type", None) == self.model_type

    def default_tokenizer(self, model, task):
        """The tokenizer ``hf_rnn.train`` uses when none is given: the built-in one, none for values."""
        from ..tasks import DIRECT, input_family
        from ..tokenization import load_tokenizer

        if input_family(model) == DIRECT and task.kind == "forecasting":
            return None
        return load_tokenizer(None)

    def metrics_fields(self, model, recipe_model: dict, source: str | None) -> dict[str, Any]:
        """What ``metrics.json``'s ``model`` records beyond family, name and class (``source``: where an
        LLM's weights came from)."""
        return {"name_or_path": None, "mode": None}

    # why ``training.gradient_checkpointing`` cannot run (the model has no checkpointed layers)
    no_checkpointing_reason: ClassVar[str] = "transformers has no support for it"

    def load_model(self, run, output_attentions: bool = False):
        """The model saved in the run folder ``run`` (an ``hf_rnn.runs.Run``); the caller sets eval mode."""
        raise NotImplementedError

    def quick_profile_layers(self, recipe) -> int | None:
        """The decoder layers of a model the quick profile trains only the top of (``None``: it trains
        the model whole)."""
        return None

    # ------------------------------------------------------------------ attention and the app

    def attention_maps(self, model, tokenizer, text: str, **options):
        """``hf_rnn.attention.AttentionMaps`` of ``model`` on ``text`` (``options``: ``generate``,
        ``max_new_tokens``, ``target_text``, ``max_length``). ``ValueError`` when it has none to show."""
        from ..errors import InputError

        raise InputError(f"{type(model).__name__} ({self.name} family) has no attention maps to show")

    def app_forward(self, lm, ids: list[int], text: str, task_kind: str, **options):
        """The app's one forward pass over ``ids`` (the input ``text``, as far as it fits) for a ``task_kind``
        task: ``(output, maps, attention_note)``, the note saying why there are no maps. The default: a plain
        forward pass, no maps."""
        import torch

        with torch.no_grad():
            out = lm.model(input_ids=torch.tensor([ids]))
        return out, None, self.no_maps_note(lm, task_kind)

    def no_maps_note(self, lm, task_kind: str) -> str:
        """Why the app shows no attention maps of ``lm`` (a ``LoadedModel``) on a ``task_kind`` task."""
        return f"{lm.name} has no attention weights to show."

    def app_kind(self, run, model, llm_dtype: str) -> tuple[str, int | None]:
        """How the app asks the model (``"direct"``: the task's own inputs; ``"head"``: a classification or
        tagging head on a prompt-reading LM; ``"causal"``: a prompted causal LM) and its context in tokens."""
        return "direct", None

    def run_attention(self, config: dict) -> tuple[bool, str]:
        """Whether a run's model (its ``config.json``) shows attention maps in the app, and what its label
        says about it."""
        return False, ""

    # ------------------------------------------------------------------ model cards

    def card_base(self, model_doc: ModelInfo) -> tuple[str | None, str | None, str]:
        """``(base_model, license, prose note)`` of the card of a run whose ``metrics.json`` model is
        ``model_doc``."""
        return None, self.card_license, ""

    def card_loads_with_hf_rnn(self, model_doc: ModelInfo) -> bool:
        """Whether the saved model's classes come with ``hf_rnn`` (``import hf_rnn`` registers them)."""
        return False

    def card_usage(self, kind: str, model_doc: ModelInfo) -> tuple[str, list[str]] | None:
        """The card's "Use" section: ``(intro, code lines)``, or ``None`` for the card's own (a plain
        transformers model, or one of hf_rnn's classes). A family defined outside hf_rnn brings its classes."""
        return (f"The model's class (`{model_doc.class_name}`) comes with the module that defines the `{self.name}` "
                "model family, not with `transformers` or `hf_rnn`: import that module, then load the folder with "
                "the class's `from_pretrained`.", [f'model = {model_doc.class_name}.from_pretrained("PATH")'])

    def card_pipeline(self, pipeline_tag: str) -> str | None:
        """The ``transformers.pipeline`` the card shows for ``pipeline_tag`` (``None``: none is shown)."""
        return None
