"""The Accelerate loop: recipes and their errors, batching, budgets, evaluation, the run folder.

Tiny models throughout: an RNN with hidden size 16 over the built-in tokenizer's vocabulary,
and a one-layer Llama (hidden 16) saved to a temporary folder with the built-in tokenizer.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from hf_rnn.cli import main as cli
from hf_rnn.errors import ConfigError
from hf_rnn.tasks import TASKS, load_task
from hf_rnn.training.loop import LengthGroupedSampler, TrainConfig, train
from hf_rnn.training.recipes import apply_overrides, build_recipe, builtin_recipe, load_recipe

TINY_RNN = ["model.embedding_size=16", "model.init_embeddings=null", "model.hidden_size=16", "model.num_layers=1", "model.dropout=0.0",
            "model.classifier_hidden_sizes=[]", "model.classifier_dropout=0.0"]
TINY_DATA = ["task.max_train_examples=48", "task.max_validation_examples=6", "task.max_test_examples=7"]
TINY_TRAINING = ["training.max_steps=3", "training.batch_size=8", "training.eval_batch_size=8",
                 "training.max_length=32", "training.eval_steps=2", "training.logging_steps=1",
                 "training.progress_bar=false", "training.warmup_steps=0", "training.max_new_tokens=8"]


def read_events(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def train_losses(run):
    return [e["loss"] for e in read_events(run) if e["event"] == "train"]


# =========================================================================== batching


def test_sampler_is_a_seeded_permutation_of_length_sorted_batches():
    lengths = list(np.random.default_rng(0).integers(1, 100, size=203))
    sampler = LengthGroupedSampler(lengths, batch_size=8, mega_batch_mult=4, seed=3)
    first = list(sampler)
    assert sorted(first) == list(range(203))
    assert list(sampler) == first  # same epoch, same order
    sampler.set_epoch(1)
    assert list(sampler) != first
    batches = [first[i:i + 8] for i in range(0, 200, 8)]
    for batch in batches:  # each full batch comes from one mega-batch, sorted longest first
        assert [lengths[i] for i in batch] == sorted((lengths[i] for i in batch), reverse=True)
    assert len(first[200:]) == 3  # the short batch is last


def padding_share(lengths, order, batch_size):
    padded = real = 0
    for i in range(0, len(order), batch_size):
        batch = [lengths[j] for j in order[i:i + batch_size]]
        padded += max(batch) * len(batch)
        real += sum(batch)
    return 1 - real / padded


def test_length_grouping_keeps_padding_under_ten_percent_on_sentiment(tokenizer):
    task = load_task("sentiment")
    lengths = [len(ids) for ids in tokenizer(list(task.dataset["train"]["text"]))["input_ids"]]
    grouped = padding_share(lengths, list(LengthGroupedSampler(lengths, 16, seed=0)), 16)
    shuffled = padding_share(lengths, list(LengthGroupedSampler(lengths, 16, seed=0, group_by_length=False)), 16)
    assert grouped <= 0.10
    assert shuffled > 3 * grouped  # what a plain shuffle costs


# =========================================================================== recipes


@pytest.mark.parametrize("task", sorted(TASKS))
@pytest.mark.parametrize("model", ["rnn", "llm"])
def test_every_task_has_a_valid_recipe_for_both_families(task, model):
    recipe = load_recipe(task, model)
    assert recipe.task.name == task
    assert recipe.model.family == model
    assert recipe.output_dir


def test_overrides_are_typed_and_checked():
    data = builtin_recipe("sentiment", "bilstm")
    recipe = build_recipe(apply_overrides(data, ["training.learning_rate=1e-4", "max_steps=7",
                                                 "model.classifier_hidden_sizes=[32, 16]", "task.source=null"]))
    assert recipe.training.learning_rate == pytest.approx(1e-4)  # YAML reads 1e-4 as a string: coerced
    assert recipe.training.max_steps == 7  # a key of one section only may drop the section
    assert recipe.model.classifier_hidden_sizes == [32, 16]
    assert recipe.model.cell == "lstm" and recipe.model.bidirectional
    with pytest.raises(ConfigError, match="say which section"):
        apply_overrides(data, ["name=x"])  # task.name or model.name?
    with pytest.raises(ConfigError, match="did you mean 'training.max_steps'"):
        build_recipe(apply_overrides(data, ["training.max_step=3"]))
    with pytest.raises(ConfigError, match="training.batch_size must be an integer"):
        build_recipe(apply_overrides(data, ["training.batch_size=big"]))
    with pytest.raises(ConfigError, match="model.cell must be one of"):
        build_recipe(apply_overrides(data, ["model.cell=transformer"]))
    with pytest.raises(ConfigError, match="bidirectional language model"):
        load_recipe("textgen", "bilstm")
    with pytest.raises(ConfigError, match="unknown model"):
        load_recipe("sentiment", "cnn")
    with pytest.raises(ConfigError, match="needs a budget"):
        TrainConfig.from_any({"epochs": None})
    assert TrainConfig.from_any({"max_steps": 5}).max_steps == 5


# =========================================================================== errors from the CLI


@pytest.mark.parametrize("override, message", [
    ("training.max_stepz=3", "unknown key 'training.max_stepz' (did you mean 'training.max_steps'?)"),
    ("training.max_steps=three", "training.max_steps must be an integer or null, got 'three' (str)"),
    ("model.hidden_size=[16]", "model.hidden_size must be an integer, got [16] (list)"),
    ("training.mixed_precision=fp8", "training.mixed_precision must be one of no, fp16, bf16"),
])
def test_bad_config_is_one_line_and_exit_2(tmp_path, capsys, override, message):
    out = tmp_path / "run"
    assert cli(["train", "--task", "sentiment", "--model", "bilstm", "--output-dir", str(out), override]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"hf-rnn train: error: {message}" or err.startswith(f"hf-rnn train: error: {message}")
    assert len(err.splitlines()) == 1
    assert not out.exists()  # nothing started


def test_unwritable_output_dir_and_existing_runs(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert cli(["train", "--task", "sentiment", "--model", "bilstm", "--output-dir", str(blocker / "run")]) == 2
    assert "cannot write to the output folder" in capsys.readouterr().err
    assert cli(["train", "--task", "sentiment", "--model", "bilstm", "--output-dir", str(tmp_path), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    (tmp_path / "config.yaml").write_text("task: {}\n")
    # a run that stopped before its first checkpoint: both ways point at --overwrite, neither at the other
    assert cli(["train", "--task", "sentiment", "--model", "bilstm", "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--overwrite" in err and "--resume" not in err
    assert cli(["train", "--task", "sentiment", "--model", "bilstm", "--output-dir", str(tmp_path), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "before its first checkpoint" in err and "pass --overwrite instead of --resume" in err
    # the check creates nothing: a run that fails on its inputs leaves no folder behind
    assert cli(["train", "--task", "sentiment", "--model", "bilstm", "--output-dir", str(tmp_path / "new"),
                "task.options={text_colum: x}"]) == 2
    assert "did you mean 'text_column'" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_the_real_exit_status_and_stderr(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "hf_rnn.cli", "train", "--task", "sentiment", "--model", "bilstm",
                           "--output-dir", str(tmp_path / "run"), "training.batch_size=0"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["hf-rnn train: error: training.batch_size must be >= 1; got 0"]


# =========================================================================== every task, both families


@pytest.mark.parametrize("task", sorted(TASKS))
@pytest.mark.parametrize("family", ["rnn", "llm"])
def test_cli_trains_every_task_from_its_recipe(task, family, tmp_path, tiny_llama, capsys):
    out = tmp_path / "run"
    model = "rnn" if family == "rnn" else str(tiny_llama)
    overrides = TINY_DATA + TINY_TRAINING + (TINY_RNN if family == "rnn" else [])
    assert cli(["train", "--task", task, "--model", model, "--output-dir", str(out), *overrides]) == 0
    assert "run folder:" in capsys.readouterr().out

    metrics = json.loads((out / "metrics.json").read_text())
    task_cls = TASKS[task]
    assert task_cls.primary_metric in metrics["test"]
    assert metrics["task"]["name"] == task and set(metrics["task"]["data_hash"]) == {"train", "validation", "test"}
    assert metrics["model"]["family"] == family
    assert metrics["parameters"]["total"] >= metrics["parameters"]["trainable"] > 0
    assert metrics["training"]["steps"] == 3 and metrics["training"]["tokens_per_second"] > 0
    assert metrics["memory"]["cpu_peak_rss_mb"] > 0
    assert metrics["hardware"]["num_processes"] == 1 and metrics["hardware"]["device"] == "cpu"
    if task == "timeseries" and family == "rnn":
        assert metrics["tokenizer"] is None  # numbers in, numbers out
    elif task == "translation" and family == "rnn":  # the recipe's word-level vocabulary of the 48 pairs
        assert 20 < metrics["tokenizer"]["vocab_size"] < 1000
    elif task == "textgen" and family == "rnn":  # the recipe's characters of the training text
        assert 30 < metrics["tokenizer"]["vocab_size"] < 200
        assert metrics["test"]["num_characters"] == metrics["test"]["num_tokens"]  # one character a token
    else:
        assert metrics["tokenizer"]["vocab_size"] > 1000

    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["training"]["max_steps"] == 3 and saved["task"]["name"] == task
    card = (out / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    # an RNN folder loads only after `import hf_rnn` registers its classes; an LLM folder is plain transformers
    assert front["library_name"] == ("hf_rnn" if family == "rnn" else "transformers")
    assert front["model-index"][0]["results"][0]["metrics"]
    assert (out / "model.safetensors").exists() and not (out / "checkpoints").exists()
    kinds = [e["event"] for e in read_events(out)]
    # the LLM recipes also validate the model before any update (training.eval_at_start: step 0)
    at_start = bool(saved["training"].get("eval_at_start"))
    assert at_start == (family == "llm" and task != "pos")
    assert kinds.count("eval") == 2 + at_start and kinds[-1] == "test"
    if at_start:  # the model kept is never worse on validation than the one training started from
        first = next(e for e in read_events(out) if e["event"] == "eval")
        best, start = metrics["best"]["value"], first[task_cls.primary_metric]
        assert first["step"] == 0 and (best >= start if task_cls.greater_is_better else best <= start)
    # each evaluation says when it happened in training time (the comparison's curves against seconds)
    eval_seconds = [e["train_seconds"] for e in read_events(out) if e["event"] == "eval" and e["step"] > 0]
    assert 0 < eval_seconds[0] <= eval_seconds[1] <= metrics["training"]["train_seconds"] + 1e-3

    # the folder loads back as the model that was tested
    loaded = _load_saved(out, family, task_cls.kind)
    assert type(loaded).__name__ == metrics["model"]["class"]


def _load_saved(folder, family, kind):
    if family == "rnn":
        from hf_rnn.models import load_rnn

        return load_rnn(folder)
    import transformers

    from hf_rnn.families.llm.llm_prompt import PromptClassifier, is_prompt_classifier_folder

    if is_prompt_classifier_folder(folder):  # an LLM classifier trained through its LM head (model.head=prompt)
        return PromptClassifier.from_pretrained(folder)
    auto = {"sequence-classification": "AutoModelForSequenceClassification",
            "token-classification": "AutoModelForTokenClassification"}.get(kind, "AutoModelForCausalLM")
    return getattr(transformers, auto).from_pretrained(folder)


# =========================================================================== the Python API and loop features


def tiny_rnn_run(tmp_path, name, tokenizer, config, task="sentiment", sizes=(64, 12, 20), resume=False, **model):
    """Train a tiny RNN via the Python API; return the run folder and metrics."""
    from accelerate.utils import set_seed

    from hf_rnn.models.factory import build_rnn
    from hf_rnn.training.recipes import RNNModelSection

    t = load_task(task).subset(dict(zip(("train", "validation", "test"), sizes)))
    set_seed(0)
    net = build_rnn(t, RNNModelSection(embedding_size=16, hidden_size=16, bidirectional=True, **model), tokenizer)
    out = tmp_path / name
    metrics = train(net, t, {"progress_bar": False, "log_with": None, **config}, tokenizer, out, resume=resume)
    return out, metrics


def test_python_api_with_a_dict_config(tmp_path, tokenizer):
    out, metrics = tiny_rnn_run(tmp_path, "api", tokenizer, {"max_steps": 4, "batch_size": 8, "eval_steps": 2})
    assert metrics.test["num_examples"] == 20
    assert metrics.training.stopped_because == "max_steps"
    with pytest.raises(ConfigError, match="unknown key 'training.max_stepz'"):
        train(None, None, {"max_stepz": 3}, output_dir=tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_gradient_accumulation_matches_a_bigger_batch(tmp_path, tokenizer):
    base = {"max_steps": 6, "logging_steps": 1, "eval_steps": 6, "learning_rate": 1e-2}
    big, _ = tiny_rnn_run(tmp_path, "big", tokenizer, {**base, "batch_size": 8})
    accumulated, _ = tiny_rnn_run(tmp_path, "acc", tokenizer, {**base, "batch_size": 4,
                                                              "gradient_accumulation_steps": 2})
    np.testing.assert_allclose(train_losses(accumulated), train_losses(big), atol=1e-5)


def test_early_stopping_keeps_the_best_model(tmp_path, tokenizer):
    # a learning rate of 0: the validation metric never improves after the first evaluation
    out, metrics = tiny_rnn_run(tmp_path, "stop", tokenizer, {"epochs": 50, "batch_size": 16, "eval_steps": 2,
                                                             "learning_rate": 0.0, "early_stopping_patience": 2})
    assert metrics.training.stopped_because == "early_stopping"
    assert metrics.training.steps == 6  # evaluations at 2 (best), 4 and 6 (no gain twice)
    assert metrics.best.step == metrics.best.model_step == 2


@pytest.mark.parametrize("config, stopped_because, best_step", [
    ({"epochs": 50, "batch_size": 16, "eval_steps": 2, "learning_rate": 0.0, "early_stopping_patience": 2},
     "early_stopping", 2),
    ({"max_steps": 6, "batch_size": 8, "eval_steps": 4, "learning_rate": 0.0}, "max_steps", 4),  # ends between
])
def test_a_run_killed_while_scoring_the_test_split_resumes_to_score_it(tmp_path, tokenizer, monkeypatch,
                                                                        config, stopped_because, best_step):
    from hf_rnn.runs.run import EVAL_PROGRESS
    from hf_rnn.training.loop import TrainingRun

    evaluate = TrainingRun.evaluate

    def killed_on_test(self, split):
        if split == "test":
            raise KeyboardInterrupt  # the session ended while the test split was being scored
        return evaluate(self, split)

    monkeypatch.setattr(TrainingRun, "evaluate", killed_on_test)
    with pytest.raises(KeyboardInterrupt):
        tiny_rnn_run(tmp_path, "killed", tokenizer, config)
    stale = tmp_path / "killed" / EVAL_PROGRESS  # what a run killed mid-evaluation leaves behind
    stale.write_text(json.dumps({"split": "test", "step": 6, "batches": 1, "of": 2}))
    seen_stale = []

    def scoring(self, split):
        seen_stale.append(stale.exists())
        return evaluate(self, split)

    monkeypatch.setattr(TrainingRun, "evaluate", scoring)
    out, metrics = tiny_rnn_run(tmp_path, "killed", tokenizer, config, resume=True)
    assert seen_stale == [False]  # the progress lines do not say "scoring test: batch 1 of 2" from before
    events = read_events(out)
    resumed_at = next(i for i, e in enumerate(events) if e["event"] == "resume")
    assert events[resumed_at]["step"] == 6  # the checkpoint of the last evaluation, not step 4's
    assert [e["event"] for e in events[resumed_at + 1:]] == ["test"]  # no step trained again
    assert metrics.training.stopped_because == stopped_because
    assert metrics.training.steps == 6 and metrics.best.model_step == best_step


def test_a_run_stopped_by_its_seconds_resumes_to_score_although_its_count_is_under_them(tmp_path, tokenizer,
                                                                                        monkeypatch):
    """Each process counts its own training seconds and the first past the limit stops them all: the final
    checkpoint says so, and a run resumed from it only scores, whatever the main process's count."""
    from hf_rnn.runs.folder import TRAINER_STATE
    from hf_rnn.training.loop import TrainingRun, latest_checkpoint

    config = {"epochs": None, "max_seconds": 0.5, "max_steps": 10_000, "lr_scheduler": "constant",
              "batch_size": 8, "eval_steps": 1000}
    evaluate = TrainingRun.evaluate

    def killed_on_test(self, split):
        if split == "test":
            raise KeyboardInterrupt
        return evaluate(self, split)

    monkeypatch.setattr(TrainingRun, "evaluate", killed_on_test)
    with pytest.raises(KeyboardInterrupt):
        tiny_rnn_run(tmp_path, "clock", tokenizer, config)
    saved = latest_checkpoint(tmp_path / "clock") / TRAINER_STATE
    state = json.loads(saved.read_text())
    assert state["stopped_at_max_seconds"] == 0.5
    state["train_seconds"] = 0.45  # another process passed the limit first
    saved.write_text(json.dumps(state))
    monkeypatch.setattr(TrainingRun, "evaluate", evaluate)
    out, metrics = tiny_rnn_run(tmp_path, "clock", tokenizer, config, resume=True)
    events = read_events(out)
    resumed_at = next(i for i, e in enumerate(events) if e["event"] == "resume")
    assert [e["event"] for e in events[resumed_at + 1:]] == ["test"]
    assert metrics.training.stopped_because == "max_seconds" and metrics.training.steps == state["step"]


def test_a_resumed_run_drops_the_events_it_will_log_again(tmp_path):
    from hf_rnn.runs.folder import drop_events_after

    lines = [{"event": "train", "step": 4}, {"event": "eval", "step": 4}, {"event": "test", "step": 4},
             {"event": "train", "step": 5}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines) + '{"event": "tra')
    drop_events_after(tmp_path, 4)  # killed after scoring the test split, before the model was written
    assert read_events(tmp_path) == lines[:2]


def test_saved_model_is_the_best_on_validation(tmp_path, tokenizer):
    from hf_rnn.models import load_rnn

    out, metrics = tiny_rnn_run(tmp_path, "best", tokenizer, {"max_steps": 12, "batch_size": 8, "eval_steps": 3,
                                                             "learning_rate": 3e-2})
    evals = [e for e in read_events(out) if e["event"] == "eval"]
    best = max(evals, key=lambda e: (e["accuracy"], -e["step"]))
    assert metrics.best.model_step == best["step"]
    task = load_task("sentiment").subset({"train": 64, "validation": 12, "test": 20})
    again = task.evaluate(load_rnn(out), tokenizer, split="test")
    assert again["accuracy"] == pytest.approx(metrics.test["accuracy"])


def test_wall_clock_budget(tmp_path, tokenizer):
    out, metrics = tiny_rnn_run(tmp_path, "clock", tokenizer, {"epochs": None, "max_seconds": 1.0,
                                                              "lr_scheduler": "constant", "batch_size": 8,
                                                              "eval_steps": 1000})
    assert metrics.training.stopped_because == "max_seconds"
    assert 1.0 <= metrics.training.train_seconds < 10.0
    with pytest.raises(ConfigError, match="needs a step count"):
        TrainConfig.from_any({"epochs": None, "max_seconds": 5})  # linear decay to when?


def test_mixed_precision_bf16_on_the_cpu(tmp_path, tiny_llama):
    from hf_rnn.families.llm.llm import load_llm

    model, tok = load_llm(str(tiny_llama), "sentiment")
    task = load_task("sentiment").subset({"train": 32, "validation": 8, "test": 8})
    metrics = train(model, task, {"max_steps": 2, "batch_size": 8, "mixed_precision": "bf16", "progress_bar": False,
                                  "log_with": None}, tok, tmp_path / "bf16")
    assert metrics.hardware.mixed_precision == "bf16"
    assert np.isfinite(metrics.training.final_loss)


def test_tensorboard_is_used_when_there_and_refused_when_missing(tmp_path, tokenizer, monkeypatch):
    out, _ = tiny_rnn_run(tmp_path, "tb", tokenizer, {"max_steps": 2, "batch_size": 8, "log_with": "tensorboard"})
    assert list((out / "tensorboard").rglob("events.out.tfevents.*"))
    import accelerate.tracking

    # a tracker the recipe asks for and accelerate cannot find is an error before the run, not a silent skip
    monkeypatch.setattr(accelerate.tracking, "_available_trackers", [])
    with pytest.raises(ConfigError, match="the tensorboard tracker is not installed"):
        tiny_rnn_run(tmp_path, "no-tb", tokenizer, {"max_steps": 2, "batch_size": 8, "log_with": "tensorboard"})
    assert not (tmp_path / "no-tb").exists()


def test_a_recipe_file_with_a_word_level_tokenizer(tmp_path, capsys):
    data = builtin_recipe("pos", "bigru")
    data["tokenizer"] = {"word_level": True, "vocab_size": 300}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(data))
    assert cli(["train", "--config", str(path), "--print-config", "model.hidden_size=8"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["hidden_size"] == 8 and printed["model"]["cell"] == "gru"
    assert cli(["train", "--config", str(path), "--model", "lstm"]) == 2
    assert "does not match the recipe's model 'bigru'" in capsys.readouterr().err

    out = tmp_path / "run"
    assert cli(["train", "--config", str(path), "--output-dir", str(out), *TINY_DATA, *TINY_TRAINING, *TINY_RNN]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["tokenizer"]["vocab_size"] <= 300
    from transformers import AutoTokenizer

    assert len(AutoTokenizer.from_pretrained(out)) == metrics["tokenizer"]["vocab_size"]  # saved with the model


def test_lora_run_saves_a_plain_merged_model(tmp_path, tiny_llama):
    from transformers import AutoModelForSequenceClassification

    out = tmp_path / "lora"
    assert cli(["train", "--task", "sentiment", "--model", str(tiny_llama), "--output-dir", str(out),
                "model.mode=lora", "model.head=new-head", "model.lora_r=2", *TINY_DATA, *TINY_TRAINING]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["parameters"]["trainable"] < metrics["parameters"]["total"] / 2
    assert not (out / "adapter_config.json").exists()
    model = AutoModelForSequenceClassification.from_pretrained(out)
    assert model.config.num_labels == 2


def test_a_lora_run_saves_the_trained_model_merged(tmp_path, tiny_llama, tokenizer):
    """The run folder holds a plain transformers model with the adapters merged in that computes what the trained
    LoRA model computes; the LoRA model itself stays a LoRA model (the merge works on a copy)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    from hf_rnn.families.llm.llm import load_llm

    task = load_task("sentiment").subset({"train": 48, "validation": 6, "test": 7})
    model, tok = load_llm(str(tiny_llama), task, mode="lora", lora_r=2)
    out = tmp_path / "lora-api"
    train(model, task, {"max_steps": 3, "batch_size": 8, "eval_batch_size": 8, "eval_steps": 3, "learning_rate": 1e-2,
                        "keep_best": False, "progress_bar": False, "log_with": None}, tok, out)
    assert isinstance(model, PeftModel)
    assert any("lora_B" in n and p.abs().sum() > 0 for n, p in model.named_parameters())  # the adapters trained
    reloaded = AutoModelForSequenceClassification.from_pretrained(out).eval()
    assert type(reloaded).__name__ == "LlamaForSequenceClassification"
    assert not any("lora" in n for n, _ in reloaded.named_parameters())
    assert reloaded.config.id2label == {0: "negative", 1: "positive"}
    batch = tokenizer(["a fine, warm film", "dull and far too long for what it says"], return_tensors="pt",
                      padding=True)
    model.eval()
    with torch.no_grad():
        expected, got = model(**batch).logits, reloaded(**batch).logits
    assert torch.allclose(got, expected, atol=1e-5), (got - expected).abs().max()


def test_named_variants_change_one_thing_of_the_task_recipe():
    """rnn-noattention (the ablation the lecture's attention claim needs) and smollm2-twice (tagging)."""
    base, ablated = load_recipe("translation", "rnn"), load_recipe("translation", "rnn-noattention")
    assert base.model.attention == "general" and ablated.model.attention == "none"
    assert (ablated.model.cell, ablated.model.bidirectional, ablated.model.hidden_size) == \
        (base.model.cell, base.model.bidirectional, base.model.hidden_size)
    assert ablated.training == base.training and ablated.model.name == "rnn-noattention"
    twice = load_recipe("pos", "smollm2-twice")
    assert twice.family == "llm" and twice.task.options == {"repeat_input": True}
    assert twice.training == load_recipe("pos", "smollm2").training
    with pytest.raises(ConfigError, match="repeat_input"):
        load_recipe("sentiment", "smollm2-twice")
    with pytest.raises(ConfigError, match="rnn-noattention"):
        load_recipe("sentiment", "rnn-noattenton")


def test_an_evaluation_under_way_says_where_it_stands_and_leaves_nothing_behind(tmp_path, tokenizer, monkeypatch):
    """While scoring, the loop rewrites runs.EVAL_PROGRESS (what hf-rnn compare prints); the file goes after."""
    import hf_rnn.training.loop as training
    from hf_rnn.runs.run import EVAL_PROGRESS

    seen = []
    real = training.atomic_write_text

    def spy(path, text):
        if path.name == EVAL_PROGRESS:
            assert path.exists() is False or json.loads(path.read_text())  # never half a file
            seen.append(json.loads(text))
        real(path, text)

    monkeypatch.setattr(training, "EVAL_PROGRESS_SECONDS", 0.0)  # every batch
    monkeypatch.setattr(training, "atomic_write_text", spy)
    out, _ = tiny_rnn_run(tmp_path, "progress", tokenizer,
                          {"max_steps": 2, "batch_size": 8, "eval_batch_size": 4, "eval_steps": 2})
    test = [e for e in seen if e["split"] == "test"]
    assert [e["batches"] for e in test] == list(range(1, 6)) and {e["of"] for e in test} == {5}  # 20 / 4
    assert {e["split"] for e in seen} == {"validation", "test"}
    assert not (out / EVAL_PROGRESS).exists()
