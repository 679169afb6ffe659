"""YAML recipes: one file is the single source of truth for a run (torchtune style).

A recipe has five parts::

    task:       which data (name, source, options, subset sizes)
    model:      family "rnn" (architecture sizes) or "llm" (which model, how it trains)
    tokenizer:  for an RNN: the built-in LLM's tokenizer (default), another one, or word-level
    training:   a ``hf_rnn.train_config.TrainConfig``
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

from .config_schema import coerce, did_you_mean, from_mapping
from .config_schema import dump_yaml as dump_yaml  # re-exported: recipes.dump_yaml writes a recipe
from .errors import ConfigError, DataError
from .train_config import TrainConfig

# the built-in recipes and accelerate configs: package data, found through the package wherever it is installed
CONFIG_DIR = Path(str(importlib.resources.files(__package__) / "configs"))
ACCELERATE_CONFIG_DIR = CONFIG_DIR / "accelerate"
FAMILIES = ("rnn", "llm")
LLM_DTYPES = ("float32", "bfloat16", "float16", "auto")  # model.dtype of the LLM family

# --model shortcuts. "rnn" / "llm" take the recipe as written; the others change the cell.
RNN_VARIANTS = {
    "lstm": ("lstm", False), "bilstm": ("lstm", True),
    "gru": ("gru", False), "bigru": ("gru", True),
    "simplernn": ("rnn", False), "bisimplernn": ("rnn", True),
}
# the task's recipe RNN with one part taken out: name -> model settings it changes
RNN_ABLATIONS = {"rnn-noattention": {"attention": "none"}}  # the lecture's claim that attention helps, measured
LLM_NAMES = ("llm", "smollm2")
# the built-in LLM with another way of reading the task: name -> task options it sets
# tagging: the sentence twice, the second copy tagged
LLM_VARIANTS = {"smollm2-twice": {"repeat_input": True}}
# the built-in LLM used another way: name -> the recipe sections' keys it sets.
# smollm2-patch (forecasting): patches of values in, values out, lower blocks frozen (GPT4TS); its ~17k
# new weights train at a forecasting head's rate for many passes over the few hundred windows, like the LSTM
LLM_MODES = {"smollm2-patch": {"model": {"mode": "patch"},
                               "training": {"learning_rate": 1e-3, "batch_size": 16, "epochs": 60,
                                            "warmup_steps": 20, "eval_steps": 70, "early_stopping_patience": 5,
                                            "logging_steps": 20}}}


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


@dataclass
class LLMModelSection:
    """``hf_rnn.models.llm.load_llm`` arguments."""

    family: str = field(default="llm", metadata={"choices": ("llm",)})
    name: str = "smollm2"
    name_or_path: str | None = None  # None: the built-in SmolLM2-135M-Instruct
    # patch: a numeric forecaster on the lower blocks, frozen (models/patch_forecaster.py)
    mode: str = field(default="full", metadata={"choices": ("full", "lora", "freeze", "patch")})
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


@dataclass
class Recipe:
    task: TaskSection
    model: RNNModelSection | LLMModelSection
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
    from .tasks import TASKS

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
    recipe with that cell), or an LLM Hub id / folder (the LLM recipe with that model).
    """
    from .tasks import TASKS

    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose one of: {', '.join(TASKS)}")
    key = model.lower()
    if key == "rnn" or key in RNN_VARIANTS or key in RNN_ABLATIONS:
        data = read_yaml(recipe_path(task, "rnn"))
        if key in RNN_VARIANTS:
            cell, bidirectional = RNN_VARIANTS[key]
            data.setdefault("model", {}).update(name=key, cell=cell, bidirectional=bidirectional)
        elif key in RNN_ABLATIONS:
            data.setdefault("model", {}).update(name=key, **RNN_ABLATIONS[key])
    elif key in LLM_NAMES:
        data = read_yaml(recipe_path(task, "llm"))
    elif key in LLM_VARIANTS:
        data = read_yaml(recipe_path(task, "llm"))
        data.setdefault("model", {})["name"] = key
        data.setdefault("task", {}).setdefault("options", {}).update(LLM_VARIANTS[key])
    elif key in LLM_MODES:
        data = read_yaml(recipe_path(task, "llm"))
        data.setdefault("model", {})["name"] = key
        for section, values in LLM_MODES[key].items():
            data.setdefault(section, {}).update(values)
    elif "/" in model or os.sep in model or Path(model).expanduser().exists():
        data = read_yaml(recipe_path(task, "llm"))
        data.setdefault("model", {}).update(name=Path(model.rstrip("/")).name, name_or_path=model)
    else:
        raise ConfigError(f"unknown model {model!r}; use rnn, {', '.join(RNN_VARIANTS)}, {', '.join(RNN_ABLATIONS)}, "
                          f"llm, smollm2, {', '.join([*LLM_VARIANTS, *LLM_MODES])}, or an LLM Hub id or folder")
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
        "model": {f.name for f in dataclasses.fields(RNNModelSection)} | {f.name for f in dataclasses.fields(LLMModelSection)},
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
        raise ConfigError("model must be a mapping (family: rnn|llm, ...)")
    family = model.get("family", "rnn")
    if family not in FAMILIES:
        raise ConfigError(f"model.family must be rnn or llm; got {family!r}")
    if family == "rnn" and "dtype" in model:  # an unknown-key message would not say why
        raise ConfigError("model.dtype is the LLM family's weight dtype; an RNN keeps float32 weights: "
                          "drop model.dtype (training.mixed_precision=bf16 autocasts either family)")
    model_cls = RNNModelSection if family == "rnn" else LLMModelSection
    recipe = Recipe(
        task=from_mapping(TaskSection, data.get("task"), "task"),
        model=from_mapping(model_cls, model, "model"),
        tokenizer=from_mapping(TokenizerSection, data.get("tokenizer"), "tokenizer"),
        training=TrainConfig.from_any(data.get("training")),
        output_dir=coerce(data.get("output_dir"), str | None, "output_dir"),
    )
    _check_consistency(recipe)
    return recipe


def _check_consistency(recipe: Recipe) -> None:
    from .tasks import TASKS

    if recipe.task.name not in TASKS:
        raise ConfigError(f"task.name {recipe.task.name!r} is not a task; choose one of: {', '.join(TASKS)}")
    from .tasks.options import check_options

    if not isinstance(recipe.task.options, Mapping):
        raise ConfigError(f"task.options must be a mapping of option names to values; got {recipe.task.options!r}")
    try:  # the task's own options, checked here so that a run fails before it loads or creates anything
        check_options(TASKS[recipe.task.name], dict(recipe.task.options))
    except DataError as e:
        raise ConfigError(f"task.options: {e}") from None
    kind = TASKS[recipe.task.name].kind
    tok = recipe.tokenizer
    if recipe.family == "llm":
        if recipe.model.mode == "patch" and kind != "forecasting":
            raise ConfigError(f"model.mode=patch is a numeric forecaster: it needs a forecasting task, not "
                              f"{recipe.task.name} ({kind})")
        if tok.word_level or tok.char_level or tok.name_or_path is not None:
            raise ConfigError("an LLM uses its own tokenizer: leave tokenizer.name_or_path null and "
                              "tokenizer.word_level and tokenizer.char_level false")
        if recipe.model.dtype != "float32" and recipe.model.mode == "patch":
            raise ConfigError("model.dtype applies to modes full, lora and freeze; a patch forecaster keeps "
                              "float32: drop model.dtype")
        if recipe.model.dtype == "float16" and recipe.training.mixed_precision == "fp16":
            # fp16 autocast scales the loss and unscales float32 gradients; float16 weights give float16 ones
            raise ConfigError("model.dtype=float16 with training.mixed_precision=fp16: fp16 loss scaling needs "
                              "float32 weights; use model.dtype=float32, or training.mixed_precision=no")
        if recipe.training.save_adapter and recipe.model.mode != "lora":
            raise ConfigError(f"training.save_adapter saves a LoRA adapter; model.mode is {recipe.model.mode}: "
                              "set model.mode=lora or training.save_adapter=false")
        return
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
