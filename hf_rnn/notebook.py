"""The lecture notebooks' shared set-up (``notebooks/NN_*.py``): where files go, CPU threads, quiet libraries.

Each notebook's first cell calls :func:`setup` after its own settings, before it imports ``torch``::

    OUT, THREADS = setup("01_rnn_forward")
    import torch

    print(f"files go to {OUT}; {THREADS} CPU thread(s)")
"""

from __future__ import annotations

import os
import tempfile
import warnings
from typing import NamedTuple

OUT_VARIABLE = "HF_RNN_NOTEBOOK_OUT"
THREADS_VARIABLE = "HF_RNN_NOTEBOOK_THREADS"


class NotebookSetup(NamedTuple):
    out: str  # the folder for the notebook's run folders and figures
    threads: int  # PyTorch's CPU threads


def output_folder(name: str) -> str:
    """``$HF_RNN_NOTEBOOK_OUT/<name>`` when that variable is set (the tests set it), else a fresh temporary
    folder: never a folder in the repository. The folder exists on return."""
    root = os.environ.get(OUT_VARIABLE)
    out = os.path.join(root, name) if root else tempfile.mkdtemp(prefix=f"hf_rnn_{name}_")
    os.makedirs(out, exist_ok=True)
    return out


def setup(name: str) -> NotebookSetup:
    """Set up a notebook's kernel and return its output folder and thread count.

    - the output folder: :func:`output_folder` of ``name``;
    - PyTorch's CPU threads: ``$HF_RNN_NOTEBOOK_THREADS``, else the cores other processes leave free now
      (``hf_rnn.comparison.cpu_load.free_cores``: all of them on an idle machine, fewer on a busy one, where threads
      waiting for each other can make every step many times slower). ``OMP_NUM_THREADS`` is set too, before
      ``torch`` is imported when the notebook calls this first, and it reaches subprocesses
      (``hf_rnn.compare``'s training runs);
    - no progress bars from ``datasets`` and ``transformers``, and only ``transformers``' errors;
    - matplotlib's inline backend when running in IPython (the ``%matplotlib inline`` magic).
    """
    out = output_folder(name)
    if os.environ.get(THREADS_VARIABLE):
        threads = int(os.environ[THREADS_VARIABLE])
    else:
        from hf_rnn.comparison.cpu_load import free_cores

        threads = free_cores()
    if threads < 1:
        raise ValueError(f"{THREADS_VARIABLE} must be a positive number of threads, not {threads}")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tqdm's "IProgress not found" in a kernel without ipywidgets
        import datasets
        import torch
        import transformers

    torch.set_num_threads(threads)
    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    _matplotlib_inline()
    return NotebookSetup(out, threads)


def _matplotlib_inline() -> None:
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python (e.g. `python notebooks/01_rnn_forward.py`): matplotlib's default
        return
    shell = get_ipython()
    if shell is not None:
        shell.run_line_magic("matplotlib", "inline")
