"""The package's version, in a module of its own: ``hf_rnn`` re-exports it, and modules that record it
(``run_schema``) import it from here, not through ``hf_rnn``'s lazy exports, which import them in turn."""

__version__ = "0.1.0"
