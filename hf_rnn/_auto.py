"""``import hf_rnn`` registers the RNN family with transformers' Auto classes, without importing either.

Registering needs the classes themselves (``AutoConfig.register(model_type, RNNConfig)``), hence torch and
``transformers.modeling_utils``: seconds, where ``import hf_rnn`` (and ``hf-rnn --help``) take milliseconds.
So the registration waits until the Auto classes exist: ``install()`` registers at once when
``transformers.models.auto.configuration_auto`` (which ``AutoConfig``, every ``AutoModel...``,
``AutoTokenizer`` and ``transformers.pipeline`` import) is already loaded, and otherwise puts a finder on
``sys.meta_path`` that watches transformers' own imports and registers as soon as that module is loaded.

It registers when the outermost transformers or hf_rnn import has finished, not in the middle of one:
``transformers.modeling_utils`` imports the Auto configs while it is itself half-initialised, and
``hf_rnn.models`` needs it whole; so does it the family modules it re-exports (``hf_rnn.families.rnn.modeling_rnn``
importing transformers must not make ``hf_rnn.models`` import it, half-run, again). After registering, the finder
removes itself.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import threading

# the module every Auto class and transformers.pipeline import first
AUTO_CONFIG_MODULE = "transformers.models.auto.configuration_auto"

# loaders made for one file each (what pip-installed transformers comes with)
_FILE_LOADERS = (importlib.machinery.SourceFileLoader, importlib.machinery.SourcelessFileLoader,
                 importlib.machinery.ExtensionFileLoader)
_state = threading.local()  # depth: how many transformers and hf_rnn modules this thread is executing, nested
# the packages whose imports are watched: transformers', and this package's own (it imports itself after them)
_WATCHED = ("transformers", "hf_rnn")


class _AfterTransformersImports:
    """A ``sys.meta_path`` finder that finds nothing itself: it wraps the loader of each ``transformers`` and
    ``hf_rnn`` module that another finder found, to try the registration when the outermost one has been executed."""

    def find_spec(self, name, path=None, target=None):
        if not any(name == package or name.startswith(package + ".") for package in _WATCHED):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                # a file loader serves one module: wrapping its exec_module affects nothing else (a loader
                # shared by many modules, e.g. a class, is left alone)
                if isinstance(spec.loader, _FILE_LOADERS):
                    _wrap(spec.loader)
                return spec
        return None


_FINDER = _AfterTransformersImports()


def _wrap(loader) -> None:
    exec_module = loader.exec_module

    def exec_then_register(module):
        _state.depth = getattr(_state, "depth", 0) + 1
        try:
            exec_module(module)
        finally:
            _state.depth -= 1
        if _state.depth == 0:
            _register_if_ready()

    loader.exec_module = exec_then_register


def _register_if_ready() -> None:
    if AUTO_CONFIG_MODULE not in sys.modules:
        return
    uninstall()  # once: a failure below surfaces here, not again at every later import
    if "hf_rnn.models" not in sys.modules:  # else it has registered, or will when its import ends
        importlib.import_module("hf_rnn.models")  # registers the family on import


def install() -> None:
    """Register the RNN family now if transformers' Auto classes are loaded, else as soon as they are."""
    if AUTO_CONFIG_MODULE in sys.modules:
        _register_if_ready()
    elif _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def uninstall() -> None:
    """Stop watching transformers' imports (the family is registered, or registering)."""
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)


def is_watching() -> bool:
    """Whether the registration still waits for transformers' Auto classes."""
    return _FINDER in sys.meta_path
