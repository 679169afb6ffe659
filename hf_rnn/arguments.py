"""Type checks of the public functions' arguments, each failure one ``InputError`` naming the function and argument.

Without them a wrong type fails far from the call, or not at all: a ``str`` where a list is expected is read
letter by letter (``compare("sentiment", "bilstm")`` once asked for a model called ``'b'``), a number where a path
is expected fails inside ``os`` with a ``TypeError``. No torch here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from hf_rnn.errors import InputError

__all__ = ["checked_texts", "instance_argument", "list_argument", "path_argument", "text_argument"]


def _shown(value: Any) -> str:
    """``value``'s type and a short repr, for a one-line message."""
    text = repr(value)
    return f"{type(value).__name__} ({text[:60] + '...' if len(text) > 60 else text})"


def path_argument(value: Any, where: str, *, optional: bool = False) -> Any:
    """``value`` when it is a path (``str`` or ``os.PathLike``; ``None`` too when ``optional``), else an
    ``InputError`` naming ``where`` (e.g. ``"compare: output_dir"``)."""
    if (value is None and optional) or isinstance(value, (str, os.PathLike)):
        return value
    raise InputError(f"{where} must be a path (str or os.PathLike), not {_shown(value)}")


def text_argument(value: Any, where: str, *, optional: bool = False) -> Any:
    """``value`` when it is a ``str`` (``None`` too when ``optional``), else an ``InputError`` naming ``where``."""
    if (value is None and optional) or isinstance(value, str):
        return value
    raise InputError(f"{where} must be a str, not {_shown(value)}")


def instance_argument(value: Any, kind: type | tuple[type, ...], where: str, what: str, *,
                      optional: bool = False) -> Any:
    """``value`` when it is an instance of ``kind`` (``None`` too when ``optional``), else an ``InputError``
    naming ``where`` and ``what`` it should be (e.g. ``"a Task (hf_rnn.load_task)"``)."""
    if (value is None and optional) or isinstance(value, kind):
        return value
    raise InputError(f"{where} must be {what}, not {_shown(value)}")


def list_argument(value: Any, where: str, what: str = "names", *, paths: bool = False,
                  optional: bool = False) -> list | None:
    """``value`` as a list whose items are ``str`` (or paths, with ``paths``); ``None`` kept when ``optional``.

    A single ``str`` (or path) is refused rather than read as its letters; so is anything not iterable.
    """
    if value is None and optional:
        return None
    if isinstance(value, (str, bytes, os.PathLike)):
        raise InputError(f"{where} must be a list of {what}, not a single {type(value).__name__}: pass "
                         f"[{str(value)[:60]!r}]")
    if not isinstance(value, Iterable):
        raise InputError(f"{where} must be a list of {what}, not {_shown(value)}")
    items = list(value)
    allowed = (str, os.PathLike) if paths else (str,)
    for i, item in enumerate(items):
        if not isinstance(item, allowed):
            kind = "a path (str or os.PathLike)" if paths else "a str"
            raise InputError(f"{where}[{i}] must be {kind}, not {_shown(item)}")
    return items


def checked_texts(texts: Any, where: str) -> Iterator[str]:
    """The items of ``texts`` (any iterable of ``str``, read once, lazily), each checked as it comes; a single
    ``str`` or a non-iterable is refused at once."""
    if isinstance(texts, (str, bytes)):
        raise InputError(f"{where} must be an iterable of texts, not a single {type(texts).__name__}: pass "
                         f"[{texts[:60]!r}]")
    if not isinstance(texts, Iterable):
        raise InputError(f"{where} must be an iterable of texts, not {_shown(texts)}")

    def each() -> Iterator[str]:
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise InputError(f"{where}[{i}] must be a str, not {_shown(text)}")
            yield text

    return each()
