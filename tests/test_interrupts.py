"""Interrupting a comparison or the app's training leaves no training child behind (``hf_rnn.training.child_process``).

A real ``hf-rnn compare`` runs in a subprocess on a tiny recipe that trains until stopped; once its training
child trains, the parent gets SIGTERM, SIGINT or SIGKILL, and the child must be gone within seconds, its run
resumable. The child's own watchdog is checked on its own too: with and without the kernel's parent-death
signal, the pipe from the parent alone ends it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from hf_rnn.runs.folder import latest_checkpoint
from hf_rnn.training import child_process as child_process
from hf_rnn.training.child_process import PARENT_ENV, Terminated, signals_as_interrupts, supervised

pytestmark = pytest.mark.skipif(os.name != "posix", reason="sends POSIX signals")

ROOT = Path(__file__).resolve().parents[1]
# tiny data and a model that trains until it is stopped (the quick profile's 120 s budget is the limit)
ENDLESS = ["task.max_train_examples=40", "task.max_validation_examples=6", "task.max_test_examples=7",
           "training.max_steps=100000", "training.batch_size=8", "training.eval_batch_size=8",
           "training.max_length=32", "training.eval_steps=2", "training.logging_steps=1", "training.warmup_steps=0",
           "model.hidden_size=8", "model.embedding_size=8", "model.init_embeddings=null"]
GONE_WITHIN = 5.0  # seconds a child may take to end once its parent is interrupted or gone


def _env() -> dict[str, str]:
    # no progress bars: a child that writes to the pipe of a dead parent dies of the broken pipe by chance,
    # which must not be what ends it here
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


def _wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds:g} s: {what}")


def _training_child(parent: psutil.Process) -> psutil.Process | None:
    for child in parent.children(recursive=True):
        try:
            if "hf_rnn.training.recipe_training" in child.cmdline():
                return child
        except psutil.NoSuchProcess:
            pass
    return None


def _ended(proc: psutil.Process) -> bool:
    """Whether it ended: gone, or a zombie (an orphan's new parent may be slow to reap it, or never will)."""
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _assert_gone(proc: psutil.Process, within: float = GONE_WITHIN) -> None:
    try:
        deadline = time.monotonic() + within
        while not _ended(proc) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _ended(proc), f"the child {proc.pid} outlived its parent by {within:g} s"
    finally:
        if not _ended(proc):
            proc.kill()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name)
def test_interrupting_a_comparison_ends_its_training_child(signum, tmp_path):
    """SIGTERM and SIGINT come as soon as the child exists (the parent stops it, whatever it is doing);
    SIGKILL, which the parent cannot answer, once the child trains and has a checkpoint: the child's own
    watchdog ends it, and the run can resume."""
    out = tmp_path / "report"
    parent = subprocess.Popen(
        [sys.executable, "-m", "hf_rnn.cli", "compare", "--task", "pos", "--models", "rnn", "--output-dir", str(out),
         "--no-zero-shot", *ENDLESS], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # a suite started in the background (`make test &`) runs with SIGINT ignored, which children inherit
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    child = None
    try:
        watched = psutil.Process(parent.pid)
        child = _wait_for(lambda: _training_child(watched), 60, "the training child starts")
        if signum == signal.SIGKILL:
            _wait_for(lambda: latest_checkpoint(out / "rnn"), 90, "the first checkpoint")
        parent.send_signal(signum)
        _, err = parent.communicate(timeout=30)
        _assert_gone(child)
    finally:
        if parent.poll() is None:
            parent.kill()
        if child is not None and not _ended(child):
            child.kill()
    expected = {signal.SIGTERM: (143, "hf-rnn compare: terminated (SIGTERM)"),
                signal.SIGINT: (130, "hf-rnn compare: interrupted"), signal.SIGKILL: (-9, "")}[signum]
    assert parent.returncode == expected[0] and expected[1] in err, (parent.returncode, err[-2000:])
    assert "Traceback" not in err
    if signum == signal.SIGKILL:
        # the killed run is resumable: the comparison continues such a run from its checkpoint
        assert latest_checkpoint(out / "rnn") is not None and not (out / "rnn" / "metrics.json").exists()
    else:
        assert not list(out.glob(".*.recipe.yaml"))  # the child's recipe file goes with it


def test_a_killed_parents_child_ends_by_the_pipe_alone_and_by_the_kernel_signal(tmp_path):
    """The child's two watchdogs, each on its own: the pipe (portable), and Linux's parent-death signal."""
    child_code = textwrap.dedent("""
        import sys, time
        import hf_rnn.training.child_process as c
        if sys.argv[1] == "pipe-only":
            c._signal_on_parent_death = lambda: False
        elif sys.argv[1] == "signal-only":
            c._end_at_end_of_file = lambda fd: None
        print(c.watch_parent(), flush=True)
        time.sleep(60)
    """)
    parent_code = textwrap.dedent("""
        import sys, time
        from hf_rnn.training.child_process import start
        proc = start([sys.executable, "-c", sys.argv[1], sys.argv[2]])
        print(proc.pid, flush=True)
        time.sleep(60)
    """)
    modes = ["pipe-only", "signal-only"] if sys.platform.startswith("linux") else ["pipe-only"]
    for mode in modes:
        parent = subprocess.Popen([sys.executable, "-c", parent_code, child_code, mode], env=_env(),
                                  stdout=subprocess.PIPE, text=True)
        child = psutil.Process(int(parent.stdout.readline()))
        try:
            assert parent.stdout.readline().strip() == "True", mode  # the child watches (it shares our stdout)
            parent.kill()
            parent.wait()
            _assert_gone(child)
        finally:
            if parent.poll() is None:
                parent.kill()


def test_a_parent_that_dies_before_the_child_watches_is_noticed(tmp_path):
    """The child only gets to watch once its parent is gone (the race prctl alone would lose): it ends."""
    code = "import time, hf_rnn.training.child_process as c; time.sleep(3); c.watch_parent(); time.sleep(60)"
    parent_code = ("import sys; from hf_rnn.training.child_process import start; "
                   f"print(start([sys.executable, '-c', {code!r}], stdout=-3, stderr=-3).pid, flush=True)")  # DEVNULL: run()
    # returns when the parent ends, not when the child closes the pipes it shares
    parent = subprocess.run([sys.executable, "-c", parent_code], env=_env(), capture_output=True, text=True,
                            check=True)
    child = psutil.Process(int(parent.stdout.strip()))
    assert not _ended(child)  # the parent is gone; the child is still sleeping, not yet watching
    _assert_gone(child, within=3 + GONE_WITHIN)


def test_supervised_stops_the_child_when_the_block_is_interrupted():
    with pytest.raises(KeyboardInterrupt):
        with supervised([sys.executable, "-c", "import time; time.sleep(60)"], grace=5) as proc:
            raise KeyboardInterrupt
    assert proc.returncode == -signal.SIGTERM and proc.stdin.closed
    # a child that ignores SIGTERM is killed after the grace period
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(1, flush=True); time.sleep(60)"
    started = time.monotonic()
    with pytest.raises(RuntimeError):
        with supervised([sys.executable, "-c", stubborn], grace=0.5, stdout=subprocess.PIPE) as proc:
            proc.stdout.readline()  # its handler is set
            raise RuntimeError("boom")
    assert proc.returncode == -signal.SIGKILL and time.monotonic() - started < 10


def test_the_apps_quick_training_stops_when_the_call_is_interrupted(tmp_path):
    from hf_rnn.app.quick_train import train_in_subprocess

    pid_file = tmp_path / "pid"
    argv = [sys.executable, "-c", f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
                                  "time.sleep(60)"]

    def progress(fraction, text):  # the app goes away while it trains
        if pid_file.exists() and pid_file.read_text():
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_in_subprocess(tmp_path / "runs", argv, None, tmp_path / "train.log", 60, progress)
    assert not psutil.pid_exists(int(pid_file.read_text()))  # ended and reaped


def test_watch_parent_does_nothing_in_a_process_not_started_by_start(monkeypatch):
    monkeypatch.delenv(PARENT_ENV, raising=False)
    assert child_process.watch_parent() is False


def test_sigterm_becomes_an_interrupt_only_inside_the_block_and_an_ignored_one_stays_ignored():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated) as caught:
        with signals_as_interrupts():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises in the main thread at once
    assert caught.value.signum == signal.SIGTERM and caught.value.name == "SIGTERM"
    assert isinstance(caught.value, KeyboardInterrupt) and signal.getsignal(signal.SIGTERM) is before
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        with signals_as_interrupts():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)


def test_an_interrupted_compare_runs_leaves_no_report_folder(tiny_run, tmp_path, monkeypatch):
    """``compare_runs`` makes its folder when it has something to write; interrupted meanwhile (here while
    drawing the figures), the folder it made is removed, and one that existed before stays."""
    from hf_rnn.comparison import compare as comparison

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(comparison, "comparison_figures", interrupted)
    fresh = tmp_path / "new" / "report"
    with pytest.raises(KeyboardInterrupt):
        comparison.compare_runs([tiny_run], fresh, latency_examples=2)
    assert not (tmp_path / "new").exists()
    kept = tmp_path / "kept"  # an empty folder the user made (one holding their files is refused outright)
    kept.mkdir()
    with pytest.raises(KeyboardInterrupt):
        comparison.compare_runs([tiny_run], kept, latency_examples=2)
    assert kept.is_dir()


def test_cli_compare_runs_interrupted_while_scoring_makes_no_folder(tiny_run, tmp_path, monkeypatch, capsys):
    from hf_rnn.cli import main as cli
    from hf_rnn.comparison import rows

    def terminated(*args, **kwargs):
        raise Terminated(signal.SIGTERM)

    monkeypatch.setattr(rows, "measure_latency", terminated)
    assert cli(["compare", "--runs", str(tiny_run), "--output-dir", str(tmp_path / "report")]) == 143
    assert capsys.readouterr().err.strip() == "hf-rnn compare: terminated (SIGTERM)"
    assert not (tmp_path / "report").exists()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A finished run folder of a 2-step POS BiLSTM with 8 hidden units (trained in-process)."""
    from hf_rnn.training.recipe_training import train_recipe
    from hf_rnn.training.recipes import load_recipe

    recipe = load_recipe("pos", "bilstm", overrides=[o for o in ENDLESS if "max_steps" not in o]
                         + ["training.max_steps=2", "training.progress_bar=false"])
    return train_recipe(recipe, tmp_path_factory.mktemp("tiny") / "run").path
