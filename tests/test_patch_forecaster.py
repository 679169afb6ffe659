"""The numeric LLM forecaster (GPT4TS recipe): pretrained lower blocks, frozen, between a learned
patch embedding and a linear head; trained and scored like the RNN forecaster."""

from __future__ import annotations

import pytest
import torch

from hf_rnn.errors import ConfigError


@pytest.fixture(scope="module")
def task():
    from hf_rnn.tasks import load_task

    return load_task("timeseries", context_length=12, horizon=2)


def test_the_body_is_the_llms_lower_blocks_frozen_but_their_norms(three_layer_llama, task):
    from transformers import AutoModelForCausalLM

    from hf_rnn.families.llm.patch_forecaster import build_patch_forecaster

    model = build_patch_forecaster(str(three_layer_llama), True, task, llm_layers=2, patch_length=4, patch_stride=2)
    llm = AutoModelForCausalLM.from_pretrained(three_layer_llama)
    assert len(model.body.layers) == 2
    for i in range(2):
        theirs = llm.model.layers[i].state_dict()
        for name, tensor in model.body.layers[i].state_dict().items():
            assert torch.equal(tensor, theirs[name]), f"layer {i} {name} is not the LLM's"
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {"patch_embedding.weight", "patch_embedding.bias", "head.weight", "head.bias"} <= trained
    assert all("norm" in n for n in trained if n.startswith("body.")), trained
    assert not any("proj" in n for n in trained)
    assert model.config.num_patches == (12 - 4) // 2 + 2  # PatchTST's end padding adds one patch


def test_forecasts_follow_the_window_scale_and_round_trip(three_layer_llama, task, tmp_path):
    from transformers import AutoModelForTimeSeriesPrediction

    import hf_rnn.models  # noqa: F401 - registers hf_rnn_patch_llm
    from hf_rnn.families.llm.patch_forecaster import build_patch_forecaster

    model = build_patch_forecaster(str(three_layer_llama), True, task, llm_layers=2).eval()
    torch.manual_seed(1)
    past = torch.rand(5, 12) * 50
    with torch.no_grad():
        base = model(past_values=past).prediction
        moved = model(past_values=3.0 * past + 7.0).prediction
    assert base.shape == (5, 2)
    # each window is standardised inside the model: an affine change of the input moves the forecast alike
    torch.testing.assert_close(moved, 3.0 * base + 7.0, rtol=1e-4, atol=1e-3)
    model.save_pretrained(tmp_path / "saved")
    again = AutoModelForTimeSeriesPrediction.from_pretrained(tmp_path / "saved").eval()
    with torch.no_grad():
        # the same weights; kernels may differ with memory layout and CPU (forecasts are in the tens)
        torch.testing.assert_close(again(past_values=past).prediction, base, rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match=r"past_values must be \[batch, 12\]"):
        model(past_values=torch.rand(2, 10))


def test_a_patch_recipe_trains_scores_and_loads_like_any_run(three_layer_llama, tmp_path):
    from hf_rnn.cli import main as cli
    from hf_rnn.runs.run import load_run_model, read_run

    out = tmp_path / "run"
    code = cli(["train", "--task", "timeseries", "--model", "smollm2-patch", "--output-dir", str(out),
                f"model.name_or_path={three_layer_llama}", "model.llm_layers=2", "training.max_steps=6",
                "training.eval_steps=3", "training.progress_bar=false"])
    assert code == 0
    run = read_run(out)
    assert run.family == "llm" and run.metrics.model.mode == "patch"
    test = run.metrics.test
    assert test["mae"] > 0 and "parse_failures" not in test  # values out, nothing to parse
    assert not (out / "tokenizer.json").exists()  # it reads no text
    model, tokenizer = load_run_model(run)
    assert type(model).__name__ == "PatchLLMForTimeSeriesPrediction" and tokenizer is None


def test_the_app_forecasts_with_a_patch_run(three_layer_llama, tmp_path):
    from hf_rnn.app.service import AppService
    from hf_rnn.cli import main as cli

    out = tmp_path / "runs" / "patch"
    assert cli(["train", "--task", "timeseries", "--model", "smollm2-patch", "--output-dir", str(out),
                f"model.name_or_path={three_layer_llama}", "model.llm_layers=1", "training.max_steps=2",
                "training.progress_bar=false"]) == 0
    service = AppService(runs_dir=tmp_path / "runs")
    choice = next(c for c in service.choices("timeseries") if c.run is not None)
    assert choice.family == "llm"
    r = service.compare("timeseries", choice.value, choice.value, window=3)
    assert r.error is None
    for pred in (r.a, r.b):
        assert pred.ok, pred.error
        assert len(pred.output) == 1 and all(isinstance(v, float) for v in pred.output)
        assert "patches" in pred.attention_note


def test_patch_mode_is_for_forecasting_only():
    from hf_rnn.training.recipes import load_recipe

    with pytest.raises(ConfigError, match="needs a forecasting task"):
        load_recipe("sentiment", "smollm2", overrides=["model.mode=patch"])
    with pytest.raises(ConfigError, match="llm_layers"):
        load_recipe("timeseries", "smollm2-patch", overrides=["model.llm_layers=0"])
