"""`load_rnn`: a saved RNN folder loaded with the head it was saved with."""

from __future__ import annotations

import json
import os

from hf_rnn.errors import InputError, ModelLoadError
from hf_rnn.families.rnn.modeling_rnn import RNN_HEADS
from hf_rnn.families.saved_folder import held_loading_report


def load_rnn(folder: str | os.PathLike, **kwargs):
    """Load a saved hf_rnn folder with the head it was saved with (read from `config.json` 'architectures').

    Args:
        folder: a directory written by `save_pretrained`.
        **kwargs: passed to `from_pretrained` (e.g. `dtype`, `device_map`).

    Raises:
        `OSError`: the folder, its `config.json` or its weights are missing or unreadable.
        `ValueError`: the folder is not an hf_rnn model or names an unknown head; `ModelLoadError` (a
            `ValueError`) when its weights do not fit its `config.json`, `InputError` when `folder` is no path.
    """
    if not isinstance(folder, (str, os.PathLike)):
        raise InputError(f"load_rnn: folder must be a path (str or os.PathLike), not {type(folder).__name__} "
                         f"({folder!r:.60})")
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
    if kwargs.get("output_loading_info"):
        return RNN_HEADS[saved].from_pretrained(folder, **kwargs)
    with held_loading_report() as report:
        model, info = RNN_HEADS[saved].from_pretrained(folder, output_loading_info=True, **kwargs)
        # the head it was saved with has every weight of the file and no other: a difference means config.json
        # was edited (attention added: a random attention layer would answer) or the weights were swapped
        off = {kind: info.get(kind) for kind in ("missing_keys", "unexpected_keys")}
        if any(off.values()):
            report.drop()
            found = "; ".join(f"{kind.replace('_', ' ')}: {', '.join(sorted(keys)[:3])}"
                              f"{', ...' if len(keys) > 3 else ''}" for kind, keys in off.items() if keys)
            raise ModelLoadError(f"cannot load '{folder}': its weights do not match its config.json ({found}); was "
                                 "config.json edited? Restore it or save the model again")
    return model
