"""The loaded models: a small LRU cache with one lock per model, and how a model choice is loaded into it.

Each model has its own lock, so requests for different models run at the same time and requests for one model
take turns (a model object is not safe to share between threads mid-forward).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hf_rnn.app.choices import ZERO_SHOT, ModelChoice, mtime
from hf_rnn.app.results import AppError, first_line


@dataclass
class LoadedModel:
    """A model in the cache, with the lock that every use of it must hold."""

    key: tuple
    model: Any
    tokenizer: Any
    # how the app asks it: "direct" (the task's own inputs: an RNN, a forecaster on values, a plug-in family's
    # model), "head" (a classification/tagging head on an LLM) or "causal" (a prompted causal LM)
    kind: str
    name: str
    context: int | None = None
    family: Any = None  # its hf_rnn.families.ModelFamily: the forward pass with attention maps (forward_with_maps)
    # the run's task options: the task answers with them (a tagger trained on each sentence twice, option
    # repeat_input, reads it twice here too); none for the zero-shot LLM
    task_options: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)


class ModelCache:
    """At most ``size`` loaded models, least recently used dropped first; each key is loaded once even when
    several requests ask for it at the same time (the others wait for that load)."""

    def __init__(self, size: int = 4) -> None:
        if size < 1:
            raise ValueError("the model cache needs room for at least one model")
        self.size = size
        self.loads = 0
        self._items: OrderedDict[tuple, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple, threading.Lock] = {}

    def get(self, key: tuple, loader: Callable[[], LoadedModel]) -> LoadedModel:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key]
            try:
                item = loader()
            finally:
                with self._lock:
                    self._loading.pop(key, None)
            with self._lock:
                self._items[key] = item
                self.loads += 1
                while len(self._items) > self.size:
                    self._items.popitem(last=False)  # a request still using it keeps its own reference
            return item

    def discard(self, predicate: Callable[[tuple], bool]) -> int:
        with self._lock:
            gone = [k for k in self._items if predicate(k)]
            for k in gone:
                del self._items[k]
        return len(gone)

    def keys(self) -> list[tuple]:
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def load_choice(cache: ModelCache, choice: ModelChoice, llm: str | None, llm_name: str,
                llm_dtype: str) -> LoadedModel:
    """The loaded model of ``choice``, from ``cache`` or loaded into it. A run is keyed by its folder and its
    weights' time, so a run trained again is loaded again."""
    if choice.value == ZERO_SHOT:
        key = ("llm", llm or "builtin", llm_dtype)
        return cache.get(key, lambda: load_zero_shot(key, llm, llm_name, llm_dtype))
    run = choice.run
    weights = max((mtime(p) for p in run.path.glob("*.safetensors")), default=0.0)
    key = ("run", str(run.path.resolve()), weights)
    return cache.get(key, lambda: load_run(key, run, llm_dtype))


def load_zero_shot(key: tuple, llm: str | None, llm_name: str, llm_dtype: str) -> LoadedModel:
    """The zero-shot causal LLM (``None``: the built-in one), with attention weights on."""
    from hf_rnn.families import LLM
    from hf_rnn.families.llm.llm import context_length, load_llm

    model, tokenizer = load_llm(llm, "causal-lm", output_attentions=True, dtype=llm_dtype)
    model.eval()
    return LoadedModel(key, model, tokenizer, "causal", f"{llm_name} (zero-shot)",
                       context=context_length(model), family=LLM)


def load_run(key: tuple, run, llm_dtype: str) -> LoadedModel:
    """A trained run's model and tokenizer; an LLM run in ``llm_dtype``."""
    from hf_rnn.families import family_named
    from hf_rnn.runs.run import RunError, load_run_model

    try:
        model, tokenizer = load_run_model(run, output_attentions=True)
    except RunError:
        raise
    except Exception as e:  # a damaged folder: torch/safetensors errors of every kind
        raise AppError(f"cannot load {run.path.name}: {first_line(e)}") from None
    family = family_named(run.family)
    kind, context = family.app_kind(run, model, llm_dtype)  # an LLM run is cast to llm_dtype here
    extra = {}
    if getattr(model, "answers_with_label_words", False):  # a prompt classifier: its causal LM answers the question
        model, extra["prompt classifier"] = model.lm, model
    return LoadedModel(key, model, tokenizer, kind, run.label, context=context, family=family,
                       task_options=dict(run.metrics.task.options), extra=extra)


__all__ = ["LoadedModel", "ModelCache", "load_choice", "load_run", "load_zero_shot"]
