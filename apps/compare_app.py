"""Serve the comparison app: ``python apps/compare_app.py [--runs runs] [--port 7860]``.

The same as ``hf-rnn app``: a trained run and the built-in SmolLM2 zero-shot side by side, with both attention
maps, on http://127.0.0.1:7860/ (this machine only).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from hf_rnn.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["app", *sys.argv[1:]]))
