"""Errors a user can act on.

Each carries one line that names the problem and the fix. The CLI prints it and exits
with status 2, no traceback; Python callers can catch ``HfRnnError``.
"""


class HfRnnError(ValueError):
    """Base class of the errors this package raises for bad input or missing assets."""


class AssetError(HfRnnError):
    """A built-in asset cannot be fetched, verified or converted."""


class DataError(HfRnnError):
    """A data source (file, Hub id, column mapping) cannot be turned into a task."""


class ConfigError(HfRnnError):
    """A run configuration key or value is wrong."""


class ModelLoadError(HfRnnError):
    """A model name or folder cannot be loaded as the family asks (missing, unreachable, wrong kind)."""


class InputError(HfRnnError):
    """An argument of a library call is wrong: its type, its range, or its size (e.g. a text too long to map)."""


class RunError(HfRnnError):
    """A run folder is missing, incomplete, or does not match the others (its ``metrics.json`` included)."""


class TrainingError(HfRnnError):
    """Training failed on the way (the loss or a metric stopped being a finite number): no model is saved as a
    finished run."""
