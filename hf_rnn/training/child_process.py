"""Child processes that end with their parent: the training children of ``compare`` and of the app.

A comparison, and the app's "train a quick one", train in a child process (``python -m hf_rnn.training.recipe_training``).
However the parent ends, the child must not go on training (for hours, in the ``full`` profile) with parent 1.
Two mechanisms, because neither covers every case alone:

- The parent (``supervised``): whatever leaves the block (an error, ``KeyboardInterrupt`` from Ctrl+C or a
  notebook's interrupt, SIGTERM or SIGHUP turned into ``Terminated`` by ``signals_as_interrupts``), the child
  is terminated, given ``GRACE_SECONDS``, then killed. This needs the parent to run its ``finally``: it
  cannot after SIGKILL, a crash, or SIGTERM with its default action (a notebook kernel).
- The child (``watch_parent``, the first thing its entry point does) notices a parent that is gone, twice over:

  1. A pipe, the portable and complete one: the parent holds the write end of the child's stdin and never
     writes to it. The kernel closes it when the parent process ends, however it ends (SIGKILL included),
     and a thread of the child blocked reading it wakes with end-of-file. Immediate, no polling, no pid to
     be reused or adopted by a subreaper, Linux, macOS and Windows alike; and a parent that died before the
     child got to watch is seen at the first read. (The write end is not inherited by other children:
     Python's pipes are close-on-exec and ``subprocess`` closes other descriptors.)
  2. On Linux, ``prctl(PR_SET_PDEATHSIG, SIGTERM)``: the kernel itself signals the child when its parent
     dies, even while the child's Python is stuck in a long C call that holds the GIL, where no watchdog
     thread runs. Alone it would not do: Linux only, blind to a parent that died before the call, and it
     fires when the *thread* that started the child ends (here that thread waits for the child, so it ends
     after it).

  Polling ``os.getppid()`` was the other candidate: it lags by its period, and an orphan adopted by a
  subreaper (systemd, tini) gets a parent other than 1, so the original pid must be kept and compared; the
  pipe has neither problem.

A killed child leaves its run resumable: checkpoints are written atomically and ``metrics.json``, which marks
a run finished, is written last; the comparison resumes such a run from its last checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence

__all__ = ["GRACE_SECONDS", "PARENT_ENV", "Terminated", "signals_as_interrupts", "start", "stop", "supervised",
           "watch_parent"]

# set by ``start`` in the child's environment: its stdin is the pipe from the parent that ``watch_parent`` watches
PARENT_ENV = "HF_RNN_PARENT_PIPE"
# how long a child may take to end after SIGTERM before it is killed (its atomic writes are short)
GRACE_SECONDS = 10.0
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread like Ctrl+C (``signals_as_interrupts``), so that every
    ``finally`` and ``except KeyboardInterrupt`` runs: children are stopped, half-made folders removed."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


def _raise_terminated(signum, frame) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise ``Terminated`` in the main thread instead of ending the
    process at once. Only signals left at their default action are changed (one the process ignores, as under
    ``nohup``, stays ignored; a handler someone installed stays); the previous handlers are back afterwards.
    Outside the main thread (where Python cannot set handlers) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)  # no SIGHUP on Windows
        if signum is not None and signal.getsignal(signum) is signal.SIG_DFL:
            previous[signum] = signal.signal(signum, _raise_terminated)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# =========================================================================== the parent's side


def start(cmd: Sequence[str], *, env: dict[str, str] | None = None, **popen) -> subprocess.Popen:
    """``subprocess.Popen(cmd, **popen)`` with the child's stdin a pipe that this process holds open while it
    lives, and ``PARENT_ENV`` set, so that a child calling ``watch_parent`` ends when this process does."""
    env = dict(os.environ if env is None else env)
    env[PARENT_ENV] = "stdin"
    return subprocess.Popen(list(cmd), stdin=subprocess.PIPE, env=env, **popen)


def stop(proc: subprocess.Popen, grace: float = GRACE_SECONDS) -> None:
    """End ``proc`` if it still runs: SIGTERM, up to ``grace`` seconds, then SIGKILL. An interrupt while
    waiting (a second Ctrl+C) kills it at once and goes on."""
    if proc.poll() is not None:
        return
    try:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    except BaseException:
        proc.kill()
        raise


@contextlib.contextmanager
def supervised(cmd: Sequence[str], *, grace: float = GRACE_SECONDS, **popen) -> Iterator[subprocess.Popen]:
    """``start(cmd, **popen)`` for the block; however the block ends, the child does not outlive it
    (``stop``). Wait for the child inside the block to let it finish."""
    proc = start(cmd, **popen)
    try:
        yield proc
    finally:
        try:
            stop(proc, grace)
        finally:
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()


# =========================================================================== the child's side


def watch_parent() -> bool:
    """In a child started by ``start``: end this process when its parent ends (see the module). Returns
    whether it watches; ``False`` and nothing done in a process not started so (``PARENT_ENV`` unset), e.g.
    ``python -m hf_rnn.training.recipe_training`` typed in a shell. The variable is removed, so that this process's
    own children do not watch a pipe that is not theirs."""
    if os.environ.pop(PARENT_ENV, None) != "stdin":
        return False
    _signal_on_parent_death()
    threading.Thread(target=_end_at_end_of_file, args=(0,), name="hf-rnn-parent-watch", daemon=True).start()
    return True


def _signal_on_parent_death() -> bool:
    """Linux: have the kernel send SIGTERM to this process when its parent dies. Whether that was set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0
    except (OSError, AttributeError):  # no prctl in this libc
        return False


def _end_at_end_of_file(fd: int) -> None:
    """Read ``fd`` until end-of-file (the parent writes nothing; all its copies closed: it is gone), then end
    this process as SIGTERM would: at once, without ``finally`` blocks that could hang. Nothing is printed:
    stdout may be a pipe to the parent that is gone."""
    try:
        while os.read(fd, 4096):
            pass
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE_SECONDS)  # a SIGTERM handler installed by a library did not end the process
    os._exit(128 + int(signal.SIGTERM))
