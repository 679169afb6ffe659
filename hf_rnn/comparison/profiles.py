"""Comparison profiles: how long every model of a comparison trains, and on how much data.

Each task declares its own (``Task.profiles``: ``quick`` and ``full``); ``hf_rnn.comparison.compare``
turns a profile into the same recipe overrides for every model.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Profile:
    """How long each model trains and on how much data; the same for every model, except what ``extra`` adds
    for one family (e.g. more epochs for a model that learns from nothing) or one model of the comparison
    (its name as in ``--models``; applied after its family's).

    The budget is either wall-clock ``seconds`` or, when ``epochs`` is set, passes over the
    training data (then the learning-rate schedule decays over the whole run).
    """

    name: str
    seconds: float | None  # matched wall-clock training budget per model (None: ``epochs``)
    train_examples: int | None = None
    validation_examples: int | None = None
    test_examples: int | None = None
    eval_steps: int | None = None  # evaluations during training (learning curves); None: recipe's
    latency_examples: int = 30
    extra: dict[str, list[str]] = field(default_factory=dict)  # family or model name -> more overrides
    epochs: float | None = None  # matched epochs instead of seconds
    models: tuple[str, ...] | None = None  # what a comparison under it trains by default (None: Task.default_models)
    # family or model name -> (most seeds, why): a model whose one run takes over an hour of one core is trained
    # once however many ``--seeds`` are asked for, and the report says why
    seed_limits: dict[str, tuple[int, str]] = field(default_factory=dict)

    def seeds_for(self, model: str, family: str, asked: int) -> tuple[int, str | None]:
        """How many seeds ``model`` (of ``family``) trains when ``asked`` are asked for, and why fewer (or None).

        A limit under the model's own name wins over its family's.
        """
        limit = self.seed_limits.get(model) or self.seed_limits.get(family)
        if limit is None or asked <= limit[0]:
            return asked, None
        return limit[0], limit[1]


PROFILE_NAMES = ("quick", "full")

__all__ = ["PROFILE_NAMES", "Profile"]
