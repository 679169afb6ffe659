"""Two processes under ``accelerate launch`` (gloo, CPU) train as one process with the same global batch.

* loss curve: a 2-process run with 4 examples per process and a 1-process run with batch 8
  see the same 8 examples at every step (the sampler groups by optimizer step), so their
  logged losses agree to within 1e-4 at every step (float rounding only: the gradients
  averaged by DDP equal the 1-process mean for a per-example loss; observed ~1e-7);
* evaluation: ``gather_for_metrics`` counts each example once: 37 test and 21 validation
  sentences, neither divisible by 2 processes x 8 per batch, are scored exactly once; the per-example
  test predictions hold each example once, in order, with the 1-process run's answers.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import numpy as np

from hf_rnn.cli import main as cli
from hf_rnn.training.recipes import ACCELERATE_CONFIG_DIR

CONFIG = ACCELERATE_CONFIG_DIR / "cpu_2proc.yaml"
LOSS_TOLERANCE = 1e-4
ARGS = ["train", "--task", "sentiment", "--model", "bilstm",
        "model.embedding_size=16", "model.init_embeddings=null", "model.hidden_size=16", "model.classifier_hidden_sizes=[]",
        "model.dropout=0.0", "model.classifier_dropout=0.0",  # dropout masks differ per process
        "task.max_train_examples=64", "task.max_validation_examples=21", "task.max_test_examples=37",
        "training.max_steps=8", "training.eval_steps=4", "training.logging_steps=1", "training.eval_batch_size=8",
        "training.learning_rate=1e-2", "training.early_stopping_patience=null", "training.progress_bar=false",
        "training.log_with=null"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def events(out, kind):
    return [e for e in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if e["event"] == kind]


def test_two_cpu_processes_match_one_and_count_each_example_once(tmp_path):
    two, one = tmp_path / "two", tmp_path / "one"
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(CONFIG),
              "--main_process_port", str(free_port()), "-m", "hf_rnn.cli"]
    proc = subprocess.run([*launch, *ARGS, "--output-dir", str(two), "training.batch_size=4"],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert cli([*ARGS, "--output-dir", str(one), "training.batch_size=8"]) == 0

    m2 = json.loads((two / "metrics.json").read_text())
    m1 = json.loads((one / "metrics.json").read_text())
    assert m2["hardware"]["num_processes"] == 2 and m2["hardware"]["distributed_type"] == "MULTI_CPU"
    assert m2["training"]["global_batch_size"] == m1["training"]["global_batch_size"] == 8

    losses2 = [e["loss"] for e in events(two, "train")]
    losses1 = [e["loss"] for e in events(one, "train")]
    assert len(losses2) == len(losses1) == 8
    np.testing.assert_allclose(losses2, losses1, rtol=0, atol=LOSS_TOLERANCE)

    assert m2["test"]["num_examples"] == 37  # 37 = 2 x 8 x 2 + 5: the padded last batch is cut back
    assert [e["num_examples"] for e in events(two, "eval")] == [21, 21]
    assert m2["test"]["accuracy"] == m1["test"]["accuracy"]
    assert m2["training"]["tokens"] == m1["training"]["tokens"]  # every training token counted once
    assert proc.stdout.count("run folder:") == 1  # only the main process reports
    # the per-example predictions: each test example once, in order, the same answers as one process gives
    from hf_rnn.runs.predictions import read_predictions

    p2, p1 = read_predictions(two / "predictions.jsonl.gz"), read_predictions(one / "predictions.jsonl.gz")
    assert [r["index"] for r in p2.records] == list(range(37))
    assert [(r["gold"], r["pred"]) for r in p2.records] == [(r["gold"], r["pred"]) for r in p1.records]
    for r2, r1 in zip(p2.records, p1.records):
        np.testing.assert_allclose(r2["probs"], r1["probs"], rtol=0, atol=2e-3)
