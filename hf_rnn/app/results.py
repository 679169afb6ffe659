"""What the app answers for one input: each side's :class:`Prediction`, both in a :class:`SideBySide`, and
:class:`AppError`, the one-line problem the person using the app can fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hf_rnn.errors import HfRnnError


class AppError(HfRnnError):
    """Something the person using the app can fix (an empty input, a model that is gone); one line."""


@dataclass
class Prediction:
    """One side of a comparison.

    ``output`` by task: sentiment ``{label: probability}``; pos ``[(word, tag), ...]``; textgen and translation
    the text; timeseries the forecast ``[value, ...]``. ``maps`` are the attention maps, or ``None`` with
    ``attention_note`` saying why. ``error`` is set (and ``output`` ``None``) when this side could not answer.
    """

    side: str
    value: str | None
    label: str
    output: Any = None
    maps: Any = None
    attention_note: str | None = None
    notices: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    family: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class SideBySide:
    """Both sides on one input; ``error`` is set when the input itself was refused (both sides empty)."""

    task: str
    a: Prediction
    b: Prediction
    notices: list[str] = field(default_factory=list)
    error: str | None = None
    series: dict[str, Any] | None = None  # timeseries: history, truth and where the window is

    def status_markdown(self) -> str:
        """A short report for the page: timings, notices and problems (Markdown)."""
        if self.error:
            return f"⚠️ {self.error}"
        lines = []
        timing = " · ".join(f"**{p.side}** {p.label}: {_ms(p.seconds)}" for p in (self.a, self.b) if p.ok)
        if timing:
            lines.append(timing)
        for notice in self.notices:
            lines.append(f"ℹ️ {notice}")
        for p in (self.a, self.b):
            if p.error:
                lines.append(f"⚠️ **{p.side}**: {p.error}")
            for notice in p.notices:
                lines.append(f"ℹ️ **{p.side}**: {notice}")
        return "\n\n".join(lines)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def first_line(error: BaseException) -> str:
    """The error's first line (at most 300 characters), or its type's name when it has no message."""
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


__all__ = ["AppError", "SideBySide", "Prediction", "first_line"]
