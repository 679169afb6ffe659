"""The lecture's five tasks on real data, and ``load_task``."""

from __future__ import annotations

from typing import Any

from hf_rnn.errors import DataError
from hf_rnn.plugins import import_named_modules, same_definition
from hf_rnn.tasks.base import DIRECT, PROMPTED, SPLITS, Task, input_family
from hf_rnn.tasks.generation_kinds import ForecastingTask, TranslationTask
from hf_rnn.tasks.kinds import LanguageModelingTask, SequenceClassificationTask, TokenClassificationTask
from hf_rnn.tasks.pos import POSTask, brown_to_universal
from hf_rnn.tasks.sentiment import SentimentTask
from hf_rnn.tasks.textgen import TextGenerationTask
from hf_rnn.tasks.timeseries import TimeSeriesTask
from hf_rnn.tasks.translation import EnglishSpanishTask

TASKS: dict[str, type[Task]] = {
    "sentiment": SentimentTask,
    "pos": POSTask,
    "textgen": TextGenerationTask,
    "translation": EnglishSpanishTask,
    "timeseries": TimeSeriesTask,
}


KINDS = (SequenceClassificationTask, TokenClassificationTask, LanguageModelingTask, TranslationTask, ForecastingTask)
# modules that define more tasks, imported with this package (comma-separated); child processes such as
# `hf-rnn compare`'s training runs inherit it, so a task defined outside hf_rnn trains there too
TASK_MODULES_ENV = "HF_RNN_TASK_MODULES"


def register_task(cls: type[Task]) -> type[Task]:
    """Add a task under its ``name``; returns it, so it can decorate.

    A task is a subclass of one of the five kinds, or of a new kind: a ``Task`` subclass that names its
    ``kind`` and writes what the kind does (encoding, metrics, ``answers``; how the app shows it, its references
    and model card have defaults, ``Task.app_answer`` and friends). A task brings what makes it a task: its data
    (``prepare_builtin``), ``title``, ``lecture_examples``, ``default_models``, ``profiles`` and its recipes
    (``recipe_dir``); the comparison, the app and the CLI read them from the class. Import its module in every
    process that uses it: put the module's name in the ``HF_RNN_TASK_MODULES`` environment variable.
    """
    if not (isinstance(cls, type) and issubclass(cls, Task) and isinstance(getattr(cls, "kind", None), str)):
        raise DataError(f"{cls!r} is not a task: subclass one of {', '.join(k.__name__ for k in KINDS)}, or "
                        "write a new kind (a Task subclass that names its kind)")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise DataError(f"{cls.__name__}.name must be an identifier-like string; got {name!r}")
    # the same class defined again (a notebook cell run twice, a module reloaded) replaces the old one
    if not same_definition(TASKS.get(name, cls), cls):
        raise DataError(f"a task named {name!r} is already registered ({TASKS[name].__name__})")
    TASKS[name] = cls
    return cls


def _import_task_modules() -> None:
    import_named_modules(TASK_MODULES_ENV, DataError)


def kind_class(kind: str, task_name: str | None = None) -> type[Task]:
    """The class that speaks for a ``kind`` (a run's ``metrics.json`` names its task and kind): the registered
    task ``task_name`` when it is of that kind, else a built-in or registered class of that kind, else ``Task``
    (the generic defaults of a kind not known in this process)."""
    named = TASKS.get(task_name) if task_name is not None else None
    if named is not None and named.kind == kind:
        return named
    return next((c for c in (*KINDS, *TASKS.values()) if c.kind == kind), Task)


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
    from hf_rnn.arguments import path_argument, text_argument

    text_argument(name, "load_task: name")
    path_argument(source, "load_task: source", optional=True)  # a file, or a Hub dataset id
    return get_task_class(name).from_source(source, **options)


__all__ = [
    "DIRECT", "KINDS", "PROMPTED", "SPLITS", "TASKS", "TASK_MODULES_ENV", "Task", "register_task", "input_family",
    "get_task_class", "kind_class", "load_task", "brown_to_universal",
    "SequenceClassificationTask", "TokenClassificationTask", "LanguageModelingTask", "TranslationTask",
    "ForecastingTask", "SentimentTask", "POSTask", "TextGenerationTask", "EnglishSpanishTask", "TimeSeriesTask",
]


_import_task_modules()
