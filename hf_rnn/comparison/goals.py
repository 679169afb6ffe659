"""A goal: a bar one model of a comparison should clear, stated by its task (``Task.goals``) and checked
against the committed results (``hf_rnn.report.results.check_goal``) in the README's results block."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Goal:
    """A bar one model of a comparison should clear, e.g. the fine-tuned LLM's accuracy >= 0.905.

    ``role`` picks the row: ``rnn`` (the best RNN), ``llm`` (the best fine-tuned LLM), ``zero-shot``, or a row's
    exact name. ``bound`` is a number, or another role whose value of the same metric (plus ``margin``) is the
    bar. ``profiles`` limits the goal to some profiles.
    """

    role: str
    metric: str
    op: str  # ">=" or "<="
    bound: float | str
    margin: float = 0.0
    profiles: tuple[str, ...] = ("quick", "full")

    def describe(self) -> str:
        bar = f"{self.bound:g}" if isinstance(self.bound, float | int) else self.bound
        plus = f" {'+' if self.margin >= 0 else '-'} {abs(self.margin):g}" if self.margin else ""
        return f"{self.role} {self.metric} {self.op.replace('>=', '≥').replace('<=', '≤')} {bar}{plus}"


__all__ = ["Goal"]
