"""Committed performance files: benchmarks publish their numbers, the README's performance block is made from them."""

from __future__ import annotations

import json

import pytest

from hf_rnn.report import performance as performance


def _loop(tps, median, padding, accuracy):
    return {"tokens_per_second": tps, "median_step_tokens_per_second": median, "padding_share": padding,
            "accuracy": accuracy, "tokens": 12000, "steps": 24}


TRAINER = {"settings": {"max_steps": 24, "batch_size": 16, "precision": "no", "rounds": 2}, "threads": 2,
           "ratio": 1.74, "median_step_ratio": 1.7, "ratio_vs_grouped": 1.04, "median_step_ratio_vs_grouped": 1.02,
           "hf_rnn": _loop(250.0, 248.0, 0.025, 0.84), "Trainer": _loop(143.7, 145.9, 0.47, 0.83),
           "Trainer grouped": _loop(240.4, 243.1, 0.032, 0.84)}
MFU = {"batch_size": 8, "seq_len": 64, "threads": 2, "flops_per_token": 0.82e9, "bf16_over_fp32": 0.31,
       "dtypes": {"fp32": {"tokens_per_second": 200.0, "model_flops_per_second": 164e9,
                           "peak_flops_per_second": 197e9, "mfu": 0.83},
                  "bf16": {"tokens_per_second": 62.0, "model_flops_per_second": 50.8e9,
                           "peak_flops_per_second": 806e9, "mfu": 0.063}}}


def test_published_numbers_make_the_readme_block_with_goals_met_or_missed(tmp_path):
    path = performance.publish("trainer_vs_hf", TRAINER, tmp_path)
    doc = json.loads(path.read_text())
    assert path == tmp_path / "performance" / "trainer_vs_hf.json"
    assert doc["date"] and doc["machine"]["cpu"] and doc["command"]
    performance.publish("llm_mfu", MFU, tmp_path)
    text = performance.performance_section(tmp_path)
    assert "| `Trainer`, `train_sampling_strategy=\"group_by_length\"` | 240.4 | 243.1 | 500 | 3.2% | 0.840 |" in text
    assert "**1.04×**" in text and "goal ≥ 1.1×: **missed by 0.06×**" in text
    assert "| fp32 | 200.0 | 164.0 | 197.0 | 83.0% |" in text and "goal ≥ 2×: **missed by 1.69×**" in text
    assert "Not measured yet: `trainer_reference`, `rnn_throughput`, `recurrent_speed`, `llm_step`, `quick_compare`, `own_data_compare`, `app_latency`, `gpu_check`." in text
    assert text.index("Trainer") < text.index("FLOPs")  # the README's order, not the files'


def test_unknown_or_incomplete_files_are_refused_with_their_name(tmp_path):
    with pytest.raises(performance.PerformanceError, match="no README renderer"):
        performance.publish("nonsense", {}, tmp_path)
    performance.publish("llm_mfu", {"threads": 1}, tmp_path)
    with pytest.raises(performance.PerformanceError, match="llm_mfu.json lacks"):
        performance.performance_section(tmp_path)
    (tmp_path / "performance" / "llm_mfu.json").write_text("{not json")
    with pytest.raises(performance.PerformanceError, match="not valid JSON"):
        performance.collect(tmp_path)


def test_the_quick_comparison_line_names_time_goal_steps_and_busy_latencies(tmp_path):
    performance.publish("quick_compare", {
        "compare": "hf-rnn compare --task sentiment --profile quick", "seconds": 655.0, "primary_metric": "accuracy",
        "background": "one nice-19 Python process kept one core busy",
        "rows": [{"name": "bilstm", "metric": 0.8, "steps": 800, "latency_ms_p50": 3.1, "latency_other_load": 0.0},
                 {"name": "smollm2 zero-shot", "metric": 0.757, "steps": None, "latency_ms_p50": 300.0,
                  "latency_other_load": 0.9}]}, tmp_path)
    text = performance.performance_section(tmp_path)
    assert "**655 s** (goal ≤ 600 s: **missed by 55 s**)" in text
    assert "bilstm accuracy 0.800 after 800 steps, latency p50 3.1 ms" in text
    assert "smollm2 zero-shot accuracy 0.757, latency" in text and "latencies of smollm2 zero-shot are flagged" in text


def test_the_app_latency_table_has_a_row_per_number_format_with_its_goals(tmp_path):
    def measured(p50, ready):
        return {"ready": {"page_seconds": ready - 3, "first_comparison_seconds": ready},
                "latency_ms": {"requests": 40, "p50": p50, "p95": p50 * 1.3, "mean": p50, "min": p50 / 2},
                "model_ms_p50": {"rnn": 9.0, "llm": p50 - 60}}

    performance.publish("app_latency", {
        "run": "untrained BiLSTM", "llm": "SmolLM2 zero-shot", "requests": 40, "threads": 1, "cpus": 2,
        "other_load_cores": 0.6, "dtypes": {"float32": measured(340.0, 14.2), "bfloat16": measured(190.0, 25.0)},
        "max_probability_difference": 0.0017}, tmp_path)
    text = performance.performance_section(tmp_path)
    assert "| float32 | 11.2 s | 14.2 s | 340 ms | 442 ms | 9 / 280 ms | p50 goal ≤ 300 ms: **missed by 40 ms**; " \
           "ready goal ≤ 20 s: **met** |" in text
    assert "| bfloat16 |" in text and "ready goal ≤ 20 s: **missed by 5 s**" in text
    assert "**Measured on a busy machine:** other processes kept 0.60 of its cores busy" in text
    assert "differ by at most 0.0017" in text


def test_the_llm_step_table_checks_memory_and_lora_speed(tmp_path):
    def mode(trainable, step_s, tokens, peak):
        return {"params_trainable": trainable, "step_s_median": step_s, "tokens_per_s": tokens, "peak_rss_gb": peak,
                "loss_first": 10.0, "loss_last": 9.0}

    performance.publish("llm_step", {
        "task": "causal-lm", "batch_size": 8, "seq_len": 64, "steps": 5, "threads": None, "lora_dropout": 0.0,
        "goals_gb": {"full": 4.5, "lora": 2.5}, "mmap_threshold": None, "other_load_cores": 0.0,
        "modes": {"full": mode(134_515_008, 2.05, 250.0, 3.45), "lora": mode(921_600, 2.2, 233.0, 2.6)}}, tmp_path)
    text = performance.performance_section(tmp_path)
    assert "| full | 134,515,008 | 2.05 | 250 | 3.45 GB | peak goal ≤ 4.5 GB: **met** |" in text
    assert "| lora | 921,600 |" in text and "peak goal ≤ 2.5 GB: **missed by 0.1 GB**" in text
    assert "0.93× full fine-tuning's speed (goal ≥ 1×: **missed by 0.068×**)" in text


def test_the_trainer_reference_line_gives_both_accuracies_on_the_same_split(tmp_path):
    performance.publish("trainer_reference", {
        "settings": {"batch_size": 16, "learning_rate": 2e-5, "sampler": "random"}, "threads": 1, "steps": 650,
        "train_seconds": 2750.4, "train_examples": 8454, "test": {"accuracy": 0.8836, "num_examples": 1057},
        "hf_rnn_full_accuracy": 0.8770}, tmp_path)
    text = performance.performance_section(tmp_path)
    assert "batch 16, learning rate 2e-05 decaying linearly to zero" in text and "650 steps, its random sampler" in text
    assert "same 8,454 sentences" in text and "its 1,057 test sentences: accuracy **0.884**" in text
    assert "committed `full` LLM at the time: 0.877 (-0.007 against the reference)" in text


def test_the_rnn_throughput_line_gives_both_rates_and_the_ratio_against_its_goal(tmp_path):
    performance.publish("rnn_throughput", {
        "device": "cpu", "clock": "cpu", "threads": 1, "ratio_median": 0.931, "ratio_overall": 0.94,
        "tokens_per_second": {"hf_rnn": 9310.0, "bare": 10000.0}, "steps": 40, "batch_size": 32, "seq_len": 64,
        "hidden_size": 256, "num_layers": 2, "parameters": 8_000_000, "torch": "2.13.0", "other_load_cores": 1.2},
        tmp_path)
    text = performance.performance_section(tmp_path)
    assert "9,310 against 10,000 non-padding tokens/s, ratio **0.93**" in text
    assert "goal ≥ 0.95: **missed by 0.019**" in text and "32 sequences of 32-64 tokens" in text
    assert "**Measured on a busy machine:** other processes kept 1.20 of its cores busy" in text


def test_the_recurrent_speed_table_gives_each_models_rates_against_the_lstm_and_its_growth(tmp_path):
    def generation(ms_short, ms_long, lstm_short, lstm_long):
        return {"64": {"ms_per_token": ms_short, "time_ratio_to_lstm": ms_short / lstm_short},
                "2048": {"ms_per_token": ms_long, "time_ratio_to_lstm": ms_long / lstm_long}}

    performance.publish("recurrent_speed", {
        "threads": 1, "clock": "cpu", "width": 256, "layers": 2, "vocab_size": 4096, "batch_size": 16,
        "seq_len": 128, "rounds": 6, "contexts": [64, 2048], "new_tokens": 16, "gen_rounds": 2,
        "parameters": {"mamba2": 1_912_880, "lstm": 2_101_248, "llama": 2_621_696},
        "settings": {"mamba2": "chunked PyTorch path", "lstm": "fused nn.LSTM", "llama": "sdpa, DynamicCache"},
        "training": {"mamba2": {"tokens_per_second": 1400.0, "speed_ratio_to_lstm": 0.5},
                     "lstm": {"tokens_per_second": 2800.0, "speed_ratio_to_lstm": 1.0},
                     "llama": {"tokens_per_second": 2100.0, "speed_ratio_to_lstm": 0.75}},
        "generation": {"mamba2": generation(4.0, 4.0, 2.0, 2.0), "lstm": generation(2.0, 2.0, 2.0, 2.0),
                       "llama": generation(3.0, 6.0, 2.0, 2.0)},
        "other_load_cores": 1.4}, tmp_path)
    text = performance.performance_section(tmp_path)
    assert "| model | parameters | training tokens/s (× LSTM) | ms per token at 64 (× LSTM) | ms per token at 2048 " \
           "(× LSTM) |" in text
    assert "| Mamba-2 | 1,912,880 | 1,400 (0.50×) | 4.00 (2.00×) | 4.00 (2.00×) |" in text
    assert "| Llama | 2,621,696 | 2,100 (0.75×) | 3.00 (1.50×) | 6.00 (3.00×) |" in text
    assert "at a context of 2048 against 64: Mamba-2 1.00×, LSTM 1.00×, Llama 2.00×" in text
    assert "Mamba-2: chunked PyTorch path; LSTM: fused nn.LSTM; Llama: sdpa, DynamicCache" in text
    assert "**Measured on a busy machine:** other processes kept 1.40 of its cores busy" in text


@pytest.mark.parametrize("units, expected, absent", [
    (["avx512_bf16"], "This CPU has bf16 matrix units (avx512_bf16): the bf16 matrix product runs 2.17× as fast as "
                      "fp32's, while the training step uses 48% of that peak against fp32's 65%.", "emulated"),
    ([], "This CPU has no bf16 matrix units (neither AVX-512 BF16 nor AMX): bf16 is emulated", "runs 2.17×")])
def test_the_bf16_sentence_follows_the_cpus_matrix_units(tmp_path, units, expected, absent):
    doc = {**MFU, "bf16_over_fp32": 1.58, "machine": {"cpu": "AMD EPYC", "logical_cpus": 2, "allowed_cores": 1,
                                                      "bf16_matrix_units": units},
           "dtypes": {"fp32": {"tokens_per_second": 81.5, "model_flops_per_second": 66.9e9,
                               "peak_flops_per_second": 102.3e9, "mfu": 0.654},
                      "bf16": {"tokens_per_second": 128.9, "model_flops_per_second": 105.8e9,
                               "peak_flops_per_second": 222.0e9, "mfu": 0.476}}}
    performance.publish("llm_mfu", doc, tmp_path)
    text = performance.performance_section(tmp_path)
    assert "**1.58×** (goal ≥ 2×: **missed by 0.42×**)." in text
    assert expected in text and absent not in text


def test_a_published_file_records_no_absolute_path_of_the_machine(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["bench.py", "--json", "/elsewhere/x/out.json", "--results",
                                     str(tmp_path / "results"), "--steps", "3"])
    path = performance.publish("gpu_check", {"summary": {"ok": "yes"}, "results": str(tmp_path / "results"),
                                             "json": "/elsewhere/x/out.json"}, tmp_path / "results")
    doc = json.loads(path.read_text())
    assert doc["command"] == "bench.py --json out.json --results results --steps 3"
    assert doc["results"] == "results" and doc["json"] == "out.json"
