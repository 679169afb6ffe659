"""Loading saved RNN folders with clear errors.

`transformers` loads a folder saved with one head into another head silently (it initialises the missing head
at random and logs a report), and reports a truncated `model.safetensors` with a low-level safetensors message.
The helpers here turn both into errors that name the folder and the problem.
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
    if not _is_weight_file_error(error):
        return
    weights = os.path.join(os.fspath(folder), "model.safetensors")
    raise OSError(
        f"Cannot load the weights of '{os.fspath(folder)}': '{weights}' is truncated or corrupt ({error}). "
        f"Save the model again or restore the file."
    ) from error


def _is_weight_file_error(error: Exception) -> bool:
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


def load_rnn(folder: str | os.PathLike, **kwargs):
    """Load a saved hf_rnn folder with the head it was saved with (read from `config.json` 'architectures').

    Args:
        folder: a directory written by `save_pretrained`.
        **kwargs: passed to `from_pretrained` (e.g. `dtype`, `device_map`).

    Raises:
        `OSError`: the folder, its `config.json` or its weights are missing or unreadable.
        `ValueError`: the folder is not an hf_rnn model or names an unknown head.
    """
    from .modeling_rnn import RNN_HEADS  # late import: modeling imports this module

    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise OSError(f"'{folder}' is not a directory; load_rnn expects a folder written by save_pretrained.")
    config_file = os.path.join(folder, "config.json")
    if not os.path.isfile(config_file):
        raise OSError(f"'{folder}' has no config.json; load_rnn expects a folder written by save_pretrained.")
    with open(config_file, encoding="utf-8") as handle:
        try:
            config = json.load(handle)
        except ValueError as error:
            raise OSError(f"'{config_file}' is not valid JSON: {error}") from error
    if config.get("model_type") != "hf_rnn":
        raise ValueError(f"'{folder}' holds a {config.get('model_type')!r} model, not an hf_rnn one.")
    saved = (config.get("architectures") or [None])[0]
    if saved not in RNN_HEADS:
        raise ValueError(
            f"'{folder}' does not say which head it was saved with (config.json 'architectures' = "
            f"{config.get('architectures')!r}); expected one of {', '.join(RNN_HEADS)}."
        )
    return RNN_HEADS[saved].from_pretrained(folder, **kwargs)
