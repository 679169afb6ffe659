"""What the two plug-in registries (tasks, model families) share: importing the modules an environment variable
names, and telling a class defined again from another class under a taken name."""

from __future__ import annotations

import importlib
import os

__all__ = ["import_named_modules", "same_definition"]


def import_named_modules(variable: str, error: type[Exception]) -> None:
    """Import each module named in ``$variable`` (comma-separated), so its ``register_*`` decorators run in
    every process (``hf-rnn compare``'s training children too); ``error`` names one that cannot be imported."""
    for module in filter(None, (m.strip() for m in os.environ.get(variable, "").split(","))):
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise error(f"{variable}: cannot import {module!r} ({e})") from None


def same_definition(a: type, b: type) -> bool:
    """Whether ``b`` is ``a`` or the same class defined again (a notebook cell run twice, a module reloaded)."""
    return a is b or (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)
