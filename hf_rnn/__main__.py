"""``python -m hf_rnn``: the ``hf-rnn`` command, for environments without the console script on PATH."""

import sys

from hf_rnn.cli import main

if __name__ == "__main__":
    sys.exit(main())
