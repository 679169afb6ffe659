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
    from hf_rnn import performance

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
