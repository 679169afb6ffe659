"""The lecture notebooks (``notebooks/NN_*.ipynb``) run top to bottom, and are committed without outputs.

Each notebook runs in a fresh kernel of *this* Python (the venv's, whatever ``python3`` kernelspecs the
machine has), with its working directory and ``HF_RNN_NOTEBOOK_OUT`` in a temporary folder, so nothing is
written into the repository. They use the real built-in model and data, hence ``e2e``: about 1 to 2 minutes
each on a 2-core CPU (``pytest tests/test_notebooks.py --durations=0`` prints the times).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
KERNEL_NAME = "hf-rnn-notebook-tests"
CELL_TIMEOUT = 900  # seconds per cell: generous, for a machine busy with other jobs

# What each notebook must show besides running without errors: strings in its text outputs, and how many
# images (figures drawn in the notebook, or PNGs it displays) at least.
EXPECTED = {
    "01_rnn_forward": {
        "text": ["SimpleRNN equals the NumPy loop: True", "equations == fused model, to 1e-5: True",
                 "= the last y_t: True", "padded batch == each sentence alone: True"],
        "images": 2,
    },
    "02_gru_lstm": {
        "text": ["hf_rnn with keras_bias=True matches Keras for every cell: True", "equal: True",
                 "LSTM, forget bias 1 (Keras init)"],
        "images": 1,
    },
    "03_bidirectional": {
        "text": ["LSTM (unidirectional)", "BiLSTM (bidirectional)", "validation token accuracy",
                 "'Rest': ", "-> identical distributions"],  # the unidirectional tagger cannot tell them apart
        "images": 2,
    },
    "04_attention_translation": {
        "text": ["attention=none", "attention=additive", "test BLEU", "| attention | test BLEU | test chrF |"],
        "images": 4,
    },
    "05_transformers_llm": {
        "text": ["LlamaForCausalLM", "weights: (30, 9,", "fine-tuned:", "zero-shot: test"],
        "images": 3,
    },
    "06_comparison": {
        "text": ["| model | family | accuracy |", "| bilstm | rnn |", "| smollm2 | llm |"],
        "images": 3,
    },
}


def _code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def test_every_notebook_has_expectations():
    assert len(NOTEBOOKS) == 6, [p.name for p in NOTEBOOKS]
    assert {p.stem for p in NOTEBOOKS} == set(EXPECTED)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for index, cell in enumerate(_code_cells(nb)):
        assert cell.outputs == [], f"{path.name}: code cell {index} has outputs: strip them"
        assert cell.execution_count is None, f"{path.name}: code cell {index} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_first_code_cell_holds_the_settings(path):
    first = _code_cells(nbformat.read(path, as_version=4))[0].source
    assert "Settings" in first and "OUT = " in first and "HF_RNN_NOTEBOOK_OUT" in first
    # every setting says how to scale it up: a comment on each assignment line before the output folder
    settings = first.split("# ---- where files go")[0]
    for line in settings.splitlines():
        if "=" in line and not line.lstrip().startswith("#") and not line.startswith(" "):
            assert "#" in line, f"{path.name}: setting without a comment: {line!r}"


def test_notebooks_match_their_generator():
    sys.path.insert(0, str(NOTEBOOK_DIR))
    try:
        import _build
    finally:
        sys.path.remove(str(NOTEBOOK_DIR))
    for name in _build.NOTEBOOKS:
        assert (NOTEBOOK_DIR / name).read_text(encoding="utf-8") == _build.render(name), (
            f"{name} differs from notebooks/_build.py: edit the generator and run python notebooks/_build.py")


# ------------------------------------------------------------------------------------------ execution


@pytest.fixture(scope="session")
def kernel_spec_manager(tmp_path_factory):
    """A kernelspec that starts ``sys.executable`` (the venv's Python), found only by our kernel manager."""
    from jupyter_client.kernelspec import KernelSpecManager

    root = tmp_path_factory.mktemp("kernels")
    spec = root / KERNEL_NAME
    spec.mkdir()
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "hf_rnn tests", "language": "python"}))
    return KernelSpecManager(kernel_dirs=[str(root)], ensure_native_kernel=False)


def _outputs(nb):
    texts, images, errors = [], 0, []
    for cell in _code_cells(nb):
        for output in cell.outputs:
            if output.output_type == "stream":
                texts.append(output.text)
            elif output.output_type in ("execute_result", "display_data"):
                data = output.get("data", {})
                texts.append(str(data.get("text/plain", "")) + str(data.get("text/markdown", "")))
                images += "image/png" in data
            elif output.output_type == "error":
                errors.append(f"{output.ename}: {output.evalue}")
    return "\n".join(texts), images, errors


@pytest.mark.e2e
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch, kernel_spec_manager):
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    monkeypatch.setenv("HF_RNN_NOTEBOOK_OUT", str(tmp_path / "out"))  # the kernel inherits the environment
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    km = AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=kernel_spec_manager)
    client = NotebookClient(nb, km=km, timeout=CELL_TIMEOUT, kernel_name=KERNEL_NAME,
                            resources={"metadata": {"path": str(tmp_path)}})  # the kernel's working directory
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError (with the traceback) on the first failing cell
    seconds = time.perf_counter() - start
    print(f"{path.name}: {seconds:.0f} s")

    text, images, errors = _outputs(nb)
    assert not errors, errors
    expected = EXPECTED[path.stem]
    missing = [s for s in expected["text"] if s not in text]
    assert not missing, f"{path.name}: outputs lack {missing}"
    assert images >= expected["images"], f"{path.name}: {images} image(s), expected at least {expected['images']}"
    assert not (NOTEBOOK_DIR / "runs").exists()
