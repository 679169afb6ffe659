"""The lecture notebooks: pairs ``notebooks/NN_name.py`` (percent format) and ``NN_name.ipynb``, kept in sync by
jupytext, linted, committed without outputs, and running top to bottom.

The fast tests check the pairs (the same cells in both files), ruff on them, each notebook's settings cell and
``hf_rnn.notebook.setup``. The ``e2e`` test runs each notebook in a fresh kernel of *this* Python (the venv's,
whatever ``python3`` kernelspecs the machine has), with its working directory and ``HF_RNN_NOTEBOOK_OUT`` in a
temporary folder, so nothing is written into the repository. They use the real built-in model and data: about 1
to 2 minutes each on a 2-core CPU (``pytest tests/test_notebooks.py --durations=0`` prints the times).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat
import pytest

from hf_rnn.notebook import setup

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
SCRIPTS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))  # their percent-format twins, the files to edit and review
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
    "07_recurrent_returns": {
        "text": ["loop == scan in float64, to a relative 1e-10: True", "loop == scan in float32, to a relative 1e-3: True",
                 "per training step", "equal to 1e-4: True", "same tokens: True", "SmolLM2 (self-attention)"],
        "images": 3,
    },
}


def _code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def test_every_notebook_has_expectations():
    assert len(NOTEBOOKS) == 7, [p.name for p in NOTEBOOKS]
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
    cells = _code_cells(nbformat.read(path, as_version=4))
    first = cells[0].source
    assert "Settings" in first and "# ---- where files go" in first and "HF_RNN_NOTEBOOK_OUT" in first
    # the shared set-up, with the notebook's own name for its output folder
    assert re.search(rf'^OUT, THREADS = setup\("{path.stem}"\)$', first, re.MULTILINE), first
    # every setting says how to scale it up: a comment on each assignment line before the output folder
    settings = first.split("# ---- where files go")[0]
    for line in settings.splitlines():
        if "=" in line and not line.lstrip().startswith("#") and not line.startswith(" "):
            assert "#" in line, f"{path.name}: setting without a comment: {line!r}"
    # torch is imported only after setup() has set OMP_NUM_THREADS
    code = "\n".join(cell.source for cell in cells)
    torch_imports = [m.start() for m in re.finditer(r"^(import|from) torch\b", code, re.MULTILINE)]
    assert all(position > code.index("OUT, THREADS = setup(") for position in torch_imports), path.name


# ------------------------------------------------------------------------------------------ the pairs


def _cells(path):
    return [(cell.cell_type, cell.source) for cell in jupytext.read(path).cells]


def test_every_notebook_has_its_pair():
    assert [p.stem for p in SCRIPTS] == [p.stem for p in NOTEBOOKS], "every NN_name.ipynb needs its NN_name.py, and back"
    assert not (NOTEBOOK_DIR / "_build.py").exists()  # the old generator, which overwrote edits made in Jupyter
    config = (NOTEBOOK_DIR / "jupytext.toml").read_text(encoding="utf-8")
    assert re.search(r'^formats = "ipynb,py:percent"$', config, re.MULTILINE), config


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_and_script_hold_the_same_cells(path):
    script = path.with_suffix(".py")
    text = script.read_text(encoding="utf-8")
    assert jupytext.formats.guess_format(text, ".py")[0] == "percent", f"{script.name}: not in percent format"
    in_notebook, in_script = _cells(path), _cells(script)
    assert sum(kind == "code" for kind, _ in in_script) >= 5
    for index, (a, b) in enumerate(zip(in_notebook, in_script)):
        assert a == b, (f"{path.stem}: cell {index} differs between the .ipynb and the .py; "
                        "jupytext --sync notebooks/*.py copies the newer file onto the older")
    assert len(in_notebook) == len(in_script), (
        f"{path.stem}: {len(in_notebook)} cells in the .ipynb, {len(in_script)} in the .py")


def test_the_pair_comparison_sees_a_one_sided_edit(tmp_path):
    script = SCRIPTS[0]
    text = script.read_text(encoding="utf-8")
    assert "SEED = 0 " in text
    edited = tmp_path / script.name
    edited.write_text(text.replace("SEED = 0 ", "SEED = 1 ", 1), encoding="utf-8")
    assert _cells(script) == _cells(NOTEBOOKS[0]) != _cells(edited)


def test_ruff_passes_on_the_notebooks():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is a dev dependency: pip install -e '.[dev]'"
    assert len(SCRIPTS) == 7
    files = [str(p.relative_to(ROOT)) for p in SCRIPTS + NOTEBOOKS]
    result = subprocess.run([ruff, "check", "--no-cache", *files], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All checks passed" in result.stdout


def test_ruff_checks_the_notebooks_cells_as_code(tmp_path):
    """What the test above relies on: a mistake in a cell of a percent-format .py is a ruff error."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    broken = tmp_path / SCRIPTS[0].name
    broken.write_text(SCRIPTS[0].read_text(encoding="utf-8") + "\n# %%\nprint(undefined_name)\n", encoding="utf-8")
    result = subprocess.run([ruff, "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"), str(broken)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "F821" in result.stdout, result.stdout + result.stderr


# ------------------------------------------------------------------------------------------ hf_rnn.notebook


@pytest.fixture
def torch_threads():
    import torch

    before = torch.get_num_threads()
    yield torch
    torch.set_num_threads(before)


def test_setup_follows_the_environment(tmp_path, monkeypatch, torch_threads):
    monkeypatch.setenv("HF_RNN_NOTEBOOK_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("HF_RNN_NOTEBOOK_THREADS", "2")
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    out, threads = setup("03_bidirectional")
    assert out == str(tmp_path / "out" / "03_bidirectional") and os.path.isdir(out)
    assert threads == 2 and torch_threads.get_num_threads() == 2 and os.environ["OMP_NUM_THREADS"] == "2"


def test_setup_defaults_to_a_temporary_folder_and_the_free_cores(monkeypatch, torch_threads):
    from hf_rnn.comparison import cpu_load as cpu_load

    monkeypatch.delenv("HF_RNN_NOTEBOOK_OUT", raising=False)
    monkeypatch.delenv("HF_RNN_NOTEBOOK_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "7")  # an inherited setting does not count: the free cores do
    monkeypatch.setattr(cpu_load, "allowed_cores", lambda: [0, 1])
    monkeypatch.setattr(cpu_load.psutil, "cpu_count", lambda logical=True: 2)
    monkeypatch.setattr(cpu_load, "other_busy_cores", lambda interval=0.5: 0.9)  # one core busy elsewhere
    monkeypatch.setattr(cpu_load, "quota_cores", lambda: None)  # whatever the test machine's container allows
    out, threads = setup("01_rnn_forward")
    try:
        assert os.path.isdir(out) and os.path.basename(out).startswith("hf_rnn_01_rnn_forward_")
        assert not Path(out).resolve().is_relative_to(ROOT)
        assert threads == 1 and torch_threads.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"
    finally:
        os.rmdir(out)
    monkeypatch.setattr(cpu_load, "other_busy_cores", lambda interval=0.5: 0.0)  # an idle machine: both cores
    out, threads = setup("01_rnn_forward")
    os.rmdir(out)
    assert threads == 2 and torch_threads.get_num_threads() == 2 and os.environ["OMP_NUM_THREADS"] == "2"
    monkeypatch.setenv("HF_RNN_NOTEBOOK_THREADS", "0")
    with pytest.raises(ValueError, match="HF_RNN_NOTEBOOK_THREADS"):
        setup("01_rnn_forward")


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
