"""The GPU check runs end to end: its dry run on the CPU takes every step and writes the one JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_gpu_check_dry_run_writes_every_section(tmp_path):
    out = tmp_path / "gpu_check.json"
    env = {**os.environ, "DRY_RUN": "1", "PYTHON": sys.executable}
    done = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh"), str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert doc["device"] == "cpu" and doc["dry_run"] is True
    for section in ("tests", "llm_mfu", "rnn_vs_bare", "compare_sentiment_quick"):
        assert doc[section]["status"] == "ok", (section, doc[section])
    mfu = doc["llm_mfu"]["dtypes"]["fp32"]
    assert mfu["tokens_per_second"] > 0 and mfu["peak_flops_per_second"] > 0 and mfu["mfu"] > 0
    assert doc["rnn_vs_bare"]["ratio_median"] > 0
    rows = doc["compare_sentiment_quick"]["results"]["rows"]
    assert [r["name"] for r in rows] == ["bilstm", "majority class"]


@pytest.mark.e2e
def test_app_latency_publishes_what_the_readme_block_renders(tmp_path):
    """Two requests against a real `hf-rnn app` (the built-in LLM, an untrained BiLSTM): the published file
    renders as the Performance block's table."""
    from hf_rnn.report import performance as performance

    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "app_latency.py"), "--requests", "2",
                           "--warmup", "0", "--publish"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    doc = json.loads((tmp_path / "results" / "performance" / "app_latency.json").read_text())
    assert list(doc["dtypes"]) == ["float32"] and doc["dtypes"]["float32"]["latency_ms"]["requests"] == 2
    assert "| float32 |" in performance.performance_section(tmp_path / "results")
    wrong = subprocess.run([sys.executable, str(REPO / "benchmarks" / "app_latency.py"), "--llm-dtype", "float16"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 2 and "float32 and/or bfloat16, not float16" in wrong.stderr


def test_recurrent_speed_measures_all_three_and_publishes_what_the_block_renders(tmp_path):
    """A tiny run of the Mamba-2 / LSTM / Llama benchmark: every model trains and generates at every context, the
    ratios are against the LSTM of the same run, and the published file renders as the block's table."""
    from hf_rnn.report import performance as performance

    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "recurrent_speed.py"), "--width", "64",
                           "--vocab-size", "50", "--batch-size", "2", "--seq-len", "16", "--rounds", "2",
                           "--contexts", "4", "24", "--new-tokens", "3", "--gen-rounds", "1", "--publish"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    doc = json.loads((tmp_path / "results" / "performance" / "recurrent_speed.json").read_text())
    assert list(doc["training"]) == list(doc["generation"]) == ["mamba2", "lstm", "llama"]
    assert doc["training"]["lstm"]["speed_ratio_to_lstm"] == 1.0 and doc["generation"]["lstm"]["4"]["time_ratio_to_lstm"] == 1.0
    for name in ("mamba2", "llama"):
        assert doc["training"][name]["tokens_per_second"] > 0 and doc["training"][name]["speed_ratio_to_lstm"] > 0
        assert set(doc["generation"][name]) == {"4", "24"} and doc["generation"][name]["24"]["ms_per_token"] > 0
    assert doc["clock"] == "cpu" and doc["threads"] == 1 and "other_load_cores" in doc
    text = performance.performance_section(tmp_path / "results")
    assert "| Mamba-2 |" in text and "ms per token at 24 (× LSTM)" in text
    bad = subprocess.run([sys.executable, str(REPO / "benchmarks" / "recurrent_speed.py"), "--new-tokens", "1"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert bad.returncode == 2 and "--new-tokens must be at least 2" in bad.stderr
