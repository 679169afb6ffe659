"""``hf-rnn``: the command-line entry point.

Each subcommand lives in ``hf_rnn/commands/<name>.py`` with ``register(subparsers)``; its
parser's ``func`` does the work. Errors a user can act on (``HfRnnError``) print one
line and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from hf_rnn._version import __version__
from hf_rnn.errors import HfRnnError

COMMANDS = ("fetch", "tasks", "train", "compare", "results", "app")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hf-rnn",
        description="RNNs and a small LLM, side by side, on the same tasks.",
    )
    parser.add_argument("--version", action="version", version=f"hf-rnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f".commands.{name}", __package__)
        except ModuleNotFoundError as e:  # a command still being built is simply not offered
            if e.name == f"{__package__}.commands.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from hf_rnn.training.child_process import Terminated, signals_as_interrupts

    try:
        # SIGTERM/SIGHUP unwind like Ctrl+C: a comparison's training child is stopped, no half-made folder stays
        with signals_as_interrupts():
            return int(args.func(args) or 0)
    except HfRnnError as e:
        print(f"hf-rnn {args.command}: error: {e}", file=sys.stderr)
        return 2
    except Terminated as e:
        print(f"hf-rnn {args.command}: terminated ({e.name})", file=sys.stderr)
        return 128 + e.signum
    except KeyboardInterrupt:
        print(f"hf-rnn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
