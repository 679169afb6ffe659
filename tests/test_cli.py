"""``python -m hf_rnn`` behaves as the ``hf-rnn`` console script."""

from __future__ import annotations

import subprocess
import sys

from hf_rnn.cli import COMMANDS


def run_module(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hf_rnn", *args], capture_output=True, text=True, timeout=120)


def test_help_lists_every_command():
    proc = run_module("--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: hf-rnn")
    for command in COMMANDS:
        assert f"    {command} " in proc.stdout, f"{command!r} missing from --help"


def test_an_unknown_command_exits_2_and_names_it():
    proc = run_module("trian")
    assert proc.returncode == 2
    assert "invalid choice: 'trian'" in proc.stderr
    assert proc.stdout == ""
