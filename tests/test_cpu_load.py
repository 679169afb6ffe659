"""Torch threads for a busy machine: count the cores other processes leave free, flag busy latencies."""

from __future__ import annotations

import time

from hf_rnn import cpu_load
from hf_rnn.results import busy_latency_note


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

    from hf_rnn.comparison import _child_environment

    monkeypatch.delenv("OMP_NUM_THREADS")
    env, threads = _child_environment()
    assert threads == 1 and env["OMP_NUM_THREADS"] == "1"


def test_a_latency_measured_on_a_busy_machine_is_flagged():
    rows = [{"name": "bilstm", "latency_other_load": 0.02}, {"name": "smollm2", "latency_other_load": 0.96},
            {"name": "majority class", "latency_other_load": None}]
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
