"""The options a task accepts (``load_task(name, source, **options)``), checked before anything is loaded.

Each task class declares ``option_specs``; a subclass adds to its parents'. An unknown key is an error with a
"did you mean", and every value is checked for its type and range, so ``season=0`` or ``context_length="abc"``
fails at ``load_task`` with one line instead of deep inside training.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from hf_rnn.errors import DataError


@dataclass(frozen=True)
class Option:
    """One task option: ``str``, ``bool`` or ``int`` (with an optional range); ``None`` means "the default"."""

    type: type
    help: str
    minimum: int | None = None
    maximum: int | None = None

    def describe(self) -> str:
        if self.type is bool:
            return "true or false"
        if self.type is int:
            if self.minimum is not None and self.maximum is not None:
                return f"an integer from {self.minimum} to {self.maximum}"
            return f"an integer >= {self.minimum}" if self.minimum is not None else "an integer"
        return "a non-empty string"

    def check(self, task: str, name: str, value: Any) -> None:
        if value is None:
            return
        if self.type is bool:
            ok = isinstance(value, bool)
        elif self.type is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
            ok = ok and (self.minimum is None or value >= self.minimum)
            ok = ok and (self.maximum is None or value <= self.maximum)
        else:
            ok = isinstance(value, str) and bool(value.strip())
        if not ok:
            raise DataError(f"{task}: option {name} must be {self.describe()} ({self.help}); got {value!r}")


def all_option_specs(task_class) -> dict[str, Option]:
    """The options of ``task_class`` and its bases (a subclass's spec wins)."""
    specs: dict[str, Option] = {}
    for klass in reversed(task_class.__mro__):
        specs.update(vars(klass).get("option_specs", {}))
    return specs


def check_options(task_class, options: dict[str, Any]) -> None:
    """Raise ``DataError`` for an unknown option (with the closest known name) or a bad value."""
    specs = all_option_specs(task_class)
    for name, value in options.items():
        if name not in specs:
            close = difflib.get_close_matches(name, specs, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise DataError(f"{task_class.name}: unknown option {name!r}; {hint}"
                            f"the options are: {', '.join(sorted(specs))}")
        specs[name].check(task_class.name, name, value)
