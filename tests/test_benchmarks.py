"""The GPU check runs end to end: its dry run on the CPU takes every step and writes the one JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
