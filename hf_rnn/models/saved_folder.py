"""Checks on saved model folders, with clear errors.

`transformers` loads a folder saved with one head into another head silently (it initialises the missing head
at random and logs a report), and reports a truncated `model.safetensors` with a low-level safetensors message.
The helpers here turn both into errors that name the folder and the problem. They read files only (no torch):
the RNN heads' `from_pretrained` (`modeling_rnn`), `load_rnn` (`loading_rnn`) and `load_llm` (`llm`) use them.
"""

from __future__ import annotations

import json
import os

# Heads whose weights live under the `rnn.` prefix, so the bare encoder can be loaded from their folders
# (the usual "load the backbone of a fine-tuned model" use of `AutoModel`).
_BACKBONE_SOURCES = (
    "RNNModel",
    "RNNForSequenceClassification",
    "RNNForTokenClassification",
    "RNNForCausalLM",
)


def read_saved_architecture(folder: str | os.PathLike) -> str | None:
    """Return `config.architectures[0]` of a saved folder, or `None` when the folder or field is absent."""
    config_file = os.path.join(os.fspath(folder), "config.json")
    if not os.path.isfile(config_file):
        return None
    try:
        with open(config_file, encoding="utf-8") as handle:
            architectures = json.load(handle).get("architectures") or []
    except (OSError, ValueError) as error:
        raise OSError(f"Cannot read '{config_file}': {error}. Is the folder a saved hf_rnn model?") from error
    return architectures[0] if architectures else None


def check_saved_architecture(folder, requested_class: str, allow_different_head: bool = False) -> None:
    """Raise a `ValueError` when the local `folder` was saved by another head than `requested_class`.

    Hub ids and folders without `config.architectures` are not checked (there is nothing to compare).
    """
    if allow_different_head or not os.path.isdir(os.fspath(folder)):
        return
    saved = read_saved_architecture(folder)
    if saved is None or saved == requested_class:
        return
    if requested_class == "RNNModel" and saved in _BACKBONE_SOURCES:
        return
    raise ValueError(
        f"'{os.fspath(folder)}' holds a {saved} checkpoint (config.json 'architectures'), which cannot be loaded as "
        f"{requested_class}: the heads have different weights, so the new head would be random. Load it with "
        f"{saved}.from_pretrained or hf_rnn.models.load_rnn(folder), or pass allow_different_head=True to reuse "
        f"the shared weights and initialise the rest on purpose."
    )


def reraise_weight_file_error(error: Exception, folder) -> None:
    """If `error` comes from reading an unreadable weight file, raise an `OSError` naming the file; else return."""
    if not is_weight_file_error(error):
        return
    weights = os.path.join(os.fspath(folder), "model.safetensors")
    raise OSError(
        f"Cannot load the weights of '{os.fspath(folder)}': '{weights}' is truncated or corrupt ({error}). "
        f"Save the model again or restore the file."
    ) from error


def is_weight_file_error(error: Exception) -> bool:
    """Whether `error`, or an error it was raised from, is safetensors failing to read a weight file."""
    try:
        from safetensors import SafetensorError
    except ImportError:  # older safetensors
        from safetensors.safe_open import SafetensorError  # type: ignore[no-redef]
    cause: BaseException | None = error
    while cause is not None:  # transformers sometimes wraps the safetensors error
        if isinstance(cause, SafetensorError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False
