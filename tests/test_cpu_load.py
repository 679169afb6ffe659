"""Torch threads for a busy machine: count the cores other processes leave free, flag busy latencies."""

from __future__ import annotations

import time

from hf_rnn.comparison import cpu_load as cpu_load
from hf_rnn.comparison.schema import ModelResult
from hf_rnn.report.results import busy_latency_note


def _burn(cpu_seconds: float) -> None:
    """Run until this process has used ``cpu_seconds`` of CPU time (however busy the machine is)."""
    end = time.process_time() + cpu_seconds
    while time.process_time() < end:
        pass


def test_busy_and_own_cpu_time_grow_with_this_processs_work():
    cores = cpu_load.allowed_cores()
    busy, own = cpu_load._busy_seconds(cores), cpu_load._own_seconds()
    _burn(0.4)
    # the kernel counts in ticks (10 ms): allow a few
    assert cpu_load._own_seconds() - own >= 0.35
    assert cpu_load._busy_seconds(cores) - busy >= 0.35  # this process's work is on the cores it may use


def test_other_load_is_busy_time_less_this_processs_own_per_second(monkeypatch):
    clock = iter([100.0, 102.0])
    busy = iter([50.0, 53.0])  # 3 CPU seconds on the allowed cores in 2 s
    own = iter([7.0, 8.0])  # 1 of them this process's
    monkeypatch.setattr(cpu_load.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(cpu_load, "_busy_seconds", lambda cores: next(busy))
    monkeypatch.setattr(cpu_load, "_own_seconds", lambda: next(own))
    with cpu_load.OtherLoad() as load:
        pass
    assert load.cores == 1.0  # (3 - 1) CPU seconds of others over 2 s


def test_threads_leave_the_busy_cores_and_respect_the_users_setting(monkeypatch):
    for name in cpu_load.THREADS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(cpu_load, "allowed_cores", lambda: [0, 1])
    monkeypatch.setattr(cpu_load.psutil, "cpu_count", lambda logical=True: 2)
    monkeypatch.setattr(cpu_load, "quota_cores", lambda: None)
    monkeypatch.setattr(cpu_load, "other_busy_cores", lambda interval=0.5: 0.1)
    assert cpu_load.threads_to_use() == 2
    monkeypatch.setattr(cpu_load, "other_busy_cores", lambda interval=0.5: 0.9)
    assert cpu_load.threads_to_use() == 1
    monkeypatch.setattr(cpu_load, "other_busy_cores", lambda interval=0.5: 3.0)
    assert cpu_load.threads_to_use() == 1  # never none
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert cpu_load.threads_to_use() is None

    from hf_rnn.comparison.model_runs import child_environment

    monkeypatch.delenv("OMP_NUM_THREADS")
    env, threads = child_environment()
    assert threads == 1 and env["OMP_NUM_THREADS"] == "1"


def test_a_latency_measured_on_a_busy_machine_is_flagged():
    rows = [ModelResult.from_dict({"name": name, "family": family, "metrics": {}, "latency_other_load": load})
            for name, family, load in (("bilstm", "rnn", 0.02), ("smollm2", "llm", 0.96),
                                       ("majority class", "reference", None))]
    note = busy_latency_note(rows)
    assert "busy machine" in note and "smollm2 (1.0)" in note and "bilstm" not in note
    assert busy_latency_note(rows[:1] + rows[2:]) == ""


def test_a_containers_cpu_quota_caps_the_threads(monkeypatch, tmp_path):
    quota = tmp_path / "cpu.max"
    quota.write_text("150000 100000\n")  # docker --cpus=1.5
    assert cpu_load.quota_cores(str(quota)) == 1.5
    quota.write_text("max 100000\n")
    assert cpu_load.quota_cores(str(quota)) is None
    assert cpu_load.quota_cores(str(tmp_path / "missing")) is None
    monkeypatch.setattr(cpu_load, "allowed_cores", lambda: list(range(64)))
    monkeypatch.setattr(cpu_load.psutil, "cpu_count", lambda logical=True: 64)
    monkeypatch.setattr(cpu_load, "other_busy_cores", lambda interval=0.5: 0.0)
    monkeypatch.setattr(cpu_load, "quota_cores", lambda: 2.0)
    assert cpu_load.free_cores() == 2


def test_busy_time_is_read_per_cpu_number_with_offline_cpus_left_out(tmp_path):
    """With CPU 1 offline, /proc/stat's second CPU line is CPU 2: a process allowed on CPU 2 counts that line."""
    stat = tmp_path / "stat"
    tick = cpu_load.os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq steal guest guest_nice (guest is already inside user)
    stat.write_text(f"cpu  {3 * tick} 0 0 {9 * tick} 0 0 0 0 0 0\n"
                    f"cpu0 {tick} 0 0 {5 * tick} {7 * tick} 0 0 0 0 0\n"
                    f"cpu2 {tick} {tick} 0 {4 * tick} 0 0 0 0 {tick} 0\n"
                    "intr 12345 0 0\n")
    assert cpu_load._busy_seconds([2], str(stat)) == 2.0  # user + nice; idle and guest left out
    assert cpu_load._busy_seconds([0], str(stat)) == 1.0  # iowait is idle time
    assert cpu_load._busy_seconds([1], str(stat)) == 0.0  # offline: no line
    assert cpu_load._busy_seconds(None, str(stat)) == 3.0


def test_own_cpu_time_counts_a_finished_child(tmp_path):
    import subprocess
    import sys

    own = cpu_load._own_seconds()
    subprocess.run([sys.executable, "-c", "import time\nend = time.process_time() + 0.4\n"
                    "while time.process_time() < end: pass"], check=True)
    assert cpu_load._own_seconds() - own >= 0.35  # the waited-for child's 0.4 s (ticks of 10 ms: allow a few)
