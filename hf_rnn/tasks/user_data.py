"""The user's own data in one argument: ``--data FILE`` and the task's ``load_task`` options as flags.

``hf-rnn compare --task sentiment --data reviews.csv --text-column review --label-column stars`` and
``hf_rnn.compare("sentiment", data="reviews.csv", text_column="review", label_column="stars")`` both become
the recipe overrides ``task.source=...`` and ``task.options.NAME=...`` (``data_overrides``), so every model of
a comparison, ``hf-rnn train`` and a resumed run read the data the same way, and ``config.yaml`` records it.

Everything is checked here, before any model is built or any folder is made: the task's options (unknown
names with a "did you mean", types and ranges), a file that is not there, a column flag without ``--data``,
and flags that contradict a ``task.source=`` or ``task.options...=`` override given beside them.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hf_rnn.errors import ConfigError
from hf_rnn.tasks.options import Option, all_option_specs, check_options

__all__ = ["add_data_arguments", "data_overrides", "flag_options", "is_source_option", "unknown_keyword"]

# options that say how to read a source (its columns, a Hub configuration): they mean nothing without --data
_SOURCE_OPTIONS = ("subset", "revision", "source_lang", "target_lang")


def is_source_option(name: str) -> bool:
    """Whether task option ``name`` describes how a source is read (a column, a Hub configuration)."""
    return name.endswith("_column") or name in _SOURCE_OPTIONS


def data_overrides(task: str, data: str | os.PathLike | None = None, options: Mapping[str, Any] | None = None,
                   overrides: Sequence[str] = ()) -> list[str]:
    """The recipe overrides that make ``task`` read ``data`` with ``options``; checked, nothing is read yet.

    Args:
        task: a registered task name.
        data: a local file or a Hub dataset id (None: the built-in data).
        options: the task's ``load_task`` options (``text_column``, ``season``...).
        overrides: the other ``key=value`` overrides of the same call: a ``task.source=`` or a
            ``task.options.NAME=`` that says something else is an error, not a silent winner.

    Returns:
        ``["task.source=...", "task.options.NAME=...", ...]``, values written as JSON (which YAML reads back
        exactly: a file named ``2024.csv`` stays a string).
    """
    from hf_rnn.tasks import get_task_class
    from hf_rnn.tasks.sources import check_readable, looks_like_file

    options = dict(options or {})
    task_class = get_task_class(task)
    check_options(task_class, options)
    if data is None:
        needs = sorted(n for n in options if is_source_option(n))
        if needs:
            flags = ", ".join(f"--{_flag(n)}" for n in needs)
            raise ConfigError(f"{flags} say{'s' if len(needs) == 1 else ''} how to read a data file: give the file "
                              f"with --data FILE (data= from Python)")
    else:
        if not isinstance(data, (str, os.PathLike)) or not str(data).strip():
            raise ConfigError(f"data must be a file path or a Hub dataset id; got {data!r}")
        data = str(data)
        if looks_like_file(data):
            check_readable(Path(data).expanduser())
    given = _given_overrides(overrides)
    if data is not None and "task.source" in given and given["task.source"] != data:
        raise ConfigError(f"--data {data} and the override task.source={given['task.source']} both name the "
                          "data: keep one")
    for name, value in options.items():
        key = f"task.options.{name}"
        if key in given and given[key] != value:
            raise ConfigError(f"--{_flag(name)} {value} and the override {key}={given[key]} disagree: keep one")
    out = [f"task.source={json.dumps(data)}"] if data is not None else []
    variant = getattr(task_class, "variant_option", None)  # picks a part of the built-in data (a series)
    if data is not None and variant is not None and variant not in options:
        out.append(f"task.options.{variant}=null")  # the recipe's built-in choice: the file's own first part
    return out + [f"task.options.{name}={json.dumps(value)}" for name, value in options.items()]


def unknown_keyword(function_name: str, function, task_class, key: str) -> None:
    """Raise ``ConfigError`` when ``key``, passed to ``function`` through its ``**task_options``, is neither one of
    ``task_class``'s options nor close to them: the closest of the function's own arguments and the task's
    options is named (``compare(..., zero_shots=False)`` is a misspelled argument, not a task option)."""
    import difflib
    import inspect

    takes = all_option_specs(task_class)
    if key in takes:
        return
    own = [p for p in inspect.signature(function).parameters if p not in ("task_options", "kwargs")]
    close = difflib.get_close_matches(key, [*own, *takes], n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ConfigError(f"{function_name}() got an unknown keyword {key!r}: {hint}it is neither one of its arguments "
                      f"nor an option of task {task_class.name!r} ({', '.join(sorted(takes))})")


def _given_overrides(overrides: Sequence[str]) -> dict[str, Any]:
    """``{"task.source": value, "task.options.NAME": value}`` from ``key=value`` texts (a whole
    ``task.options={...}`` mapping counts for each of its keys)."""
    from hf_rnn.training.recipes import parse_override

    given: dict[str, Any] = {}
    for text in overrides:
        path, value = parse_override(text)
        key = ".".join(path)
        if key == "task.options" and isinstance(value, Mapping):
            given.update({f"task.options.{k}": v for k, v in value.items()})
        elif key == "task.source" or key.startswith("task.options."):
            given[key] = None if value is None else (value if key != "task.source" else str(value))
    return given


# =========================================================================== the command line


def _flag(name: str) -> str:
    return name.replace("_", "-")


def _every_option() -> dict[str, Option]:
    """The options of every registered task (the first task that declares a name describes it)."""
    from hf_rnn.tasks import TASKS

    found: dict[str, Option] = {}
    for task_class in TASKS.values():
        for name, spec in all_option_specs(task_class).items():
            found.setdefault(name, spec)
    return found


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """``--data FILE`` and one flag per task option (``--text-column``, ``--season``...) on ``parser``."""
    group = parser.add_argument_group(
        "your own data", "a local file (CSV, TSV, JSON/JSONL, Parquet, text; the task's formats) or a Hub "
                         "dataset id, and how to read it; each flag is the task's load_task option")
    group.add_argument("--data", metavar="FILE", help="train and test on this file (or Hub dataset id) instead "
                                                      "of the built-in data")
    for name, spec in sorted(_every_option().items()):
        kind = {int: int, bool: _parse_bool}.get(spec.type, str)
        group.add_argument(f"--{_flag(name)}", dest=f"task_option_{name}", type=kind, default=None,
                           metavar=spec.type.__name__.upper() if spec.type is not str else "NAME",
                           help=spec.help)


def flag_options(args: argparse.Namespace, task: str | None) -> dict[str, Any]:
    """The task options given as flags; a flag that ``task`` does not take is an error naming the ones it does."""
    given = {k[len("task_option_"):]: v for k, v in vars(args).items()
             if k.startswith("task_option_") and v is not None}
    if given and task is not None:
        from hf_rnn.tasks import get_task_class

        takes = all_option_specs(get_task_class(task))
        wrong = [n for n in given if n not in takes]
        if wrong:
            raise ConfigError(f"{', '.join('--' + _flag(n) for n in wrong)}: not an option of task {task!r}; its "
                              f"options are {', '.join('--' + _flag(n) for n in sorted(takes))}")
    return given
