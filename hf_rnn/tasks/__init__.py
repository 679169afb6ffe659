"""The lecture's five tasks on real data, and ``load_task``."""

from __future__ import annotations

from typing import Any

from ..errors import DataError
from .base import SPLITS, Task, family_of, input_family
from .kinds import (
    ForecastingTask,
    LanguageModelingTask,
    SequenceClassificationTask,
    TokenClassificationTask,
    TranslationTask,
)
from .pos import POSTask, brown_to_universal
from .sentiment import SentimentTask
from .textgen import TextGenerationTask
from .timeseries import TimeSeriesTask
from .translation import EnglishSpanishTask

TASKS: dict[str, type[Task]] = {
    "sentiment": SentimentTask,
    "pos": POSTask,
    "textgen": TextGenerationTask,
    "translation": EnglishSpanishTask,
    "timeseries": TimeSeriesTask,
}


def get_task_class(name: str) -> type[Task]:
    try:
        return TASKS[name]
    except KeyError:
        raise DataError(f"unknown task {name!r}; choose one of: {', '.join(TASKS)}") from None


def load_task(name: str, source: str | None = None, **options: Any) -> Task:
    """Load task ``name`` from the built-in data (default), a local file, or a Hub dataset id.

    >>> task = load_task("sentiment")                      # built-in, cached by `hf-rnn fetch`
    >>> task = load_task("pos", "my_tags.conllu")          # any tag set
    >>> task = load_task("sentiment", "reviews.csv", text_column="review", label_column="stars")
    """
    return get_task_class(name).from_source(source, **options)


__all__ = [
    "SPLITS", "TASKS", "Task", "family_of", "input_family", "get_task_class", "load_task", "brown_to_universal",
    "SequenceClassificationTask", "TokenClassificationTask", "LanguageModelingTask", "TranslationTask",
    "ForecastingTask", "SentimentTask", "POSTask", "TextGenerationTask", "EnglishSpanishTask", "TimeSeriesTask",
]
