"""`load_rnn`: a saved RNN folder loaded with the head it was saved with."""

from __future__ import annotations

import json
import os

from .modeling_rnn import RNN_HEADS


def load_rnn(folder: str | os.PathLike, **kwargs):
    """Load a saved hf_rnn folder with the head it was saved with (read from `config.json` 'architectures').

    Args:
        folder: a directory written by `save_pretrained`.
        **kwargs: passed to `from_pretrained` (e.g. `dtype`, `device_map`).

    Raises:
        `OSError`: the folder, its `config.json` or its weights are missing or unreadable.
        `ValueError`: the folder is not an hf_rnn model or names an unknown head.
    """
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
