"""Prompt-based fine-tuning of the LLM on classification (``hf_rnn.families.llm.llm_prompt``) and the training loop's
step-0 validation, on a tiny Llama with the real SmolLM2 tokenizer.

Step 0 of the prompt classifier is the zero-shot classifier; a run that validates at step 0 keeps its best
checkpoint, step 0 included, so it never ends under the zero-shot prompt; the run folder loads back as the same
classifier; the new-head recipe (``model.head=new-head``, ``--model smollm2-newhead``) still trains.
"""

from __future__ import annotations

import json

import pytest
import torch
from datasets import DatasetDict

from hf_rnn.cli import main as cli
from hf_rnn.errors import ConfigError, ModelLoadError
from hf_rnn.families.llm.llm_prompt import PROMPT_FILE, PromptClassifier, load_prompt_classifier
from hf_rnn.families.llm.llm_zero_shot import SENTIMENT_PROMPT, ZeroShotClassifier
from hf_rnn.runs.run import load_run_model, read_run
from hf_rnn.tasks import load_task
from hf_rnn.training.loop import train
from hf_rnn.training.recipes import load_recipe

QUIET = {"progress_bar": False, "log_with": None, "batch_size": 8, "eval_batch_size": 8, "max_length": 32,
         "logging_steps": 1, "warmup_steps": 0}
TINY = ["task.max_train_examples=24", "task.max_validation_examples=6", "task.max_test_examples=6",
        "training.max_steps=2", "training.batch_size=8", "training.eval_batch_size=8", "training.max_length=32",
        "training.eval_steps=2", "training.logging_steps=1", "training.progress_bar=false",
        "training.warmup_steps=0", "training.log_with=none"]


@pytest.fixture(scope="module")
def task():
    return load_task("sentiment").subset({"train": 24, "validation": 8, "test": 8})


def _batch(task, tokenizer, split="validation", n=8) -> dict[str, torch.Tensor]:
    enc = task.encode(tokenizer, "llm", splits=(split,), max_length=32)[split]
    return task.model_inputs(task.collator(tokenizer, "llm")([enc[i] for i in range(min(n, len(enc)))]))


def _logits(model, batch) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(**batch).logits


# --------------------------------------------------------------------------- the classifier


def test_step_0_is_the_zero_shot_classifier_with_and_without_gradients(task, tiny_llama, tokenizer):
    model, tok = load_prompt_classifier(str(tiny_llama), task)
    assert isinstance(model, PromptClassifier) and (model.instruction, model.answer_prefix) == SENTIMENT_PROMPT
    zero = ZeroShotClassifier(model.lm, tok, task.label_names, *SENTIMENT_PROMPT)
    batch = _batch(task, tok)
    expected = _logits(zero, batch)
    torch.testing.assert_close(_logits(model, batch), expected, atol=1e-4, rtol=1e-4)
    model.train()  # training reads the shared head with gradients, once per batch
    out = model(**batch)
    torch.testing.assert_close(out.logits.detach(), expected, atol=1e-4, rtol=1e-4)
    expected_loss = torch.nn.functional.cross_entropy(expected, batch["labels"])
    torch.testing.assert_close(out.loss.detach(), expected_loss, atol=1e-4, rtol=1e-4)
    out.loss.backward()  # the gradient reaches the layers through the head's keys and values
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.lm.model.layers[0].parameters())
    # a model without a plain key/value cache reads each prompt in full, under gradients too: the same scores
    import hf_rnn.families.llm.llm_zero_shot as zs

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(zs, "KV_LAYERS", ())
        torch.testing.assert_close(model(**batch).logits.detach(), expected, atol=1e-4, rtol=1e-4)


def test_an_update_is_seen_by_the_next_evaluation(task, tiny_llama, tokenizer):
    """Evaluation keeps the prompt head's cache while the weights stay: after a training step it reads it again."""
    model, tok = load_prompt_classifier(str(tiny_llama), task)
    batch = _batch(task, tok)
    before = _logits(model, batch)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, fused=True)  # a fused step: no version counter moves
    model(**batch).loss.backward()
    opt.step()
    after = _logits(model, batch)
    fresh = ZeroShotClassifier(model.lm, tok, task.label_names, *SENTIMENT_PROMPT)
    assert not torch.allclose(before, after, atol=1e-6)
    torch.testing.assert_close(after, _logits(fresh, batch), atol=1e-4, rtol=1e-4)


def test_freeze_mode_and_clashing_label_words_are_config_errors(task, tiny_llama):
    with pytest.raises(ConfigError, match="model.head=new-head"):
        load_prompt_classifier(str(tiny_llama), task, mode="freeze")
    with pytest.raises(ConfigError, match="model.head=new-head"):
        load_prompt_classifier(str(tiny_llama), task, label_words=["positive", "positive!"])
    with pytest.raises(ConfigError, match="model.head=new-head"):
        load_recipe("sentiment", "smollm2", overrides=["model.mode=freeze"])
    assert load_recipe("sentiment", "smollm2", overrides=["model.mode=freeze", "model.head=new-head"])


# --------------------------------------------------------------------------- training keeps step 0 when it is best


def test_a_run_that_only_gets_worse_keeps_the_step_0_model(task, tiny_llama, tmp_path):
    """Validation labels set to the untrained model's answers make step 0 perfect; a huge learning rate wrecks the
    model, so every later evaluation is worse: the run ends with step 0's weights and validation score."""
    model, tok = load_prompt_classifier(str(tiny_llama), task)
    val = _batch(task, tok)
    start = _logits(model, val)
    answers = start.argmax(-1).tolist()
    data = DatasetDict({**task.dataset, "validation": task.dataset["validation"].map(
        lambda row, i: {"label": answers[i]}, with_indices=True)})
    rigged = type(task)(data, source=task.source, **task.options)
    out = tmp_path / "worse"
    metrics = train(model, rigged, {**QUIET, "epochs": None, "max_steps": 4, "eval_steps": 2, "learning_rate": 5.0,
                                    "eval_at_start": True}, tok, out)
    events = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    evals = [e for e in events if e["event"] == "eval"]
    assert [e["step"] for e in evals] == [0, 2, 4] and evals[0]["accuracy"] == 1.0
    assert metrics.best.step == 0 and metrics.best.model_step == 0 and metrics.best.value == 1.0
    assert metrics.best.value >= max(e["accuracy"] for e in evals)
    # the huge rate did change the weights; the model kept and saved is step 0's all the same
    reloaded, _ = load_run_model(read_run(out))
    assert isinstance(reloaded, PromptClassifier)
    torch.testing.assert_close(_logits(reloaded, val), start, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(_logits(model, val), start, atol=1e-4, rtol=1e-4)
    assert rigged.evaluate(reloaded, tok, split="validation", batch_size=8)["accuracy"] == 1.0


def test_eval_at_start_is_off_unless_asked(task, tiny_llama, tmp_path):
    model, tok = load_prompt_classifier(str(tiny_llama), task)
    train(model, task, {**QUIET, "max_steps": 2, "eval_steps": 2, "learning_rate": 1e-3}, tok, tmp_path / "r")
    events = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events if e["event"] == "eval"] == [2]


# --------------------------------------------------------------------------- run folders, LoRA, the other head


def test_the_recipe_trains_a_prompt_classifier_that_loads_back_the_same(tiny_llama, tmp_path, tokenizer):
    out = tmp_path / "prompt"
    assert cli(["train", "--task", "sentiment", "--model", str(tiny_llama), "--output-dir", str(out),
                "training.learning_rate=1e-2", *TINY]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"]["class"] == "PromptClassifier"
    events = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events if e["event"] == "eval"][0] == 0  # the recipe validates at step 0
    settings = json.loads((out / PROMPT_FILE).read_text())
    assert settings["label_words"] == ["negative", "positive"] and settings["answer_prefix"] == "Sentiment:"
    assert "PromptClassifier.from_pretrained" in (out / "README.md").read_text()  # the card says how to load it
    loaded, tok = load_run_model(read_run(out))
    direct = PromptClassifier.from_pretrained(out)
    task = load_task("sentiment").subset({"test": 6})
    batch = _batch(task, tok, split="test", n=6)
    torch.testing.assert_close(_logits(loaded, batch), _logits(direct, batch), atol=0, rtol=0)
    # the saved weights are a plain causal LM
    from transformers import AutoModelForCausalLM

    assert type(AutoModelForCausalLM.from_pretrained(out)).__name__ == "LlamaForCausalLM"
    # the test score in metrics.json is the loaded model's
    assert task.evaluate(loaded, tok, split="test")["accuracy"] == pytest.approx(metrics["test"]["accuracy"])


def test_save_and_load_round_trip_gives_identical_logits(task, tiny_llama, tmp_path):
    model, tok = load_prompt_classifier(str(tiny_llama), task)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    batch = _batch(task, tok)
    model(**batch).loss.backward()
    opt.step()
    model.save_pretrained(tmp_path / "saved")
    tok.save_pretrained(tmp_path / "saved")
    again = PromptClassifier.from_pretrained(tmp_path / "saved")
    torch.testing.assert_close(_logits(again, batch), _logits(model, batch), atol=1e-6, rtol=0)
    assert again.prompt_settings() == model.prompt_settings()


def test_a_lora_prompt_classifier_saves_merged_and_its_adapter(task, tiny_llama, tmp_path):
    model, tok = load_prompt_classifier(str(tiny_llama), task, mode="lora", lora_r=2)
    out = tmp_path / "lora"
    metrics = train(model, task, {**QUIET, "max_steps": 3, "eval_steps": 3, "learning_rate": 5e-2,
                                  "keep_best": False, "save_adapter": True}, tok, out)
    assert metrics.parameters.trainable < metrics.parameters.total / 10
    assert any("lora_B" in n and p.abs().sum() > 0 for n, p in model.named_parameters())  # the adapters trained
    assert (out / "adapter" / "adapter_config.json").exists() and (out / "model.safetensors").exists()
    reloaded, _ = load_run_model(read_run(out))
    assert not any("lora" in n for n, _ in reloaded.named_parameters())
    batch = _batch(task, tok)
    torch.testing.assert_close(_logits(reloaded, batch), _logits(model, batch), atol=1e-5, rtol=1e-5)


def test_the_new_head_recipe_still_trains(tiny_llama, tmp_path):
    from transformers import AutoModelForSequenceClassification

    recipe = load_recipe("sentiment", "smollm2-newhead")
    assert recipe.model.head == "new-head" and recipe.model.name == "smollm2-newhead"
    out = tmp_path / "newhead"
    assert cli(["train", "--task", "sentiment", "--model", str(tiny_llama), "--output-dir", str(out),
                "model.head=new-head", "training.learning_rate=1e-2", *TINY]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"]["class"] == "LlamaForSequenceClassification" and not (out / PROMPT_FILE).exists()
    events = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    losses = [e["loss"] for e in events if e["event"] == "train"]
    assert len(losses) == 2 and all(loss == loss for loss in losses)  # it trained: finite losses
    loaded, _ = load_run_model(read_run(out))
    assert type(loaded).__name__ == "LlamaForSequenceClassification"
    assert AutoModelForSequenceClassification.from_pretrained(out).config.num_labels == 2


def test_a_broken_prompt_file_is_one_model_load_error(task, tiny_llama, tmp_path):
    model, tok = load_prompt_classifier(str(tiny_llama), task)
    model.save_pretrained(tmp_path / "m")
    with pytest.raises(ModelLoadError, match="no tokenizer"):
        PromptClassifier.from_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    (tmp_path / "m" / PROMPT_FILE).write_text("{not json")
    with pytest.raises(ModelLoadError, match=PROMPT_FILE):
        PromptClassifier.from_pretrained(tmp_path / "m")
    (tmp_path / "m" / PROMPT_FILE).write_text('{"label_names": ["a", "b"]}')
    with pytest.raises(ModelLoadError, match="label_words"):
        PromptClassifier.from_pretrained(tmp_path / "m")


def test_the_full_sentiment_comparison_trains_both_llm_heads(monkeypatch, tmp_path):
    """Under the full profile a sentiment comparison reports the prompt classifier and the new head; quick trains
    the task's usual pair."""
    import hf_rnn.comparison.compare as comparison
    import hf_rnn.training.recipes as recipes

    real, seen = recipes.load_recipe, []

    def recording(task, name, *args, **kwargs):
        seen.append(name)
        return real(task, name, *args, **kwargs)

    class Stop(Exception):
        pass

    def stop(*_):
        raise Stop

    monkeypatch.setattr(recipes, "load_recipe", recording)
    monkeypatch.setattr(comparison, "comparison_variant", stop)  # called once every recipe is resolved
    for profile, expected in (("full", ["bilstm", "mamba2", "smollm2", "smollm2-newhead"]),
                              ("quick", ["bilstm", "mamba2", "smollm2"])):
        seen.clear()
        with pytest.raises(Stop):
            comparison.compare("sentiment", profile=profile, output_dir=tmp_path / profile)
        assert list(dict.fromkeys(seen)) == expected
    heads = [real("sentiment", m).model.head for m in ("smollm2", "smollm2-newhead")]
    assert heads == ["prompt", "new-head"]
