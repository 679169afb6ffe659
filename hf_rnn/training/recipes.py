"""YAML recipes: one file is the single source of truth for a run (torchtune style).

A recipe has five parts::

    task:       which data (name, source, options, subset sizes)
    model:      its family (``hf_rnn.families``): "rnn" (architecture sizes), "llm" (which model, how it
                trains) or a plug-in family; the family checks its section
    tokenizer:  for an RNN: the built-in LLM's tokenizer (default), another one, or word-level
    training:   a ``hf_rnn.training.config.TrainConfig``
    output_dir: the run folder

``hf_rnn/configs/<task>_<family>.yaml`` are the built-in recipes (package data, installed with the package;
``hf_rnn/configs/accelerate/`` holds ``accelerate launch --config_file`` files). Any key can be overridden on the
command line as ``section.key=value`` (the value is read as YAML: ``3``, ``1e-3``, ``true``,
``null``, ``[64, 32]``); a key that exists in exactly one section may drop the section.
Every key and type is checked before anything is loaded or trained, and a problem is a
one-line ``ConfigError``.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hf_rnn.errors import ConfigError, DataError
from hf_rnn.families import DEFAULT_FAMILY, family_for_model_name, family_named
from hf_rnn.families import FAMILIES as REGISTERED_FAMILIES
from hf_rnn.families.llm import LLM, LLM_DTYPES, LLM_MODES, LLM_NAMES, LLM_VARIANTS, LLMModelSection
from hf_rnn.families.mamba2 import MAMBA2
from hf_rnn.families.rnn import RNN, RNN_ABLATIONS, RNN_VARIANTS, RNNModelSection
from hf_rnn.training.config import TrainConfig
from hf_rnn.training.config_schema import coerce, did_you_mean, from_mapping
from hf_rnn.training.config_schema import (
    dump_yaml as dump_yaml,  # re-exported: recipes.dump_yaml writes a recipe
)

# the built-in families' sections and --model names, defined with their families, stay importable from here
__all__ = ["BUILTIN_FAMILIES", "FAMILIES", "LLM_DTYPES", "LLM_MODES", "LLM_NAMES", "LLM_VARIANTS", "LLMModelSection",
           "RNN_ABLATIONS", "RNN_VARIANTS", "RNNModelSection", "Recipe", "TaskSection", "TokenizerSection",
           "apply_overrides", "build_recipe", "builtin_recipe", "dump_yaml", "load_recipe", "parse_override",
           "read_yaml", "recipe_path"]

# the built-in recipes and accelerate configs: package data, found through the package wherever it is installed
CONFIG_DIR = Path(str(importlib.resources.files("hf_rnn") / "configs"))
ACCELERATE_CONFIG_DIR = CONFIG_DIR / "accelerate"
# the families whose recipes ship with the package (``configs/<task>_<family>.yaml``); every registered family
# (``hf_rnn.families.FAMILIES``, plug-ins included) can be a recipe's model.family
FAMILIES = BUILTIN_FAMILIES = (RNN.name, LLM.name, MAMBA2.name)


# =========================================================================== sections


@dataclass
class TaskSection:
    """Which data: ``hf_rnn.tasks.load_task(name, source, **options)``, then optional subsets."""

    name: str = "sentiment"
    source: str | None = None  # None: the built-in data; else a file or Hub dataset id
    options: dict = field(default_factory=dict)  # column mappings and task settings
    max_train_examples: int | None = field(default=None, metadata={"min": 1})
    max_validation_examples: int | None = field(default=None, metadata={"min": 1})
    max_test_examples: int | None = field(default=None, metadata={"min": 1})


@dataclass
class TokenizerSection:
    """The RNN's tokenizer (an LLM always uses its own)."""

    name_or_path: str | None = None  # None: the built-in SmolLM2 tokenizer, shared with the LLM
    word_level: bool = False  # train a word-level vocabulary on the training split instead
    char_level: bool = False  # or a character-level one (the classic char-RNN language model)
    vocab_size: int = field(default=20_000, metadata={"min": 10})  # word- or character-level
    lowercase: bool = True  # word-level only; false keeps case (scores against cased references)


@dataclass
class Recipe:
    task: TaskSection
    model: Any  # the family's model section: RNNModelSection, LLMModelSection or a plug-in family's
    tokenizer: TokenizerSection
    training: TrainConfig
    output_dir: str | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def family(self) -> str:
        return self.model.family


# =========================================================================== recipes


def recipe_path(task: str, family: str) -> Path:
    """The built-in recipe of ``task`` for ``family``: in the task's own ``recipe_dir`` when it has one
    (a task defined outside this package brings its recipes), else in the package's."""
    from hf_rnn.tasks import TASKS

    folder = getattr(TASKS.get(task), "recipe_dir", None) or CONFIG_DIR
    return Path(folder) / f"{task}_{family}.yaml"


def read_yaml(path: str | os.PathLike) -> dict:
    path = Path(path).expanduser()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no recipe file at {path}") from None
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping (task:, model:, training: ...)")
    return data


def builtin_recipe(task: str, model: str) -> dict:
    """The raw recipe for ``--task task --model model`` (before overrides).

    ``model``: ``rnn`` / ``llm`` / ``smollm2`` (the task's recipes as written), an RNN
    variant (``lstm``, ``bilstm``, ``gru``, ``bigru``, ``simplernn``, ``bisimplernn``: the RNN
    recipe with that cell), an LLM Hub id / folder (the LLM recipe with that model), or a name a
    plug-in family answers to: the family whose ``--model`` names include it writes the recipe.
    """
    from hf_rnn.tasks import TASKS

    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose one of: {', '.join(TASKS)}")
    key = model.lower()
    family = family_for_model_name(model)
    if family is None:
        others = [n for f in REGISTERED_FAMILIES.values() if f not in (RNN, LLM) for n in f.model_names()]
        raise ConfigError(f"unknown model {model!r}; use rnn, {', '.join(RNN_VARIANTS)}, {', '.join(RNN_ABLATIONS)}, "
                          f"llm, smollm2, {', '.join([*LLM_VARIANTS, *LLM_MODES, *others])}, or an LLM Hub id or folder")
    data = family.builtin_recipe(model, lambda name: read_yaml(recipe_path(task, name)))
    data.setdefault("output_dir", f"runs/{task}-{data.get('model', {}).get('name', key)}")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"training.max_steps=10"`` → ``(["training", "max_steps"], 10)``."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} must look like section.key=value (e.g. training.max_steps=10)")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def _section_fields() -> dict[str, set[str]]:

    return {
        "task": {f.name for f in dataclasses.fields(TaskSection)},
        "model": set().union(*(family.section_fields() for family in REGISTERED_FAMILIES.values())),
        "tokenizer": {f.name for f in dataclasses.fields(TokenizerSection)},
        "training": {f.name for f in dataclasses.fields(TrainConfig)},
    }


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Set each ``key=value`` in the raw recipe ``data`` (a copy is returned)."""
    import copy

    data = copy.deepcopy(data)
    sections = _section_fields()
    for text in overrides:
        path, value = parse_override(text)
        if len(path) == 1 and path[0] != "output_dir":
            owners = [s for s, names in sections.items() if path[0] in names]
            if len(owners) != 1:
                hint = (f"it is in {' and '.join(owners)}" if owners
                        else f"sections are {', '.join(sections)} and output_dir")
                raise ConfigError(f"override {text!r}: say which section ({hint}), e.g. training.{path[0]}=...")
            path = [owners[0], path[0]]
        node = data
        for part in path[:-1]:
            child = node.get(part) if isinstance(node, dict) else None
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"override {text!r}: {part!r} is not a section")
            node = child
        node[path[-1]] = value
    return data


def build_recipe(data: Mapping[str, Any]) -> Recipe:
    """Check a raw recipe mapping and turn it into a ``Recipe``."""

    known = {f.name for f in dataclasses.fields(Recipe)}
    for key in data:
        if key not in known:
            raise ConfigError(f"unknown key {key!r}{did_you_mean(key, known)}")
    model = data.get("model") or {}
    if not isinstance(model, Mapping):
        raise ConfigError(f"model must be a mapping (family: {'|'.join(REGISTERED_FAMILIES)}, ...)")
    family = family_named(model.get("family", DEFAULT_FAMILY))
    check_section = getattr(family, "check_section", None)
    if check_section is not None:  # a key whose message must say why it does not belong
        check_section(model)
    recipe = Recipe(
        task=from_mapping(TaskSection, data.get("task"), "task"),
        model=from_mapping(family.section, model, "model"),
        tokenizer=from_mapping(TokenizerSection, data.get("tokenizer"), "tokenizer"),
        training=TrainConfig.from_any(data.get("training")),
        output_dir=coerce(data.get("output_dir"), str | None, "output_dir"),
    )
    _check_consistency(recipe)
    return recipe


def _check_consistency(recipe: Recipe) -> None:
    from hf_rnn.tasks import TASKS

    if recipe.task.name not in TASKS:
        raise ConfigError(f"task.name {recipe.task.name!r} is not a task; choose one of: {', '.join(TASKS)}")
    from hf_rnn.tasks.options import check_options

    if not isinstance(recipe.task.options, Mapping):
        raise ConfigError(f"task.options must be a mapping of option names to values; got {recipe.task.options!r}")
    try:  # the task's own options, checked here so that a run fails before it loads or creates anything
        check_options(TASKS[recipe.task.name], dict(recipe.task.options))
    except DataError as e:
        raise ConfigError(f"task.options: {e}") from None
    family_named(recipe.family).check_recipe(recipe, TASKS[recipe.task.name].kind)


def load_recipe(
    task: str | None = None,
    model: str | None = None,
    config: str | os.PathLike | None = None,
    overrides: list[str] = (),
    saved: str | os.PathLike | None = None,
) -> Recipe:
    """The recipe of a run: a saved run's ``config.yaml`` (``saved``), a YAML file (``config``)
    or the built-in one for ``task`` × ``model``; then ``overrides``; then checked."""
    if saved is not None:
        data = read_yaml(saved)
    elif config is not None:
        data = read_yaml(config)
    elif task and model:
        data = builtin_recipe(task, model)
    else:
        raise ConfigError("say what to train: --task T --model M, or --config FILE.yaml")
    recipe = build_recipe(apply_overrides(data, list(overrides)))
    if (saved is not None or config is not None) and task and task != recipe.task.name:
        raise ConfigError(f"--task {task} does not match the recipe's task.name {recipe.task.name!r}")
    return recipe
