"""A run killed with ``kill -9`` mid-training and restarted with ``--resume`` ends exactly as an
uninterrupted run: same losses at every logged step, same best step, same test metrics.

The runs are real ``hf-rnn train`` processes (tiny BiLSTM, dropout on, so the RNG state
matters); the kill lands at whatever point the run has reached once a checkpoint at step 30
or later exists: maybe mid-step, maybe mid-checkpoint.

A resume that cannot work changes nothing (tiny in-process runs): a recipe change the checkpoint cannot take
(``hf_rnn.training.resume_rules``) is one error with the run folder byte for byte as it was, and a plain resume works after
it; a damaged last checkpoint falls back to the one before it, saying so; none intact is one clear error.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml

from hf_rnn.training.loop import latest_checkpoint

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


# =========================================================================== a resume that cannot work changes nothing
# Tiny in-process runs (seconds): a run of 6 steps evaluated and checkpointed every 2, its checkpoints kept; each
# test copies it and removes metrics.json, as if the run had been killed after its last checkpoint.

TINY = ["train", "--task", "sentiment", "--model", "bilstm",
        "model.embedding_size=16", "model.init_embeddings=null", "model.hidden_size=16", "model.classifier_hidden_sizes=[]",
        "task.max_train_examples=32", "task.max_validation_examples=8", "task.max_test_examples=8",
        "training.max_steps=6", "training.batch_size=8", "training.eval_steps=2", "training.logging_steps=1",
        "training.learning_rate=5e-3", "training.progress_bar=false", "training.log_with=null",
        "training.keep_checkpoints=true"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished tiny run with its checkpoints (steps 2, 4 and 6: the last, the one before it, and the best)."""
    from hf_rnn.cli import main as cli

    out = tmp_path_factory.mktemp("resume") / "run"
    assert cli([*TINY, "--output-dir", str(out)]) == 0
    return out


@pytest.fixture
def killed(finished, tmp_path):
    """A copy of the finished run as a kill after its step-6 checkpoint leaves it (no metrics.json)."""
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    (out / "metrics.json").unlink()
    return out


def _snapshot(out):
    """Every file of the run folder and its bytes."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def _resume(out, *overrides):
    from hf_rnn.cli import main as cli

    return cli(["train", "--output-dir", str(out), "--resume", *overrides])


def test_a_run_keeps_its_last_two_checkpoints_and_its_best(finished):
    from hf_rnn.runs.folder import checkpoints

    best = json.loads((finished / "metrics.json").read_text())["best"]["step"]
    names = {p.name for p in checkpoints(finished)}
    assert {"step-0000006", "step-0000004", f"step-{best:07d}"} == names


def test_resume_refuses_a_model_change_and_changes_nothing_then_a_plain_resume_works(killed, finished, capsys):
    before = _snapshot(killed)
    assert _resume(killed, "model.hidden_size=64", "training.batch_size=4", "training.max_steps=8") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("hf-rnn train: error: --resume cannot change ")
    # every refused key in the one error, with both values; the allowed one (max_steps) is not refused
    assert "model.hidden_size (16 in the run, 64 asked)" in err and "training.batch_size (8 in the run, 4 asked)" in err
    assert "training.max_steps (" not in err
    assert _snapshot(killed) == before  # config.yaml byte for byte, the log, the checkpoints

    assert _resume(killed) == 0
    a = json.loads((finished / "metrics.json").read_text())
    b = json.loads((killed / "metrics.json").read_text())
    assert b["training"]["resumed"] and b["training"]["steps"] == 6
    assert b["test"] == pytest.approx(a["test"], abs=1e-6)  # resumed at its last step: it only scores


def test_resume_may_extend_the_budget_and_config_yaml_records_it(killed, capsys):
    before = (killed / "config.yaml").read_text()
    assert _resume(killed, "training.max_steps=8", "training.logging_steps=2") == 0, capsys.readouterr().err
    metrics = json.loads((killed / "metrics.json").read_text())
    assert metrics["training"]["steps"] == 8 and metrics["training"]["stopped_because"] == "max_steps"
    after = yaml.safe_load((killed / "config.yaml").read_text())
    assert after["training"]["max_steps"] == 8 and after["training"]["logging_steps"] == 2
    assert after["model"] == yaml.safe_load(before)["model"]
    assert [(e["step"], e["checkpoint"]) for e in events(killed, "resume")] == [(6, "step-0000006")]
    # the new cadence: one line for steps 7-8 (every 2), where the run's own logged every step
    assert [e["step"] for e in events(killed, "train") if e["step"] > 6] == [8]


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage(path):
    path.write_bytes(os.urandom(path.stat().st_size))


def _bad_counters(path):
    path.write_text('{"step": 6, "epoch": ')


DAMAGES = [("model.safetensors", _truncate), ("model.safetensors", _garbage), ("optimizer.bin", _garbage),
           ("optimizer.bin", _truncate), ("random_states_0.pkl", _garbage), ("trainer_state.json", _bad_counters)]


@pytest.mark.parametrize("name,damage", DAMAGES, ids=[f"{n}-{d.__name__[1:]}" for n, d in DAMAGES])
def test_a_damaged_last_checkpoint_falls_back_to_the_one_before(killed, finished, capsys, name, damage):
    damage(killed / "checkpoints" / "step-0000006" / name)
    assert _resume(killed) == 0
    err = capsys.readouterr().err
    warning = [line for line in err.splitlines() if line.startswith("[hf_rnn] the checkpoint step-0000006")]
    assert len(warning) == 1 and name in warning[0] and "resuming from step-0000004" in warning[0], err
    resumed = events(killed, "resume")
    assert [(e["step"], e["skipped_damaged"]) for e in resumed] == [(4, ["step-0000006"])]
    # steps 5 and 6 trained again from the step-4 checkpoint: the run ends as the uninterrupted one did
    a = json.loads((finished / "metrics.json").read_text())
    b = json.loads((killed / "metrics.json").read_text())
    assert b["training"]["steps"] == 6
    assert b["test"] == pytest.approx(a["test"], abs=1e-6)
    assert b["best"]["step"] == a["best"]["step"]
    assert [e["loss"] for e in events(killed, "train")] == pytest.approx([e["loss"] for e in events(finished, "train")],
                                                                         abs=1e-6)


def test_no_intact_checkpoint_is_one_clear_error_and_changes_nothing(killed, capsys):
    from hf_rnn.runs.folder import checkpoints

    for folder in checkpoints(killed):
        _truncate(folder / "model.safetensors")
    before = _snapshot(killed)
    assert _resume(killed) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hf-rnn train: error: cannot resume the run in "), err
    assert "no checkpoint is intact" in err[0] and "--overwrite" in err[0]
    assert all(f"{p.name}: model.safetensors is cut short" in err[0] for p in checkpoints(killed))
    assert _snapshot(killed) == before


def test_a_checkpoint_of_another_shape_is_one_config_error(killed, capsys):
    """Without config.yaml (deleted) nothing says the recipe changed: the checkpoint's shapes do, in one line."""
    from hf_rnn.cli import main as cli

    (killed / "config.yaml").unlink()
    before = _snapshot(killed)
    wider = [a if a != "model.hidden_size=16" else "model.hidden_size=24" for a in TINY]
    assert cli([*wider, "--output-dir", str(killed), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not fit the model the recipe builds" in err[0] and "size mismatch" in err[0], err
    assert _snapshot(killed) == before  # no checkpoint set aside as damaged: none is


def test_the_python_api_and_the_child_entry_refuse_the_same_changes(killed, capsys):
    from hf_rnn.errors import ConfigError
    from hf_rnn.training import recipe_training as recipe_training
    from hf_rnn.training.loop import train
    from hf_rnn.training.recipes import load_recipe

    before = _snapshot(killed)
    with pytest.raises(ConfigError, match=r"--resume cannot change model\.hidden_size \(16 in the run, 32 asked\)"):
        recipe_training.train_recipe(None, killed, ["model.hidden_size=32"], resume=True)
    other = load_recipe(saved=killed / "config.yaml", overrides=["task.max_train_examples=16"])
    with pytest.raises(ConfigError, match=r"task\.max_train_examples \(32 in the run, 16 asked\)"):
        recipe_training.train_recipe(other, killed, resume=True)
    # train() itself, with a training section that changes the batch: refused before the model is touched
    with pytest.raises(ConfigError, match=r"training\.batch_size \(8 in the run, 2 asked\)"):
        train(None, None, {**dataclasses.asdict(other.training), "batch_size": 2}, output_dir=killed, resume=True)
    assert recipe_training.main(["--output-dir", str(killed), "--resume", "tokenizer.word_level=true"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tokenizer.word_level (false in the run, true asked)" in err[0], err
    assert _snapshot(killed) == before


def test_the_resumable_keys_are_training_keys():
    from hf_rnn.training.config import TrainConfig
    from hf_rnn.training.resume_rules import RESUMABLE_KEYS

    fields = {f"training.{f}" for f in TrainConfig.__dataclass_fields__}
    assert RESUMABLE_KEYS <= fields  # a renamed field would silently stop being resumable
    assert not RESUMABLE_KEYS & {"training.batch_size", "training.learning_rate", "training.seed",
                                 "training.keep_best", "training.max_length"}


def test_a_damaged_best_checkpoint_leaves_the_last_model_saying_so(killed, capsys):
    """The run ends with its last weights when its best checkpoint cannot be read, not with a torch traceback."""
    last = killed / "checkpoints" / "step-0000006"
    state = json.loads((last / "trainer_state.json").read_text())
    (last / "trainer_state.json").write_text(json.dumps({**state, "best_step": 4}))  # the best: step 4's
    _garbage(killed / "checkpoints" / "step-0000004" / "model.safetensors")
    assert _resume(killed) == 0
    err = capsys.readouterr().err
    assert "[hf_rnn] the best checkpoint step-0000004 is unusable (model.safetensors" in err, err
    assert "the saved model is the last one, step 6" in err
    metrics = json.loads((killed / "metrics.json").read_text())
    assert metrics["best"]["step"] == 4 and metrics["best"]["model_step"] == 6
