"""Recipe knobs of the training loop (issue #17): gradient checkpointing, torch.compile, the LLM's weight
dtype, experiment trackers, FSDP's wrap classes from the model, and LoRA adapters saved in peft's format.

Tiny models throughout (the session's one-layer Llama, an RNN with hidden size 16), a few steps each.
"""

from __future__ import annotations

import copy
import json

import pytest
import torch
import yaml

from hf_rnn.cli import main as cli
from hf_rnn.errors import ConfigError
from hf_rnn.tasks import load_task
from hf_rnn.training.loop import TrainConfig, resolve_trackers, train
from hf_rnn.training.recipes import ACCELERATE_CONFIG_DIR, load_recipe

TINY_DATA = ["task.max_train_examples=32", "task.max_validation_examples=6", "task.max_test_examples=7"]
TINY_TRAINING = ["training.max_steps=2", "training.batch_size=8", "training.eval_batch_size=8",
                 "training.max_length=32", "training.logging_steps=1", "training.progress_bar=false",
                 "training.log_with=none"]
QUIET = {"progress_bar": False, "log_with": None, "batch_size": 8, "eval_batch_size": 8, "max_length": 32,
         "logging_steps": 1}


def _task(train=32, validation=6, test=7):
    return load_task("sentiment").subset({"train": train, "validation": validation, "test": test})


def _train_losses(run):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [e["loss"] for e in map(json.loads, lines) if e["event"] == "train"]


def _tiny_rnn(task, tokenizer):
    from accelerate.utils import set_seed

    from hf_rnn.models.factory import build_rnn
    from hf_rnn.training.recipes import RNNModelSection

    set_seed(0)
    return build_rnn(task, RNNModelSection(embedding_size=16, hidden_size=16, init_embeddings=None), tokenizer)


def _recipe(tiny_llama, *overrides, task="sentiment"):
    return load_recipe(task, str(tiny_llama), overrides=[*TINY_DATA, *TINY_TRAINING, *overrides])


# =========================================================================== gradient checkpointing


def _checkpointing_on(model) -> bool:
    # transformers 5 renamed the flag (the old name is a deprecated alias)
    if hasattr(type(model), "is_activation_checkpointing"):
        return model.is_activation_checkpointing
    return model.is_gradient_checkpointing


def test_gradient_checkpointing_recomputes_and_trains_the_same(tmp_path, tiny_llama):
    from hf_rnn.families.llm.llm import decoder_layers, load_llm

    task = _task()
    plain, tok = load_llm(str(tiny_llama), task)
    checkpointed = copy.deepcopy(plain)  # the same new classification head in both
    calls = {"plain": 0, "checkpointed": 0}

    def count(name):
        def hook(module, args):
            if module.training:  # training forwards, and the recomputation inside backward
                calls[name] += 1
        return hook

    # on a module inside the layer: transformers checkpoints the layer's forward, so hooks on the layer
    # itself run once, while everything inside it runs again when backward recomputes it
    decoder_layers(plain)[0].mlp.register_forward_pre_hook(count("plain"))
    decoder_layers(checkpointed)[0].mlp.register_forward_pre_hook(count("checkpointed"))
    config = {**QUIET, "max_steps": 3, "eval_steps": 3}
    train(plain, task, config, tok, tmp_path / "plain")
    train(checkpointed, task, {**config, "gradient_checkpointing": True}, tok, tmp_path / "checkpointed")

    assert _checkpointing_on(checkpointed) and not _checkpointing_on(plain)
    assert calls == {"plain": 3, "checkpointed": 6}  # each layer forward runs again in backward
    a, b = _train_losses(tmp_path / "plain"), _train_losses(tmp_path / "checkpointed")
    assert len(a) == len(b) == 3
    # step 1: the same forward; steps 2-3: after updates from recomputed gradients. Recomputation runs the
    # same kernels on the same inputs, so 1e-5 is loose; a wrong gradient moves the loss by far more
    assert b == pytest.approx(a, abs=1e-5)


def test_gradient_checkpointing_is_refused_for_the_rnn_family(tmp_path, tokenizer):
    with pytest.raises(ConfigError, match="training.gradient_checkpointing is for the LLM family"):
        load_recipe("sentiment", "bilstm", overrides=["training.gradient_checkpointing=true"])
    task = _task()
    with pytest.raises(ConfigError, match=r"training.gradient_checkpointing: RNNForSequenceClassification "
                                          r"cannot recompute .*the RNN family"):
        train(_tiny_rnn(task, tokenizer), task, {**QUIET, "max_steps": 1, "gradient_checkpointing": True},
              tokenizer, tmp_path / "rnn")
    assert not (tmp_path / "rnn").exists()


# =========================================================================== torch.compile


def test_torch_compile_trains_and_saves_plain_weight_names(tmp_path, tokenizer):
    import shutil

    from safetensors import safe_open

    from hf_rnn.models import load_rnn

    assert shutil.which("g++") or shutil.which("c++"), "torch.compile's inductor backend needs a C++ compiler"
    task = _task(train=16, validation=4, test=8)
    out = tmp_path / "compiled"
    metrics = train(_tiny_rnn(task, tokenizer), task, {**QUIET, "max_steps": 2, "torch_compile": True},
                    tokenizer, out)
    assert metrics.training.steps == 2 and all(map(torch.isfinite, map(torch.tensor, _train_losses(out))))
    assert metrics.model.class_name == "RNNForSequenceClassification"  # not OptimizedModule
    with safe_open(str(out / "model.safetensors"), framework="pt") as f:
        names = list(f.keys())
    assert names and not [n for n in names if "_orig_mod" in n]
    reloaded = load_rnn(out)
    assert type(reloaded).__name__ == "RNNForSequenceClassification"
    again = task.evaluate(reloaded, tokenizer, split="test", max_length=QUIET["max_length"])  # as the run read it
    assert again["accuracy"] == pytest.approx(metrics.test["accuracy"])


# =========================================================================== the LLM's weight dtype


def test_model_dtype_bfloat16_trains_saves_and_reloads(tmp_path, tiny_llama):
    from safetensors import safe_open
    from transformers import AutoModelForSequenceClassification

    from hf_rnn.models.factory import build_model

    # the last weights, not the best checkpoint (step 0 may be the best of a 2-step run): they must have trained
    recipe = _recipe(tiny_llama, "model.dtype=bfloat16", "model.head=new-head", "training.keep_best=false")
    assert recipe.model.dtype == "bfloat16" and recipe.training.mixed_precision is None
    task = _task()
    model, tok = build_model(task, recipe.model)
    seen = set()
    model.register_forward_pre_hook(lambda m, args: seen.update(p.dtype for p in m.parameters()) if m.training
                                    else None)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    out = tmp_path / "bf16"
    metrics = train(model, task, recipe.training, tok, out, recipe=recipe.to_dict())
    assert seen == {torch.bfloat16}  # every weight, in every training forward
    assert any(not torch.equal(before[n], p) for n, p in model.named_parameters())  # and they trained
    assert metrics.hardware.mixed_precision == "no"
    with safe_open(str(out / "model.safetensors"), framework="pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.bfloat16}
    assert yaml.safe_load((out / "config.yaml").read_text())["model"]["dtype"] == "bfloat16"
    reloaded = AutoModelForSequenceClassification.from_pretrained(out, dtype="auto").eval()
    assert next(reloaded.parameters()).dtype == torch.bfloat16
    batch = tok(["a fine film", "dull"], return_tensors="pt", padding=True)
    model.eval()
    for name, tensor in reloaded.state_dict().items():  # the saved weights are the trained ones, bit for bit
        assert torch.equal(tensor, model.state_dict()[name]), name
    with torch.no_grad():  # kernels may differ with memory layout and CPU: bf16's own resolution
        torch.testing.assert_close(reloaded(**batch).logits, model(**batch).logits, rtol=1.6e-2, atol=1e-2)


@pytest.mark.parametrize("overrides, message", [
    (["model.dtype=fp8"], "model.dtype must be one of float32, bfloat16, float16, auto; got 'fp8'"),
    (["model.dtype=float16", "training.mixed_precision=fp16"], "fp16 loss scaling needs float32 weights"),
])
def test_model_dtype_bad_values(tiny_llama, overrides, message):
    with pytest.raises(ConfigError, match=message):
        _recipe(tiny_llama, *overrides)


def test_model_dtype_is_refused_for_the_rnn_family():
    with pytest.raises(ConfigError, match="model.dtype is the LLM family's weight dtype; an RNN keeps float32"):
        load_recipe("sentiment", "bilstm", overrides=["model.dtype=bfloat16"])
    assert load_recipe("sentiment", "smollm2").model.dtype == "float32"  # the default: as before the key


# =========================================================================== experiment trackers


def test_log_with_names_accelerate_trackers(monkeypatch):
    import accelerate.tracking
    from accelerate.utils import LoggerType

    installed = [t.value for t in accelerate.tracking.get_available_trackers()]
    assert "tensorboard" in installed  # a dependency of hf_rnn
    assert resolve_trackers(None) == resolve_trackers("none") == resolve_trackers([]) == []
    assert resolve_trackers(["tensorboard", "tensorboard"]) == ["tensorboard"]
    assert resolve_trackers("all") == installed
    with pytest.raises(ConfigError, match=r"unknown tracker 'tensorbored'; accelerate supports aim, clearml, "
                                          r"comet_ml, .*wandb \(installed here: .*tensorboard"):
        TrainConfig.from_any({"log_with": "tensorbored"})
    with pytest.raises(ConfigError, match="unknown tracker 'x'"):
        TrainConfig.from_any({"log_with": ["tensorboard", "x"]})
    # what is installed is accelerate's own finding: pretend only tensorboard is, then nothing
    monkeypatch.setattr(accelerate.tracking, "_available_trackers", [LoggerType.TENSORBOARD])
    with pytest.raises(ConfigError, match=r"the wandb tracker is not installed \(pip install wandb\); "
                                          r"installed here: tensorboard$"):
        TrainConfig.from_any({"log_with": "wandb"})
    monkeypatch.setattr(accelerate.tracking, "_available_trackers", [])
    with pytest.raises(ConfigError, match="the tensorboard tracker is not installed .*installed here: none"):
        TrainConfig.from_any({"log_with": ["tensorboard"]})
    assert TrainConfig.from_any({"log_with": "all"}).log_with == "all"  # all of nothing is no tracker


def test_log_with_none_writes_no_tracker_files_and_a_list_works(tmp_path, tokenizer):
    task = _task()
    train(_tiny_rnn(task, tokenizer), task, {**QUIET, "max_steps": 2, "log_with": "none"}, tokenizer,
          tmp_path / "none")
    assert sorted(p.name for p in (tmp_path / "none").iterdir() if p.is_dir()) == []
    train(_tiny_rnn(task, tokenizer), task, {**QUIET, "max_steps": 2, "log_with": ["tensorboard"]}, tokenizer,
          tmp_path / "tb")
    assert list((tmp_path / "tb" / "tensorboard").rglob("events.out.tfevents.*"))


def test_unknown_tracker_from_the_cli_is_one_line_before_anything(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli(["train", "--task", "sentiment", "--model", "bilstm", "--output-dir", str(out),
                "training.log_with=[tensorboard, wandbb]"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown tracker 'wandbb'" in err
    assert not out.exists()


# =========================================================================== FSDP wrap classes


def _fsdp_plugin_from(config_file, monkeypatch):
    """The FSDP plugin ``accelerate launch --config_file`` gives the training processes (via their env)."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils import FullyShardedDataParallelPlugin, prepare_multi_gpu_env

    args = launch_command_parser().parse_args(["--config_file", str(config_file), "train.py"])
    args, _, _ = _validate_launch_command(args)
    for key, value in prepare_multi_gpu_env(args).items():
        monkeypatch.setenv(key, value)
    return FullyShardedDataParallelPlugin()


def _wrapped(plugin, model) -> list[str]:
    from accelerate.utils.fsdp_utils import fsdp2_prepare_auto_wrap_policy

    policy = fsdp2_prepare_auto_wrap_policy(plugin, model)
    return [name for name, module in model.named_modules() if name and policy(module)]


def test_fsdp_config_names_no_layer_class_and_wraps_each_models_own_blocks(monkeypatch, tokenizer):
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForSequenceClassification

    from hf_rnn.models import RNN_HEADS, RNNConfig

    path = ACCELERATE_CONFIG_DIR / "fsdp_multi_gpu.yaml"
    fsdp = yaml.safe_load(path.read_text())["fsdp_config"]
    assert fsdp["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    assert "fsdp_transformer_layer_cls_to_wrap" not in fsdp
    assert not [v for v in fsdp.values() if isinstance(v, str) and v.endswith(("Layer", "Block"))]

    plugin = _fsdp_plugin_from(path, monkeypatch)
    assert plugin.fsdp_version == 2 and plugin.transformer_cls_names_to_wrap is None
    llama = LlamaForSequenceClassification(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32,
                                                       num_hidden_layers=2, num_attention_heads=2,
                                                       num_key_value_heads=1, num_labels=2))
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=64, n_embd=16, n_layer=2, n_head=2, n_positions=32))
    assert _wrapped(plugin, llama) == ["model.layers.0", "model.layers.1"]
    assert _wrapped(plugin, gpt2) == ["transformer.h.0", "transformer.h.1"]
    from peft import LoraConfig, get_peft_model

    lora = get_peft_model(copy.deepcopy(llama), LoraConfig(r=2, target_modules=["q_proj"], task_type="SEQ_CLS"))
    assert [n.rsplit(".", 2)[-2:] for n in _wrapped(plugin, lora)] == [["layers", "0"], ["layers", "1"]]

    rnn = {"vocab_size": 64, "embedding_size": 8, "hidden_size": 8}
    classifier = RNN_HEADS["RNNForSequenceClassification"](RNNConfig(**rnn, num_labels=2))
    seq2seq = RNN_HEADS["RNNForSeq2SeqLM"](RNNConfig(**rnn, attention="additive"))
    forecaster = RNN_HEADS["RNNForTimeSeriesPrediction"](RNNConfig(**{**rnn, "vocab_size": 1}, input_size=1,
                                                                  prediction_length=3))
    assert _wrapped(plugin, classifier) == ["rnn"]
    assert _wrapped(plugin, seq2seq) == ["encoder", "decoder"]
    assert _wrapped(plugin, forecaster) == []  # one small unit: the whole model
    # what naming a model's class in the config did: any other model cannot start
    plugin.transformer_cls_names_to_wrap = ["LlamaDecoderLayer"]
    with pytest.raises(ValueError, match="Could not find the transformer layer class LlamaDecoderLayer"):
        _wrapped(plugin, gpt2)


# =========================================================================== LoRA adapters


def test_lora_run_saves_a_peft_adapter_beside_the_merged_model(tmp_path, tiny_llama, tokenizer):
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    from hf_rnn.runs.run import load_run_model, read_run

    out = tmp_path / "lora"
    assert cli(["train", "--task", "sentiment", "--model", str(tiny_llama), "--output-dir", str(out),
                "model.mode=lora", "model.head=new-head", "model.lora_r=2", "training.save_adapter=true",
                "training.learning_rate=1e-2",
                *TINY_DATA, *TINY_TRAINING]) == 0
    adapter = out / "adapter"
    assert (adapter / "adapter_config.json").exists() and (adapter / "adapter_model.safetensors").exists()
    assert (out / "model.safetensors").exists() and not (out / "adapter_config.json").exists()
    merged, _ = load_run_model(read_run(out))  # the rest of hf_rnn reads the run folder as before
    assert "`adapter/` also holds the LoRA adapter" in (out / "README.md").read_text()  # the card says so

    base = AutoModelForSequenceClassification.from_pretrained(tiny_llama, num_labels=2)
    with_adapter = PeftModel.from_pretrained(base, adapter).eval()
    batch = tokenizer(["a fine, warm film", "dull and far too long for what it says"], return_tensors="pt",
                      padding=True)
    with torch.no_grad():
        got, expected = with_adapter(**batch).logits, merged(**batch).logits
    fresh = AutoModelForSequenceClassification.from_pretrained(tiny_llama, num_labels=2).eval()
    with torch.no_grad():
        assert not torch.allclose(fresh(**batch).logits, expected, atol=1e-3)  # the adapter carries the training
    assert torch.allclose(got, expected, atol=1e-5), (got - expected).abs().max()

    # overwriting the run without the key leaves no stale adapter behind
    assert cli(["train", "--task", "sentiment", "--model", str(tiny_llama), "--output-dir", str(out), "--overwrite",
                "model.mode=lora", "model.head=new-head", "model.lora_r=2", *TINY_DATA, *TINY_TRAINING]) == 0
    assert not adapter.exists()


def test_save_adapter_needs_a_lora_run(tmp_path, tiny_llama, tokenizer):
    with pytest.raises(ConfigError, match="training.save_adapter saves a LoRA adapter; model.mode is full"):
        _recipe(tiny_llama, "training.save_adapter=true")
    with pytest.raises(ConfigError, match="training.save_adapter saves a LoRA adapter of an LLM; an RNN has none"):
        load_recipe("sentiment", "bilstm", overrides=["training.save_adapter=true"])
    task = _task()
    with pytest.raises(ConfigError, match="this model has none"):
        train(_tiny_rnn(task, tokenizer), task, {**QUIET, "max_steps": 1, "save_adapter": True}, tokenizer,
              tmp_path / "rnn")
    assert not (tmp_path / "rnn").exists()
