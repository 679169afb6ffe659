"""How busy this machine's CPU cores are with other work, and how many torch threads that leaves.

PyTorch starts one thread per physical core. On a 2-core machine with another busy process, two torch threads
share the cores with it: every parallel region waits for its slower thread, and the threads spin in the
kernel waiting for each other, so two threads can run slower than one. ``threads_to_use`` counts the cores
this process may run on that other processes leave free, so a comparison trains and scores on those only;
``OtherLoad`` measures the same thing over a stretch of work, so a report can flag latencies measured on a
busy machine. A container's CPU quota caps the count. Linux counts per-core times (by CPU number, offline ones
left out); elsewhere psutil's numbers stand in.
"""

from __future__ import annotations

import os
import time

import psutil

__all__ = ["BUSY_CORES", "OtherLoad", "allowed_cores", "free_cores", "other_busy_cores", "quota_cores", "threads_to_use"]

THREADS_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
BUSY_CORES = 0.25  # other processes' work (cores) during a latency measurement above which a report flags it


def allowed_cores() -> list[int] | None:
    """The logical CPUs this process may run on (``taskset``, cgroups), or ``None`` where unknown."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def _busy_seconds(cores: list[int] | None, stat_path: str = "/proc/stat") -> float:
    """CPU seconds spent working since boot, on ``cores`` (all cores when ``None``).

    Niced work counts too: nice only ranks threads inside one scheduling group, so a low-priority job in another
    container, session or systemd slice still takes its full share of a core.
    """
    per_cpu = _linux_cpu_seconds(stat_path)
    if per_cpu is None:  # psutil lists online CPUs in order: their positions are their numbers when all are online
        per_cpu = {i: sum(t) - t.idle - getattr(t, "iowait", 0.0)
                   for i, t in enumerate(psutil.cpu_times(percpu=True))}
    return sum(seconds for cpu, seconds in per_cpu.items() if cores is None or cpu in cores)


def _linux_cpu_seconds(stat_path: str = "/proc/stat") -> dict[int, float] | None:
    """Busy seconds per CPU *number* from ``/proc/stat`` (``None`` off Linux).

    Read directly because ``/proc/stat`` skips offline CPUs: with CPU 1 offline, the second line is CPU 2, so a
    position in psutil's per-CPU list is not the CPU number that ``sched_getaffinity`` gives.
    """
    try:
        lines = open(stat_path, encoding="ascii").read().splitlines()
        tick = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, AttributeError):
        return None
    seconds = {}
    for line in lines:
        name, *fields = line.split()
        if not (name.startswith("cpu") and name[3:].isdigit()):
            continue
        # user nice system idle iowait irq softirq steal [guest guest_nice]: guest time is already in user/nice
        ticks = [int(f) for f in fields[:8]] + [0] * (8 - len(fields[:8]))
        seconds[int(name[3:])] = (sum(ticks) - ticks[3] - ticks[4]) / tick
    return seconds or None


def quota_cores(path: str = "/sys/fs/cgroup/cpu.max") -> float | None:
    """The cgroup v2 CPU quota in cores (``docker --cpus=2``: 2.0), or ``None`` where there is none."""
    try:
        quota, period = open(path, encoding="ascii").read().split()[:2]
    except (OSError, ValueError):
        return None
    return None if quota == "max" else int(quota) / int(period)


def _own_seconds() -> float:
    """CPU seconds of this process and its children, living and waited for."""
    # os.times counts waited-for children on every POSIX system (psutil's children fields are 0 on macOS)
    t = os.times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in psutil.Process().children(recursive=True):
        try:
            c = child.cpu_times()
            total += c.user + c.system
        except psutil.Error:
            pass
    return total


class OtherLoad:
    """Cores kept busy by other processes while a block runs, on the cores this process may use.

    Example::

        with OtherLoad() as load:
            measure()
        load.cores  # e.g. 0.97: about one core's worth of other work ran meanwhile
    """

    def __init__(self) -> None:
        self.cores_allowed = allowed_cores()
        self.cores = 0.0

    def __enter__(self) -> OtherLoad:
        self._start = (time.monotonic(), _busy_seconds(self.cores_allowed), _own_seconds())
        return self

    def __exit__(self, *exc) -> None:
        wall, busy, own = self._start
        elapsed = time.monotonic() - wall
        if elapsed > 0:
            other = (_busy_seconds(self.cores_allowed) - busy) - (_own_seconds() - own)
            self.cores = max(0.0, other / elapsed)


def other_busy_cores(interval: float = 0.5) -> float:
    """Cores' worth of work other processes did over ``interval`` seconds, on the cores this process may use."""
    with OtherLoad() as load:
        time.sleep(interval)
    return load.cores


def threads_to_use(interval: float = 0.5) -> int | None:
    """Torch threads for the next piece of work: the allowed cores that other processes leave free (at least 1).

    ``None`` when the user chose a thread count (``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` set): theirs stands.
    """
    if any(os.environ.get(name) for name in THREADS_ENV):
        return None
    return free_cores(interval)


def free_cores(interval: float = 0.5) -> int:
    """The physical cores this process may use that other processes leave free now (at least 1)."""
    cores = allowed_cores()
    n = len(cores) if cores is not None else (psutil.cpu_count(logical=True) or 1)
    n = min(n, psutil.cpu_count(logical=False) or n)  # torch's own default: one thread per physical core
    quota = quota_cores()
    if quota is not None:  # a container limited to fewer cores than the host shows
        n = min(n, max(1, int(quota)))
    # a core counts as taken when other work used more than half of it
    return max(1, n - int(other_busy_cores(interval) + 0.5))
