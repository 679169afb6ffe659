"""Checks on saved model folders, with clear errors.

`transformers` loads a folder saved with one head into another head silently (it initialises the missing head
at random and logs a report), and reports a truncated `model.safetensors` with a low-level safetensors message.
The helpers here turn both into errors that name the folder and the problem. They read files only (no torch):
the RNN heads' `from_pretrained` (`modeling_rnn`), `load_rnn` (`loading_rnn`) and `load_llm` (`llm`) use them.
A `config.json` edited so that the weights no longer fit it (another `hidden_size`) makes transformers log a
table of every mismatched weight and raise a `RuntimeError` pointing at it: `clear_size_mismatch` makes that one
`ModelLoadError` line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os

from hf_rnn.errors import ModelLoadError

# the logger transformers' `from_pretrained` writes its loading report (the mismatch table) to
_LOADING_LOGGER = "transformers.modeling_utils"

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


class HeldReport(list):
    """The log records `held_loading_report` holds back; `drop()` forgets them (the error says it instead)."""

    def drop(self) -> None:
        self.clear()
        self.dropped = True


@contextlib.contextmanager
def held_loading_report():
    """Hold back what `from_pretrained` logs (its loading report: a table of every weight missing, unexpected or
    of another shape) until the block ends: logged then as usual, unless the block `drop()`s it or raises a
    `ModelLoadError` (which says what the table would)."""
    logger = logging.getLogger(_LOADING_LOGGER)
    held = HeldReport()
    held.dropped = False

    def hold(record: logging.LogRecord) -> bool:
        held.append(record)
        return False

    logger.addFilter(hold)
    try:
        yield held
    except ModelLoadError:
        held.drop()
        raise
    finally:
        logger.removeFilter(hold)
        for record in [] if held.dropped else held:
            logger.handle(record)


@contextlib.contextmanager
def clear_size_mismatch(folder):
    """Run a `from_pretrained` of `folder` with its size-mismatch failure as one `ModelLoadError` (a `ValueError`).

    transformers logs the loading report (a table of every weight whose shape differs from the config's) and then
    raises a `RuntimeError` that says to read it: the table is dropped, and the error names the problem instead.
    """
    with held_loading_report() as report:
        try:
            yield
        except RuntimeError as error:
            if "ignore_mismatched_sizes" not in str(error):
                raise
            report.drop()
            raise ModelLoadError(
                f"cannot load '{os.fspath(folder)}': its weights do not have the shapes its config.json describes "
                "(config.json edited, or copied from another model?); restore config.json or save the model again"
            ) from None
