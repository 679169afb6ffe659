"""A run killed with ``kill -9`` mid-training and restarted with ``--resume`` ends exactly as an
uninterrupted run: same losses at every logged step, same best step, same test metrics.

The runs are real ``hf-rnn train`` processes (tiny BiLSTM, dropout on, so the RNG state
matters); the kill lands at whatever point the run has reached once a checkpoint at step 30
or later exists: maybe mid-step, maybe mid-checkpoint.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from hf_rnn.training import latest_checkpoint

ARGS = ["train", "--task", "sentiment", "--model", "bilstm",
        "model.embedding_size=16", "model.init_embeddings=null", "model.hidden_size=16", "model.classifier_hidden_sizes=[]",
        "model.dropout=0.3", "model.classifier_dropout=0.3",
        "task.max_train_examples=128", "task.max_validation_examples=16", "task.max_test_examples=32",
        "training.max_steps=60", "training.batch_size=8", "training.eval_steps=10", "training.logging_steps=5",
        "training.learning_rate=5e-3", "training.early_stopping_patience=null", "training.progress_bar=false",
        "training.log_with=null"]
# 128 / 8 = 16 steps per epoch: the run crosses three epoch boundaries and resumes mid-epoch


def command(out, *extra):
    return [sys.executable, "-m", "hf_rnn.cli", *ARGS, "--output-dir", str(out), *extra]


def events(out, kind):
    return [e for e in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if e["event"] == kind]


def test_kill_9_then_resume_ends_like_an_uninterrupted_run(tmp_path):
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    done = subprocess.run(command(whole), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]

    proc = subprocess.Popen(command(broken), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while True:
        ckpt = latest_checkpoint(broken) if broken.exists() else None
        if ckpt is not None and int(ckpt.name[5:]) >= 30:
            os.kill(proc.pid, signal.SIGKILL)
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the run ended (or stalled) before it could be killed mid-training")
        time.sleep(0.01)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    assert not (broken / "metrics.json").exists()  # it really was cut short
    (broken / "checkpoints" / ".tmp-step-9999999").mkdir(exist_ok=True)  # a half-written checkpoint: ignored

    resumed = subprocess.run(command(broken, "--resume"), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    a = json.loads((whole / "metrics.json").read_text())
    b = json.loads((broken / "metrics.json").read_text())
    assert b["training"]["resumed"] and not a["training"]["resumed"]
    assert b["test"] == a["test"]
    assert b["best"] == a["best"]
    assert b["training"]["steps"] == a["training"]["steps"] == 60
    assert b["training"]["final_loss"] == a["training"]["final_loss"]
    assert b["training"]["tokens"] == a["training"]["tokens"]
    assert [(e["step"], e["loss"]) for e in events(broken, "train")] == \
           [(e["step"], e["loss"]) for e in events(whole, "train")]
    assert [(e["step"], e["accuracy"]) for e in events(broken, "eval")] == \
           [(e["step"], e["accuracy"]) for e in events(whole, "eval")]
    assert len(events(broken, "resume")) == 1
    assert not (broken / "checkpoints").exists()
