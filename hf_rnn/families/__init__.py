"""Model families as plug-ins: the registry, and the functions that ask a model's family.

``FAMILIES`` maps a family's name (a recipe's ``model.family``, ``metrics.json``'s ``model.family``) to its
``ModelFamily`` object, in registration order: the RNN family first, then the LLM family, the Mamba-2 family, then
any other. A new family is one module: subclass ``ModelFamily``, register an instance with ``register_family``,
and name the module in ``HF_RNN_FAMILY_MODULES`` so that ``hf-rnn compare``'s training processes import it too
(``tests/test_new_family.py`` does this with a toy family that trains, compares and shows in the app).
"""

from __future__ import annotations

from typing import Any

from hf_rnn.errors import ConfigError
from hf_rnn.families.base import ModelFamily
from hf_rnn.families.llm import LLM
from hf_rnn.families.mamba2 import MAMBA2
from hf_rnn.families.rnn import RNN
from hf_rnn.plugins import import_named_modules, same_definition

FAMILIES: dict[str, ModelFamily] = {RNN.name: RNN, LLM.name: LLM, MAMBA2.name: MAMBA2}
# modules that define more families, imported with this package (comma-separated); child processes such as
# `hf-rnn compare`'s training runs inherit it, so a family defined outside hf_rnn trains there too
FAMILY_MODULES_ENV = "HF_RNN_FAMILY_MODULES"
DEFAULT_FAMILY = RNN.name  # a recipe's model.family when it names none


def register_family(family: ModelFamily) -> ModelFamily:
    """Add ``family`` (a ``ModelFamily`` instance, or its class: an instance is made) under its ``name``;
    returns it, so it can decorate a class."""
    if isinstance(family, type) and issubclass(family, ModelFamily):
        family = family()
    if not isinstance(family, ModelFamily):
        raise ConfigError(f"{family!r} is not a model family: subclass hf_rnn.families.base.ModelFamily")
    name = getattr(family, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(f"{type(family).__name__}.name must be an identifier-like string; got {name!r}")
    held = FAMILIES.get(name)
    # the same class defined again (a notebook cell run twice, a module reloaded) replaces the old one
    if held is not None and not same_definition(type(held), type(family)):
        raise ConfigError(f"a model family named {name!r} is already registered ({type(held).__name__})")
    FAMILIES[name] = family
    return family


def unregister_family(name: str) -> None:
    """Remove a family that is not built in (tests, plug-ins that unload)."""
    if name in (RNN.name, LLM.name, MAMBA2.name):
        raise ConfigError(f"the {name} family is built in")
    FAMILIES.pop(name, None)


def family_named(name: str) -> ModelFamily:
    """The family registered as ``name``; ``ConfigError`` naming the known ones otherwise."""
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"model.family must be one of {', '.join(FAMILIES)}; got {name!r}") from None


def family_for_model_name(model: str) -> ModelFamily | None:
    """The family whose ``--model`` names include ``model``, else the one that claims it otherwise (the LLM
    family: a Hub id or a folder); ``None`` when none does. A name is looked up before a folder of that name."""
    for family in FAMILIES.values():
        if model.lower() in family.model_names():
            return family
    for family in FAMILIES.values():
        if family.claims(model):
            return family
    return None


def family_of(model: Any) -> ModelFamily:
    """The family of a live model: the one that owns it, else the catch-all (any transformers model: the LLM
    family)."""
    for family in FAMILIES.values():
        if family.owns(model):
            return family
    return next(f for f in FAMILIES.values() if f.catch_all)


def family_name(model: Any) -> str:
    """``family_of(model).name``: ``"rnn"``, ``"llm"`` or a plug-in's name."""
    return family_of(model).name


def family_rank(name: str) -> int:
    """Where ``name`` is in the registration order (unknown names last): lists put the RNNs first."""
    return list(FAMILIES).index(name) if name in FAMILIES else len(FAMILIES)


def build_tokenizer(task, model_section, tokenizer_section):
    """The tokenizer a fresh model of the recipe's family reads (``None`` where it brings its own or reads none)."""
    return family_named(model_section.family).build_tokenizer(task, model_section, tokenizer_section)


def build_model(task, model_section, tokenizer=None):
    """``(model, tokenizer)`` for ``task`` from a recipe's ``model:`` section, by its family. Seed first."""
    return family_named(model_section.family).build_model(task, model_section, tokenizer)


def attention_maps(model, tokenizer, text: str, *, generate: bool = False, max_new_tokens: int = 20,
                   target_text: str | None = None, max_length: int | None = None):
    """Attention weights of ``model`` on ``text``, as an :class:`AttentionMaps` (same structure for every family),
    built by the model's family (``ModelFamily.attention_maps``); ``hf_rnn.attention_maps`` is this.

    Args:
        model: an RNN of this package with attention (``RNNForSequenceClassification`` or ``RNNForSeq2SeqLM``
            built with ``attention="additive"``, ``"dot"`` or ``"general"``), or any decoder-only transformers
            model (switched to eager attention for the call).
        tokenizer: the model's tokenizer.
        text: the input (the prompt, or the source sentence of a translation model).
        generate: LLM only: also generate ``max_new_tokens`` tokens greedily and include their rows (each new
            token over the prompt and the tokens generated before it).
        max_new_tokens: how many tokens to generate (LLM with ``generate=True``; RNN seq2seq without
            ``target_text``).
        target_text: teacher-force this target instead of generating: the seq2seq target (its tokens become the
            queries), or for an LLM a continuation appended after the prompt.
        max_length: token limit for the input. Default: the model's context (``max_position_embeddings``) for an
            LLM, no limit for an RNN. Longer inputs are truncated with a warning.

    Raises:
        ValueError: for an RNN head without attention (the message names the config that gives it one).
    """
    from torch import nn

    from hf_rnn.arguments import instance_argument
    from hf_rnn.errors import InputError

    instance_argument(model, nn.Module, "attention_maps: model", "a model (torch.nn.Module)")
    if not isinstance(text, str) or not text:
        raise InputError("text must be a non-empty string")
    if max_new_tokens < 1:
        raise InputError(f"max_new_tokens must be >= 1; got {max_new_tokens}")
    return family_of(model).attention_maps(model, tokenizer, text, generate=generate, max_new_tokens=max_new_tokens,
                                           target_text=target_text, max_length=max_length)


def _import_family_modules() -> None:
    import_named_modules(FAMILY_MODULES_ENV, ConfigError)


__all__ = ["DEFAULT_FAMILY", "FAMILIES", "FAMILY_MODULES_ENV", "LLM", "MAMBA2", "RNN", "ModelFamily", "attention_maps",
           "build_model", "build_tokenizer", "family_for_model_name", "family_name", "family_named", "family_of",
           "family_rank", "register_family", "unregister_family"]

_import_family_modules()
