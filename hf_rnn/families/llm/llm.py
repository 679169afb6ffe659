"""The LLM family: any decoder-only causal LM, on the same tasks as the RNNs.

``load_llm`` picks the head from the task's kind (a new linear head on the last hidden
states for classification and tagging, the LM head itself for text generation,
translation and forecasting, which the tasks encode as prompted causal LM), and one of
three training modes:

=========  ==========================================================================
mode       what trains
=========  ==========================================================================
``full``   every weight (``freeze_layers=N`` keeps embeddings and the lower N layers fixed)
``lora``   low-rank adapters on the attention projections (peft), plus a new task head
``freeze`` only a new task head (a linear probe); a causal LM head is left fully frozen
=========  ==========================================================================

The default model is the built-in SmolLM2-135M-Instruct from the offline asset cache;
a Hub id or a local folder of any decoder-only model goes through the same path.
Remote code is never run.

Attention maps need eager attention (SDPA and flash kernels never materialise the
softmax matrix): ``load_llm(..., output_attentions=True)`` loads eager, and
``use_eager_attention`` switches a loaded model.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from torch import nn

from hf_rnn.assets.cache import BUILTIN_LLM_HUB_ID, BUILTIN_LLM_LABEL, builtin_llm_names, ensure_builtin_llm
from hf_rnn.errors import ConfigError, ModelLoadError
from hf_rnn.families.saved_folder import is_weight_file_error
from hf_rnn.tokenization import chat_prompt_ids
from hf_rnn.training.parameters import count_parameters  # importable from here too, as before

logger = logging.getLogger(__name__)

MODES = ("full", "lora", "freeze")

# task kind -> (the Auto class an LLM of that kind is loaded and saved with, peft task type)
LLM_HEADS = {
    "sequence-classification": ("AutoModelForSequenceClassification", "SEQ_CLS"),
    "token-classification": ("AutoModelForTokenClassification", "TOKEN_CLS"),
    "causal-lm": ("AutoModelForCausalLM", "CAUSAL_LM"),
    "translation": ("AutoModelForCausalLM", "CAUSAL_LM"),
    "forecasting": ("AutoModelForCausalLM", "CAUSAL_LM"),
}

# LoRA targets by the projection names a model uses, most specific first. Attention
# projections only: the usual LoRA recipe, and small enough to be fast on a CPU.
_LORA_TARGET_CANDIDATES = (
    ("q_proj", "k_proj", "v_proj", "o_proj"),  # Llama, Mistral, Qwen2, SmolLM, OPT
    ("qkv_proj", "o_proj"),  # Phi-3
    ("c_attn",),  # GPT-2 (fused q, k, v in one Conv1D)
    ("query_key_value",),  # GPT-NeoX, Falcon, Bloom
    ("Wqkv",),  # MPT
    ("q_proj", "v_proj"),
)

# The new task heads transformers adds on top of a causal LM body.
_HEAD_MODULE_NAMES = ("score", "classifier")


def _default_hint() -> str:
    return f"leave the name out (name_or_path=None) to use the built-in {BUILTIN_LLM_LABEL}"


# --------------------------------------------------------------------------- where a model comes from


@functools.lru_cache(maxsize=1)
def hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the Hugging Face Hub answers a TCP connection (cached for the process).

    Asked before any download so that an offline machine fails in milliseconds with one
    line, instead of after huggingface_hub's ~20 s of retries.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "huggingface.co", port), timeout=timeout):
            return True
    except OSError:
        return False


def _looks_like_path(name: str) -> bool:
    """A Hub id is ``name`` or ``owner/name``; anything else is meant as a local path."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or os.sep in name.replace("/", "")


def resolve_llm_source(name_or_path: str | os.PathLike | None = None) -> tuple[str, bool]:
    """Where to load from: ``(local folder or Hub id, local_files_only)``.

    ``None`` (or ``"builtin"``, ``"smollm2"``, ``"SmolLM2-135M-Instruct"``) is the built-in copy in
    the asset cache (dequantized from Q4_1 on first use). A Hub id, the built-in's own
    (``HuggingFaceTB/SmolLM2-135M-Instruct``) included, means the original weights: from the
    Hugging Face cache when they are there, else from the Hub.

    Raises:
        ModelLoadError: a missing folder, a folder without ``config.json``, or a Hub id
            that is neither cached nor reachable.
    """
    if name_or_path is None or str(name_or_path).lower() in builtin_llm_names():
        return str(ensure_builtin_llm()), True
    name = str(name_or_path)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ModelLoadError(
                f"{path} has no config.json, so it is not a saved transformers model; {_default_hint()}"
            )
        return str(path), True
    if path.exists() or _looks_like_path(name):
        raise ModelLoadError(f"no model folder at {path}; {_default_hint()}")
    from transformers.utils import cached_file

    try:  # already in the Hugging Face cache: use it without touching the network
        cached_file(name, "config.json", local_files_only=True)
        return name, not hub_reachable()
    except OSError:
        pass
    if not hub_reachable():
        if name.lower() == BUILTIN_LLM_HUB_ID.lower():
            raise ModelLoadError(
                f"{name}'s original weights are not in the Hugging Face cache and the Hub cannot be reached; "
                f"{_default_hint()} (name_or_path=smollm2)"
            )
        raise ModelLoadError(
            f"{name!r} is not a local folder, not in the Hugging Face cache, and the Hub "
            f"cannot be reached; {_default_hint()}"
        )
    return name, False


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def load_llm_config(source: str, local_files_only: bool = True):
    """The model's config, checked to be a decoder-only causal LM.

    Raises:
        ModelLoadError: the config cannot be read, needs remote code, or describes an
            encoder-decoder (T5, BART), an encoder-only model (BERT) or an hf_rnn RNN.
    """
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    try:
        config = AutoConfig.from_pretrained(
            source, trust_remote_code=False, local_files_only=local_files_only
        )
    except (OSError, ValueError, KeyError) as e:
        if "trust_remote_code" in str(e):
            raise ModelLoadError(
                f"{source} needs its own Python code (trust_remote_code), which hf_rnn never "
                f"runs; {_default_hint()}"
            ) from None
        raise ModelLoadError(f"cannot load {source}: {_first_line(e)}; {_default_hint()}") from None
    model_type = getattr(config, "model_type", None)
    if model_type == "hf_rnn":
        raise ModelLoadError(
            f"{source} is an hf_rnn RNN, not an LLM: load it with hf_rnn.models.load_rnn, or "
            f"{_default_hint()}"
        )
    if getattr(config, "is_encoder_decoder", False):
        raise ModelLoadError(
            f"{source} is an encoder-decoder model ({model_type}), not a decoder-only LLM; {_default_hint()}"
        )
    # BERT-like configs carry is_decoder=False: their "causal LM" class is an encoder used as a decoder
    if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES or getattr(config, "is_decoder", True) is False:
        raise ModelLoadError(
            f"{source} is a {model_type} model, not a decoder-only causal LM; {_default_hint()}"
        )
    return config


# --------------------------------------------------------------------------- loading


def _kind_of(task: Any) -> str:
    """The kind of ``task``: a Task instance, a kind string, or a task name ("sentiment")."""
    if task is None:
        return "causal-lm"
    if isinstance(task, str):
        if task in LLM_HEADS:
            return task
        from hf_rnn.tasks import TASKS

        if task in TASKS:
            return TASKS[task].kind
        raise ConfigError(
            f"unknown task or kind {task!r}; kinds: {', '.join(LLM_HEADS)}; tasks: {', '.join(TASKS)}"
        )
    kind = getattr(task, "kind", None)
    if kind not in LLM_HEADS:
        raise ConfigError(f"task {task!r} has kind {kind!r}, which the LLM family does not know")
    return kind


def _resolve_dtype(dtype: Any) -> Any:
    """``None`` → float32 (safe for CPU training); a string names a torch dtype or "auto"."""
    if dtype is None:
        return torch.float32
    if isinstance(dtype, str) and dtype != "auto":
        resolved = getattr(torch, dtype, None)
        if not isinstance(resolved, torch.dtype):
            raise ConfigError(f"unknown dtype {dtype!r}; use float32, bfloat16, float16 or auto")
        return resolved
    return dtype


def load_llm(
    name_or_path: str | os.PathLike | None = None,
    task: Any = None,
    *,
    mode: str = "full",
    lora_r: int = 8,
    lora_alpha: int = 16,
    lora_dropout: float = 0.0,  # >0 keeps a copy of every adapted input for backward (+0.4 GB here)
    lora_target_modules: list[str] | str | None = None,
    freeze_layers: int = 0,
    output_attentions: bool = False,
    dtype: Any = None,
):
    """Load a decoder-only LLM with the head and training mode a task needs.

    Args:
        name_or_path: a local model folder or a Hub id; ``None`` is the built-in
            SmolLM2-135M-Instruct from the offline cache.
        task: a ``Task``, a kind (``"sequence-classification"``, ``"token-classification"``,
            ``"causal-lm"``, ``"translation"``, ``"forecasting"``) or a task name; ``None``
            means a plain causal LM. Classification heads get ``num_labels`` and
            ``id2label`` from ``task.label_names`` when ``task`` is a Task.
        mode: ``"full"``, ``"lora"`` (peft adapters, the base frozen) or ``"freeze"``
            (only a new classification/tagging head trains).
        lora_r, lora_alpha, lora_dropout: LoRA rank, scale numerator and dropout.
        lora_target_modules: module names to adapt; default: the attention projections
            the architecture has (``q_proj, k_proj, v_proj, o_proj`` for Llama,
            ``c_attn`` for GPT-2).
        freeze_layers: with ``"full"``, freeze the embeddings and the lower N decoder
            layers; with ``"lora"``, put adapters only on the layers above N.
        output_attentions: load with eager attention so that ``forward`` and
            ``generate`` can return attention maps.
        dtype: the weights' dtype, a torch dtype or its name (``"bfloat16"``), or ``"auto"``
            (the checkpoint's own); default float32. The weights train in it (a recipe's
            ``model.dtype``), unlike mixed precision, which autocasts around float32 weights.

    Returns:
        ``(model, tokenizer)``: a transformers model (a ``peft.PeftModel`` with
        ``mode="lora"``) and its tokenizer with a pad token set (eos when it had none).

    Raises:
        ModelLoadError: the name is not a loadable decoder-only model (one line that
            names the built-in default).
        ConfigError: an unknown mode, kind or dtype.
    """
    import transformers

    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
    if freeze_layers < 0:
        raise ConfigError("freeze_layers must be >= 0")
    kind = _kind_of(task)
    source, local_only = resolve_llm_source(name_or_path)
    config = load_llm_config(source, local_only)
    tokenizer = _load_llm_tokenizer(source, local_only)

    head_kwargs: dict[str, Any] = {}
    labels = getattr(task, "label_names", None) if not isinstance(task, str) else None
    if kind in ("sequence-classification", "token-classification") and labels:
        head_kwargs = {
            "num_labels": len(labels),
            "id2label": dict(enumerate(labels)),
            "label2id": {name: i for i, name in enumerate(labels)},
        }
    auto_name, _ = LLM_HEADS[kind]
    auto_class = getattr(transformers, auto_name)
    if type(config) not in auto_class._model_mapping:
        raise ModelLoadError(
            f"{source} ({config.model_type}) has no {kind} head in transformers; {_default_hint()}"
        )
    try:
        model = auto_class.from_pretrained(
            source,
            trust_remote_code=False,
            local_files_only=local_only,
            dtype=_resolve_dtype(dtype),
            attn_implementation="eager" if output_attentions else None,
            **head_kwargs,
        )
    except Exception as e:  # noqa: BLE001 - load errors become one line; anything else is re-raised
        if is_weight_file_error(e):
            raise ModelLoadError(f"cannot load {source}: its weight file is truncated or corrupt ({_first_line(e)}); "
                                 "save or download the model again") from None
        if not isinstance(e, (OSError, ValueError)):
            raise
        raise ModelLoadError(
            f"cannot load {source} as {auto_name}: {_first_line(e)}; {_default_hint()}"
        ) from None
    # classifiers find each row's last real token through pad_token_id; generate pads with it
    model.config.pad_token_id = tokenizer.pad_token_id
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id

    if mode == "full":
        if freeze_layers:
            freeze_lower_layers(model, freeze_layers)
    elif mode == "freeze":
        freeze_body(model)
    else:
        model = apply_lora(
            model,
            kind,
            r=lora_r,
            alpha=lora_alpha,
            dropout=lora_dropout,
            target_modules=lora_target_modules,
            skip_layers=freeze_layers,
        )
    return model, tokenizer


def _load_llm_tokenizer(source: str, local_files_only: bool):
    """The model's tokenizer with a pad token (eos when it has none), padding on the right."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(
            source, trust_remote_code=False, local_files_only=local_files_only
        )
    except (OSError, ValueError, TypeError) as e:
        raise ModelLoadError(
            f"cannot load the tokenizer of {source}: {_first_line(e)}; {_default_hint()}"
        ) from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "right"  # training and classification; generation makes a left-padding copy
    return tok


# --------------------------------------------------------------------------- training modes


def _num_layers(config) -> int:
    for key in ("num_hidden_layers", "n_layer", "num_layers"):
        n = getattr(config, key, None)
        if isinstance(n, int):
            return n
    raise ModelLoadError(f"cannot tell how many layers a {config.model_type} model has")


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The stack of decoder blocks (``model.model.layers`` for Llama, ``transformer.h`` for GPT-2)."""
    n = _num_layers(model.config)
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and len(module) == n:
            return module
    raise ModelLoadError(f"cannot find the {n} decoder layers of this {model.config.model_type} model")


def head_module_names(model: nn.Module) -> list[str]:
    """Names of the task head modules transformers added (``score`` or ``classifier``)."""
    return [name for name, _ in model.named_children() if name in _HEAD_MODULE_NAMES]


def freeze_lower_layers(model: nn.Module, n: int) -> None:
    """Freeze the embeddings and the lower ``n`` decoder layers (in place).

    With tied embeddings (SmolLM2, GPT-2) the LM head is the embedding matrix, so it is
    frozen too; the upper layers, final norm and any task head keep training.
    """
    layers = decoder_layers(model)
    if n > len(layers):
        raise ConfigError(f"freeze_layers={n} but the model has only {len(layers)} layers")
    inside_layers = {id(p) for p in layers.parameters()}
    for module in model.modules():
        if isinstance(module, nn.Embedding):  # token and (GPT-2) position embeddings
            for p in module.parameters():
                if id(p) not in inside_layers:
                    p.requires_grad_(False)
    for layer in layers[:n]:
        layer.requires_grad_(False)


def freeze_body(model: nn.Module) -> None:
    """Freeze everything but a new task head (linear probing); a causal LM ends fully frozen."""
    model.requires_grad_(False)
    for name in head_module_names(model):
        getattr(model, name).requires_grad_(True)


def default_lora_targets(model: nn.Module) -> list[str]:
    """Attention projection names this architecture has (see ``_LORA_TARGET_CANDIDATES``)."""
    from transformers.pytorch_utils import Conv1D

    names = {
        name.rsplit(".", 1)[-1] for name, m in model.named_modules() if isinstance(m, (nn.Linear, Conv1D))
    }
    for candidate in _LORA_TARGET_CANDIDATES:
        if set(candidate) <= names:
            return list(candidate)
    return ["all-linear"]  # peft's catch-all; it skips the output layer


def apply_lora(
    model: nn.Module,
    kind: str = "causal-lm",
    *,
    r: int = 8,
    alpha: int = 16,
    dropout: float = 0.0,
    target_modules: list[str] | str | None = None,
    skip_layers: int = 0,
):
    """Wrap ``model`` in LoRA adapters (peft); only adapters and a new task head train.

    ``skip_layers=N`` leaves the lower N decoder layers without adapters.
    """
    from peft import LoraConfig, get_peft_model
    from transformers.pytorch_utils import Conv1D

    targets = target_modules or default_lora_targets(model)
    if isinstance(targets, str) and targets != "all-linear":
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    # GPT-2's Conv1D stores weights transposed; peft must be told (it warns otherwise)
    fan_in_fan_out = any(
        isinstance(m, Conv1D) and name.rsplit(".", 1)[-1] in targets for name, m in model.named_modules()
    )
    layers_to_transform = None
    if skip_layers:
        n = len(decoder_layers(model))
        if skip_layers >= n:
            raise ConfigError(f"freeze_layers={skip_layers} leaves no layer of {n} for LoRA adapters")
        layers_to_transform = list(range(skip_layers, n))
    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=targets,
        fan_in_fan_out=fan_in_fan_out,
        task_type=LLM_HEADS[kind][1],
        modules_to_save=head_module_names(model) or None,
        layers_to_transform=layers_to_transform,
    )
    return get_peft_model(model, config)


def base_model_of(model: nn.Module) -> nn.Module:
    """The transformers model under a peft wrapper (or ``model`` itself)."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


# --------------------------------------------------------------------------- attention


def use_eager_attention(model: nn.Module) -> nn.Module:
    """Switch ``model`` (or the model under a peft wrapper) to eager attention, in place.

    Only eager attention materialises the softmax maps that ``output_attentions=True``
    returns; the weights are unchanged, so outputs agree with SDPA up to rounding.
    """
    base = base_model_of(model)
    if base.config._attn_implementation != "eager":
        base.set_attn_implementation("eager")
    return model


def context_length(model_or_config: Any) -> int | None:
    """The longest input the model's position scheme supports (``max_position_embeddings``)."""
    config = getattr(model_or_config, "config", model_or_config)
    n = getattr(config, "max_position_embeddings", None)
    return int(n) if isinstance(n, int) else None


def prepare_llm_inputs(
    tokenizer,
    text: str,
    max_length: int | None = None,
    *,
    model: nn.Module | None = None,
    chat: bool = False,
    reserve: int = 0,
) -> dict[str, torch.Tensor]:
    """Tokenize one text for an LLM, truncating what exceeds its context with a warning.

    Args:
        tokenizer: the model's tokenizer.
        text: the input text (the user message when ``chat``).
        max_length: the token limit; default: ``model``'s ``max_position_embeddings``,
            else the tokenizer's ``model_max_length`` when it is a real limit.
        model: the model whose context length bounds the input.
        chat: wrap ``text`` as a user message in the chat template (with the assistant
            turn opened) when the tokenizer has one.
        reserve: tokens to leave free for generation (``max_new_tokens``).

    Returns:
        ``{"input_ids": [1, T], "attention_mask": [1, T]}`` on the model's device.
        Plain text keeps its first tokens; a chat prompt keeps its template and shortens
        the message.
    """
    limit = max_length or (context_length(model) if model is not None else None)
    if limit is None and tokenizer.model_max_length < 1_000_000:  # unset limits are ~1e30
        limit = tokenizer.model_max_length
    if limit is not None:
        limit -= reserve
        if limit < 1:
            raise ConfigError(
                f"no room for input: the limit is {limit + reserve} tokens and {reserve} are reserved"
            )
    use_chat = chat and getattr(tokenizer, "chat_template", None)

    def encode(t: str) -> list[int]:
        return chat_prompt_ids(tokenizer, t) if use_chat else list(tokenizer(t)["input_ids"])

    ids = encode(text)
    if limit is not None and len(ids) > limit:
        warnings.warn(
            f"the input has {len(ids)} tokens, more than the {limit} the model can take; it is truncated",
            stacklevel=2,
        )
        if use_chat:  # shorten the message, keep the template around it
            overhead = len(ids) - len(tokenizer(text, add_special_tokens=False)["input_ids"])
            keep = tokenizer(text, add_special_tokens=False)["input_ids"][: max(limit - overhead, 0)]
            ids = encode(tokenizer.decode(keep))
        ids = ids[:limit]  # decode/re-encode may merge differently: clip exactly
    input_ids = torch.tensor([ids], dtype=torch.long)
    device = next(model.parameters()).device if model is not None else torch.device("cpu")
    return {"input_ids": input_ids.to(device), "attention_mask": torch.ones_like(input_ids).to(device)}


__all__ = [
    "MODES",
    "apply_lora",
    "base_model_of",
    "context_length",
    "count_parameters",
    "decoder_layers",
    "default_lora_targets",
    "freeze_body",
    "freeze_lower_layers",
    "head_module_names",
    "hub_reachable",
    "load_llm",
    "load_llm_config",
    "prepare_llm_inputs",
    "resolve_llm_source",
    "use_eager_attention",
]
