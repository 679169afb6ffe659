"""The comparison app: one task, two models side by side, with both attention maps.

``service`` finds the models (trained run folders and the built-in SmolLM2 zero-shot), loads them into a
small LRU cache with one lock per model, and answers comparisons; it imports no gradio, so it is tested
directly. ``ui`` builds the Gradio Blocks on top of it (every function a named API endpoint), and
``hf-rnn app`` / ``python apps/compare_app.py`` serve it on 127.0.0.1.

>>> from hf_rnn.app import AppService
>>> service = AppService("runs")
>>> result = service.compare("sentiment", "run:sentiment-bilstm", "zero-shot", "Good, cheap food!")
>>> result.a.output, result.b.output        # label probabilities of each model
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hf_rnn.app.service import AppService, Prediction, SideBySide

__all__ = ["AppService", "SideBySide", "Prediction", "build_app", "launch"]


def __getattr__(name: str) -> Any:
    # lazy: ``hf_rnn.app.AppService`` must not import gradio, ``build_app`` must not load torch models
    if name in ("AppService", "SideBySide", "Prediction"):
        from hf_rnn.app import service

        return getattr(service, name)
    if name in ("build_app", "launch"):
        from hf_rnn.app import ui

        return getattr(ui, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
