"""``hf_rnn.compare`` / ``hf-rnn compare`` / ``compare_runs``: every task, the report, reuse, bad input.

Each comparison trains its models in ``hf-rnn train`` subprocesses, as users run it, on tiny
budgets (3 steps, a few dozen examples) with a one-layer Llama standing in for SmolLM2; the
zero-shot reference row uses the real built-in model on a few test examples.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from hf_rnn import compare
from hf_rnn.cli import main as cli
from hf_rnn.comparison import compare as comparison
from hf_rnn.comparison import model_runs
from hf_rnn.comparison.compare import compare_runs
from hf_rnn.errors import ConfigError
from hf_rnn.runs.run import EVAL_PROGRESS, RunError, read_run
from hf_rnn.tasks import TASKS

# overrides every recipe accepts (RNN and LLM alike): tiny data, 3 steps, 2 evaluations
TINY = ["task.max_train_examples=40", "task.max_validation_examples=6", "task.max_test_examples=7",
        "training.max_steps=3", "training.batch_size=8", "training.eval_batch_size=8", "training.max_length=32",
        "training.eval_steps=2", "training.logging_steps=1", "training.warmup_steps=0",
        "training.max_new_tokens=6"]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def compared(tmp_path_factory, tiny_llama):
    """``{task: Comparison}``, each task compared once (its RNN recipe against the tiny LLM)."""
    cache = {}
    root = tmp_path_factory.mktemp("compare")

    def run(task):
        if task not in cache:
            # the zero-shot reference row loads the real 135M model: once, on the default task
            cache[task] = compare(task, ["rnn", str(tiny_llama)], "quick", root / task, overrides=TINY,
                                  zero_shot=task == "sentiment", progress=False)
        return cache[task]

    return run


@pytest.mark.parametrize("task", list(TASKS))
def test_every_task_can_be_compared(task, compared):
    c = compared(task)
    out = Path(c.output_dir)
    metric = TASKS[task].primary_metric
    trained = [r for r in c.rows if r.run_dir]
    assert [r.family for r in trained] == ["rnn", "llm"]
    # the reference row each task kind has, scored on the same test examples by the same metric
    wanted_refs = {"sentiment": ["majority class"], "pos": ["most frequent tag"], "textgen": ["char 5-gram"],
                   "translation": ["apertium"], "timeseries": ["seasonal-naive"]}[task]
    refs = [r for r in c.rows if r.family == "reference"]
    assert [r.name for r in refs] == wanted_refs
    for r in refs:
        assert r.metrics[metric] == r.metrics[metric] and r.parameters_trainable == 0 and r.note
    for r in trained:
        assert metric in r.metrics and r.metrics[metric] == r.metrics[metric]  # a number, not NaN
        assert r.parameters_total >= r.parameters_trainable > 0
        assert r.steps == 3 and r.train_seconds > 0 and r.tokens_per_second > 0
        assert 0 < r.latency_ms_p50 <= r.latency_ms_p95
        assert r.peak_memory_mb > 0
        # the row's metric is the run's own test result, on the same split for both
        run = read_run(r.run_dir)
        assert run.metrics.test[metric] == pytest.approx(r.metrics[metric])
    hashes = {json.dumps(read_run(r.run_dir).metrics.task.data_hash["test"]) for r in trained}
    assert len(hashes) == 1

    results = json.loads((out / "results.json").read_text())
    assert results["task"] == task and len(results["rows"]) == len(c.rows)
    seconds = TASKS[task].profiles["quick"].seconds
    assert results["budget"] == f"matched wall-clock budget: {seconds:g} s of training per model" + (
        "" if task == "timeseries" else ", on 40 training examples")
    report = (out / "report.md").read_text()
    assert f"# {task}: RNN vs LLM (quick profile)" in report and "| model | family |" in report
    assert report.count("\n| ") >= 1 + len(c.rows)
    for name in c.figures.values():  # every figure the report links exists and is a PNG
        assert f"]({name})" in report
        assert (out / name).read_bytes()[:8] == PNG_MAGIC
    assert {"learning_curves", "quality_vs_parameters"} <= set(c.figures)
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(c.figures)
    # the lecture's examples, answered by every model through the app's inference path
    wanted = TASKS[task].lecture_examples or ("first test window",)
    assert list(c.examples) == list(wanted) and "## The lecture's examples" in report
    for example in wanted:
        assert set(c.examples[example]) == {r.name for r in c.rows}
        assert all(answer and "rror" not in answer for answer in c.examples[example].values()), c.examples
        assert f"| {example} | " in report
    if task == "pos":  # one word/TAG pair per word of "Pass me the orange marker"
        assert all(len(a.split()) == 5 and "/" in a for a in c.examples[wanted[0]].values())
    assert 'src="http' not in page and "<link" not in page  # self-contained
    # every row's per-example predictions beside the report, and the paired tests on them
    from hf_rnn.runs.predictions import read_predictions

    for row in results["rows"]:
        found = read_predictions(out / row["predictions"])
        assert found.kind == TASKS[task].kind and len(found) > 0
        assert [r["index"] for r in found.records] == sorted({r["index"] for r in found.records})
    trained_files = [read_predictions(out / r["predictions"]) for r in results["rows"] if r["run_dir"]]
    sizes = {len(f) for f in trained_files}
    assert len(sizes) == 1 or task == "textgen"  # text generation: each tokenizer cuts its own blocks
    if task in ("sentiment", "pos", "translation"):  # every test example answered once
        assert sizes == {7}
    verdict = results["paired_tests"][0]
    assert verdict["role"] == "verdict" and {verdict["a"], verdict["b"]} == {r.name for r in trained}
    assert verdict["metric"] == metric and verdict["ci_low"] <= verdict["difference"] <= verdict["ci_high"]
    assert 0 <= verdict["p_value"] <= verdict["p_holm"] <= 1 and verdict["library"]
    assert report.startswith(f"# {task}: RNN vs LLM (quick profile)\n\n**Verdict.** ") and "## Paired tests" in report
    assert results["verdict"] and results["verdict"] in report


def test_the_sentiment_report_has_attention_from_both_families_and_the_zero_shot_row(compared):
    c = compared("sentiment")
    names = [r.name for r in c.rows]
    assert names[-2:] == ["smollm2 zero-shot", "majority class"] and TASKS["sentiment"].zero_shot
    zero = c.rows[-2]
    assert zero.parameters_trainable == 0 and zero.parameters_total > 100_000_000
    assert 0.0 <= zero.metrics["accuracy"] <= 1.0 and zero.metrics["num_examples"] == 7
    # the sentiment BiLSTM pools with attention, the LLM has self-attention: both maps and the pair
    assert "attention side by side" in c.figures
    assert sum(k.startswith("attention ") for k in c.figures) == 3


def test_a_second_comparison_reuses_the_zero_shot_scores(compared, tiny_llama, capsys):
    """Nothing trains in the zero-shot row: the same test split is scored once, then read back."""
    c = compared("sentiment")
    capsys.readouterr()
    again = compare("sentiment", ["rnn", str(tiny_llama)], "quick", c.output_dir, overrides=TINY, progress=True)
    err = capsys.readouterr().err
    assert "smollm2 zero-shot: reusing the scores" in err and "scoring the untrained" not in err
    assert [r for r in again.rows if r.role == "zero-shot"] == [r for r in c.rows if r.role == "zero-shot"]
    smaller = compare("sentiment", ["rnn"], "quick", c.output_dir, overrides=[*TINY, "task.max_test_examples=5"],
                      progress=True)
    assert "scoring the untrained" in capsys.readouterr().err  # another test split: scored again
    assert next(r for r in smaller.rows if r.role == "zero-shot").metrics["num_examples"] == 5


def test_a_finished_run_is_reused_and_a_changed_recipe_retrains(tmp_path, capsys, monkeypatch):
    c = compare("pos", ["rnn"], "quick", tmp_path, overrides=TINY, progress=False)
    rnn_dir = Path(c.rows[0].run_dir)
    before = (rnn_dir / "model.safetensors").stat().st_mtime_ns
    again = compare("pos", ["rnn"], "quick", tmp_path, overrides=TINY, progress=True)
    assert "reusing the finished run" in capsys.readouterr().err
    assert (rnn_dir / "model.safetensors").stat().st_mtime_ns == before
    assert again.rows[0].metrics == c.rows[0].metrics
    # the same report folder named another way (relative vs absolute) is the same run: still reused
    monkeypatch.chdir(tmp_path.parent)
    relative = compare("pos", ["rnn"], "quick", tmp_path.name, overrides=TINY, progress=True)
    assert "reusing the finished run" in capsys.readouterr().err and relative.rows[0].steps == c.rows[0].steps
    # a run saved before a recipe key existed (here tokenizer.char_level, default false) is still the same run
    saved = yaml.safe_load((rnn_dir / "config.yaml").read_text())
    del saved["tokenizer"]["char_level"]
    (rnn_dir / "config.yaml").write_text(yaml.safe_dump(saved, sort_keys=False))
    compare("pos", ["rnn"], "quick", tmp_path, overrides=TINY, progress=True)
    assert "reusing the finished run" in capsys.readouterr().err
    # a run from before per-example predictions were kept: trained again, so that its pairs can be tested
    (rnn_dir / "predictions.jsonl.gz").unlink()
    kept = compare("pos", ["rnn"], "quick", tmp_path, overrides=TINY, progress=True)
    assert "kept no per-example predictions" in capsys.readouterr().err
    assert (rnn_dir / "predictions.jsonl.gz").is_file() and kept.rows[0].predictions
    # one more step is another recipe: trained again, not reused
    other = compare("pos", ["rnn"], "quick", tmp_path, overrides=[*TINY, "training.max_steps=4"], progress=False)
    assert other.rows[0].steps == 4


def test_compare_runs_tells_two_runs_of_one_model_name_apart(tmp_path):
    first = compare("pos", ["rnn"], "quick", tmp_path / "a", overrides=TINY, progress=False)
    second = compare("pos", ["rnn"], "quick", tmp_path / "b", overrides=[*TINY, "training.seed=7"], progress=False)
    runs = [first.rows[0].run_dir, second.rows[0].run_dir]
    c = compare_runs(runs, tmp_path / "both", latency_examples=2)
    names = [r.name for r in c.rows if r.run_dir]
    assert len(set(names)) == 2 and all("/" in n for n in names)  # "bilstm (a/bilstm)", "bilstm (b/bilstm)"
    files = [r.predictions for r in c.rows if r.run_dir]
    assert len(set(files)) == 2 and all((tmp_path / "both" / f).is_file() for f in files)
    pair = next(t for t in c.paired_tests if {t["a"], t["b"]} == set(names))  # the two runs, not one twice
    assert pair["n"] > 0


def test_a_stopped_run_resumes_from_its_checkpoint(tmp_path, capsys, monkeypatch):
    """A comparison killed mid-run picks up where the run stopped (same recipe), not from step 0."""
    # learning rate 0: step 2 stays the best, so its checkpoint is kept beside the last one (step 4)
    keep = [*TINY, "training.max_steps=4", "training.keep_checkpoints=true", "training.learning_rate=0"]
    first = compare("pos", ["rnn"], "quick", tmp_path, overrides=keep, progress=False)
    run_dir = Path(first.rows[0].run_dir)
    (run_dir / "metrics.json").unlink()  # as if killed after the step-2 checkpoint
    checkpoints = sorted((run_dir / "checkpoints").iterdir())
    assert [c.name for c in checkpoints] == ["step-0000002", "step-0000004"]
    shutil.rmtree(checkpoints[1])
    monkeypatch.setattr(model_runs, "PROGRESS_SECONDS", 0.0)  # print every poll: a tiny run is over in seconds
    again = compare("pos", ["rnn"], "quick", tmp_path, overrides=keep, progress=True)
    err = capsys.readouterr().err
    assert "rnn: resuming from step-0000002" in err
    # live progress from the child's event stream: step, loss, the validation metric, the clock budget
    assert re.search(r"\[compare\] rnn: step \d, epoch [\d.]+, loss [\d.e+-]+, validation accuracy [\d.]+, "
                     r"\d+ of 120 s trained", err), err
    assert again.rows[0].steps == 4
    for key, value in first.rows[0].metrics.items():
        assert again.rows[0].metrics[key] == pytest.approx(value, abs=1e-6), key
    # results.json is portable: run folders relative to it, no absolute output folder
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["rows"][0]["run_dir"] == "rnn" and "output_dir" not in doc
    assert doc["date"] and doc["budget_kind"] == "seconds" and doc["rows"][0]["examples"] == 4 * 8
    assert not (run_dir / EVAL_PROGRESS).exists()  # the evaluation's progress file goes with the evaluation


def test_the_progress_line_says_which_evaluation_is_under_way(tmp_path):
    from hf_rnn.comparison.model_runs import progress_line
    from hf_rnn.training.recipes import load_recipe

    recipe = load_recipe("sentiment", "bilstm", overrides=["training.max_seconds=60"])
    log = tmp_path / "metrics.jsonl"
    log.write_text(json.dumps({"event": "train", "step": 7, "epoch": 0.5, "loss": 0.61, "train_seconds": 20.0})
                   + "\n{\"event\": \"tra")  # a line being written is skipped
    assert progress_line(log, recipe) == "step 7, epoch 0.50, loss 0.61, 20 of 60 s trained"
    (tmp_path / EVAL_PROGRESS).write_text(json.dumps({"split": "test", "step": 7, "batches": 3, "of": 34}))
    assert "scoring test: batch 3 of 34" in progress_line(log, recipe)
    (tmp_path / EVAL_PROGRESS).write_text("{half")  # being rewritten: ignored, not an error
    assert "scoring" not in progress_line(log, recipe)


def test_seeds_train_each_model_again_and_the_report_says_whether_the_verdict_holds(compared, tiny_llama, capsys):
    c = compared("pos")
    out = Path(c.output_dir)
    capsys.readouterr()
    again = compare("pos", ["rnn", str(tiny_llama)], "quick", out, overrides=TINY, zero_shot=False, progress=True,
                    seeds=2)
    err = capsys.readouterr().err
    assert err.count("reusing the finished run") == 2  # seed 1 is the comparison's own runs
    llm_folder = Path([r.run_dir for r in c.rows if r.family == "llm"][0]).name
    for folder in ("rnn-seed2", f"{llm_folder}-seed2"):
        assert (out / folder / "predictions.jsonl.gz").is_file()
        assert yaml.safe_load((out / folder / "config.yaml").read_text())["training"]["seed"] == 43
    seeds = json.loads((out / "results.json").read_text())["seeds"]
    assert seeds == again.seeds and seeds["count"] == 2
    for m in seeds["per_model"].values():
        assert m["training_seeds"] == [42, 43] and len(m["values"]) == 2
        assert m["mean"] == pytest.approx(sum(m["values"]) / 2) and m["std"] >= 0
        assert len(m["train_seconds"]) == 2 and all(t > 0 for t in m["train_seconds"])  # what took() sums
    rnn = next(r for r in again.rows if r.family == "rnn")
    assert seeds["per_model"][rnn.name]["values"][0] == pytest.approx(rnn.metrics["accuracy"])
    assert [s["seed"] for s in seeds["verdict_per_seed"]] == [1, 2]
    assert all("difference" in s and 0 <= s["p_value"] <= 1 for s in seeds["verdict_per_seed"])
    report = (out / "report.md").read_text()
    assert "## Seeds" in report and seeds["holds"] in report and "of 2" in seeds["holds"]
    # the verdict pair once over both seeds: each sentence's score averaged over its model's two runs
    averaged = seeds["averaged"]
    assert {averaged["a"], averaged["b"]} == {s for s in seeds["per_model"]} and "mean over 2 seeds" in averaged["test"]
    for side in ("a", "b"):
        assert averaged[f"value_{side}"] == pytest.approx(seeds["per_model"][averaged[side]]["mean"], rel=1e-6)
    assert averaged["ci_low"] <= averaged["ci_high"] and 0 <= averaged["p_value"] <= 1
    assert "Every seed at once (" in report and "**Verdict.** Each test example's score averaged" in report
    assert report.index(seeds["holds"]) < report.index("Seed 1's runs alone (the table below): ")
    rows = {r.name: r for r in again.rows}
    for name, m in seeds["per_model"].items():  # seed 2's predictions beside seed 1's in the report folder
        assert m["predictions"] == [rows[name].predictions, rows[name].predictions.replace(".jsonl.gz", "-seed2.jsonl.gz")]
        assert all((out / p).is_file() for p in m["predictions"])


def test_runs_from_before_predictions_are_compared_and_the_report_says_a_rerun_is_needed(compared, tmp_path):
    from hf_rnn.report.verdict import NO_PREDICTIONS

    old = []
    for row in compared("timeseries").rows:
        if row.run_dir:
            folder = tmp_path / Path(row.run_dir).name
            shutil.copytree(row.run_dir, folder)
            (folder / "predictions.jsonl.gz").unlink()
            old.append(folder)
    c = compare_runs(old, tmp_path / "report")
    assert c.paired_tests == [] and c.verdict == NO_PREDICTIONS and all(r.predictions is None for r in c.rows)
    assert f"**Verdict.** {NO_PREDICTIONS}" in (tmp_path / "report" / "report.md").read_text()


def test_cli_compare_and_compare_runs(compared, tmp_path, capsys):
    c = compared("timeseries")
    runs = [r.run_dir for r in c.rows if r.run_dir]
    assert cli(["compare", "--runs", *runs, "--output-dir", str(tmp_path / "again")]) == 0
    printed = capsys.readouterr().out
    assert "| model | family | mae |" in printed and "report:" in printed
    assert json.loads((tmp_path / "again" / "results.json").read_text())["profile"] == "runs"


# =========================================================================== bad input


@pytest.mark.parametrize("kwargs, message", [
    (dict(task="sentimental"), "unknown task 'sentimental'"),
    (dict(task="sentiment", models=[]), "the model list is empty"),
    (dict(task="sentiment", models=["bilstm", "bilstm"]), "named twice"),
    (dict(task="sentiment", profile="medium"), "unknown profile 'medium'"),
    (dict(task="sentiment", models=["bilstm"], overrides=["training.learning_rat=1"]), "learning_rat"),
    (dict(task="sentiment", models=["bilstm"], seeds=0), "seeds must be a whole number from 1 to 20"),
    (dict(task="sentiment", models=["bilstm"], seeds="3"), "seeds must be a whole number"),
])
def test_bad_arguments_fail_before_any_training(kwargs, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        compare(output_dir=tmp_path / "out", progress=False, **kwargs)
    assert not any((tmp_path / "out").glob("*/metrics.json"))


def test_two_llm_folders_of_one_name_train_into_two_run_folders(tmp_path, tiny_llama, monkeypatch):
    """``/a/model`` and ``/b/model``: a folder each, whatever their order; their rows are told apart too. The
    comparison, stopped before anything is written, leaves no empty report folder."""
    a, b = tmp_path / "a" / "model", tmp_path / "b" / "model"
    for folder in (a, b):
        shutil.copytree(tiny_llama, folder)
    trained = {}

    def train(name, recipe, reuse, progress):  # record where each would train; stop before the first training
        trained[name] = (Path(recipe.output_dir).name, recipe.model.name)
        if len(trained) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(comparison, "train_or_reuse", train)
    for models in ([str(a), str(b)], [str(b), f"{a}/"]):
        trained.clear()
        with pytest.raises(KeyboardInterrupt):
            compare("sentiment", [*models, "rnn"], "quick", tmp_path / "report", overrides=TINY, progress=False)
        assert sorted(trained.values()) == [("a_model", "a_model"), ("b_model", "b_model")], trained
        assert not (tmp_path / "report").exists()
    # clashing case aside (a macOS disk), with the parent folder, then a hash of the name; never "..", the parent
    names = model_runs.folder_names(["x/Model", "y/model", "rnn", "..", "org/a_b", "a b", "a_b"])
    assert {k: v for k, v in names.items() if k not in ("a b", "a_b")} == {
        "x/Model": "x_Model", "y/model": "y_model", "rnn": "rnn", "..": "model", "org/a_b": "org_a_b"}
    assert re.fullmatch(r"a_b-[0-9a-f]{8}", names["a b"]) and re.fullmatch(r"a_b-[0-9a-f]{8}", names["a_b"])
    assert len({n.lower() for n in names.values()}) == len(names)
    assert model_runs.folder_names(["a_b", "a b"]) == {"a b": names["a b"], "a_b": names["a_b"]}  # any order


def test_runs_of_different_tasks_splits_or_tokenizers_are_refused(compared, tmp_path):
    pos = [r.run_dir for r in compared("pos").rows if r.run_dir]
    sentiment = [r.run_dir for r in compared("sentiment").rows if r.run_dir]
    with pytest.raises(RunError, match="trained on task 'sentiment' but .* on 'pos'"):
        compare_runs([pos[0], sentiment[0]], tmp_path / "x")

    # the same run with a different test split
    other_split = tmp_path / "other-split"
    shutil.copytree(pos[1], other_split)
    metrics = json.loads((other_split / "metrics.json").read_text())
    metrics["task"]["data_hash"]["test"] = "0" * 16
    metrics["task"]["sizes"]["test"] = 99
    (other_split / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(RunError, match="different pos test splits .*sizes 7 and 99"):
        compare_runs([pos[0], other_split], tmp_path / "x")

    # a different tokenizer: fine where the metric is on words (POS accuracy), refused where it is
    # per token (perplexity) unless asked for
    def with_other_tokenizer(run_dir, name):
        folder = tmp_path / name
        shutil.copytree(run_dir, folder)
        metrics = json.loads((folder / "metrics.json").read_text())
        metrics["tokenizer"] = {**metrics["tokenizer"], "hash": "f" * 16, "name_or_path": "word-level"}
        (folder / "metrics.json").write_text(json.dumps(metrics))
        return folder

    assert len(compare_runs([pos[0], with_other_tokenizer(pos[1], "pos-words")], tmp_path / "p").rows) == 2
    # text generation is scored in bits per character: any tokenizers compare
    textgen = [r.run_dir for r in compared("textgen").rows if r.run_dir]
    other_tok = with_other_tokenizer(textgen[1], "textgen-words")
    assert compare_runs([textgen[0], other_tok], tmp_path / "t").rows[0].metrics["bpc"] > 0
    # a run scored by perplexity alone (per token) still needs one tokenizer, unless asked for
    for folder in (Path(textgen[0]), other_tok):
        metrics = json.loads((folder / "metrics.json").read_text())
        metrics["task"]["primary_metric"] = "perplexity"
        (folder / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(RunError, match="different tokenizers .*word-level.*scored per token"):
        compare_runs([textgen[0], other_tok], tmp_path / "x")
    assert compare_runs([textgen[0], other_tok], tmp_path / "y", allow_different_tokenizers=True).rows


def test_a_run_folder_with_missing_files_is_named(compared, tmp_path, capsys):
    rnn = compared("pos").rows[0].run_dir
    broken = tmp_path / "broken"
    shutil.copytree(rnn, broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(RunError, match=r"broken is missing model weights"):
        compare_runs([rnn, broken], tmp_path / "x")
    with pytest.raises(RunError, match="nothing to compare"):
        compare_runs([], tmp_path / "x")
    # from the shell: one line, exit status 2
    assert cli(["compare", "--runs", str(rnn), str(tmp_path / "nowhere"), "--output-dir", str(tmp_path / "z")]) == 2
    err = capsys.readouterr().err
    assert "run folder not found" in err and "Traceback" not in err


def test_every_task_has_a_default_model_set_with_all_three_families():
    from hf_rnn.families import family_for_model_name

    for task in TASKS:
        families = {family_for_model_name(m).name for m in TASKS[task].default_models}
        assert families == {"rnn", "mamba2", "llm"}, task


def test_a_profile_matches_seconds_or_epochs_and_the_report_says_which():
    from hf_rnn.comparison.budget import budget_line
    from hf_rnn.comparison.compare import Profile, profile_overrides
    from hf_rnn.training.recipes import load_recipe

    by_time = Profile("t", 90, train_examples=500)
    by_epochs = Profile("e", None, epochs=2)
    recipes = [load_recipe("sentiment", m, overrides=profile_overrides(by_time, f, 30))
               for m, f in (("bilstm", "rnn"), ("smollm2", "llm"))]
    assert {(r.training.max_seconds, r.task.max_train_examples) for r in recipes} == {(90, 500)}
    assert recipes[1].model.freeze_layers == 0  # only the quick profile freezes the lower layers
    assert budget_line(recipes) == "matched wall-clock budget: 90 s of training per model, on 500 training examples"

    recipes = [load_recipe("sentiment", m, overrides=profile_overrides(by_epochs, f, 30))
               for m, f in (("bilstm", "rnn"), ("smollm2", "llm"))]
    assert {(r.training.epochs, r.training.max_seconds, r.training.max_steps) for r in recipes} == {(2, None, None)}
    assert budget_line(recipes).startswith("matched budget: 2 epochs of training per model")

    # each family at its own schedule (the sentiment LLM decays over 1.25 epochs): the line names each count
    own = Profile("e", None, epochs=3, extra={"llm": ["training.epochs=1.25"]})
    recipes = [load_recipe("sentiment", m, overrides=profile_overrides(own, f, 30))
               for m, f in (("bilstm", "rnn"), ("smollm2", "llm"))]
    assert budget_line(recipes).startswith(
        "budget in epochs over the same training data, each model at its own schedule: bilstm 3, smollm2 1.25")

    # one model's own schedule, after its family's: the other model of the family keeps the family's
    per_model = Profile("e", None, epochs=3, extra={"llm": ["training.epochs=1"], "smollm2": ["training.epochs=2"]})
    recipes = [load_recipe("sentiment", "smollm2", overrides=profile_overrides(per_model, "llm", 30, m))
               for m in ("smollm2", "smollm2-other")]
    assert [r.training.epochs for r in recipes] == [2, 1]

    quick = load_recipe("sentiment", "smollm2", overrides=profile_overrides(TASKS["sentiment"].profiles["quick"], "llm", 30))
    assert quick.model.freeze_layers == 22  # SmolLM2's 30 layers: the top 8 train


def test_report_html_renders_markdown_code_links_and_tables_and_inlines_figures(tmp_path):
    import base64
    from types import SimpleNamespace

    from hf_rnn.report.markdown import _html

    (tmp_path / "curve.png").write_bytes(PNG_MAGIC + b"rest of a png")
    lines = ["# pos: RNN vs LLM", "", "Run `hf-rnn compare pos` or see [the lecture](https://example.org/rnn).", "",
             "| input | bilstm |", "|---|---|", "| <script>alert(1)</script> | a \\| b |", "",
             "![learning curves](curve.png)"]
    page = _html(SimpleNamespace(task="pos"), lines, tmp_path)
    assert "<code>hf-rnn compare pos</code>" in page and "`" not in page
    assert '<a href="https://example.org/rnn">the lecture</a>' in page
    assert "<th>input</th>" in page and "<td>a | b</td>" in page
    assert "<script>" not in page and "&lt;script&gt;" in page  # a model's answer is text, never markup
    assert f'src="data:image/png;base64,{base64.b64encode(PNG_MAGIC + b"rest of a png").decode()}"' in page
    assert "curve.png" not in page  # nothing left to fetch: the page travels alone


def test_the_zero_shot_forecast_in_the_report_reads_the_compared_series(tmp_path):
    """On the CO2 series the zero-shot LLM (which has no run to say which series) forecasts CO2's first test
    window, beside the trained run, not the default series' window."""
    from hf_rnn.comparison.lecture_answers import lecture_outputs
    from hf_rnn.comparison.schema import ModelResult

    out = tmp_path / "cmp"
    assert cli(["train", "--task", "timeseries", "--model", "lstm", "--output-dir", str(out / "lstm"),
                "task.options.series=co2", "task.options.context_length=52", "training.max_steps=2",
                "training.progress_bar=false", "model.num_layers=1", "model.hidden_size=8"]) == 0
    rows = [ModelResult("lstm", "rnn", str(out / "lstm"), {}, 1, 1, None, None, None, None, None, role="trained"),
            ModelResult("smollm2 zero-shot", "llm", None, {}, 1, 0, None, None, None, None, None, role="zero-shot")]
    answers = lecture_outputs("timeseries", rows, out)["first test window"]
    truths = {name: answer.rsplit("(truth ", 1)[-1] for name, answer in answers.items()}
    assert truths["smollm2 zero-shot"] == truths["lstm"], answers  # the same CO2 window (values near 360)
    assert float(truths["lstm"].rstrip(")")) > 300


def test_a_profile_trains_a_slow_model_fewer_seeds_and_the_report_says_why(compared, tiny_llama, monkeypatch):
    """``Profile.seed_limits``: an LLM whose one run takes hours trains once; it meets every seed of the RNN."""
    import dataclasses

    from hf_rnn.comparison.profiles import Profile
    from hf_rnn.tasks import TASKS

    limited = Profile("quick", 60, seed_limits={"llm": (1, "one run takes hours"), "x": (2, "")})
    assert limited.seeds_for("smollm2", "llm", 3) == (1, "one run takes hours")
    assert limited.seeds_for("x", "llm", 3) == (2, "")  # the model's own name wins over its family's
    assert limited.seeds_for("bilstm", "rnn", 3) == (3, None) and limited.seeds_for("smollm2", "llm", 1) == (1, None)

    c = compared("pos")
    out = Path(c.output_dir)
    profiles = dict(TASKS["pos"].profiles)
    profiles["quick"] = dataclasses.replace(profiles["quick"], seed_limits={"llm": (1, "one run takes hours")})
    monkeypatch.setattr(TASKS["pos"], "profiles", profiles)
    again = compare("pos", ["rnn", str(tiny_llama)], "quick", out, overrides=TINY, zero_shot=False, progress=False,
                    seeds=3)
    assert (out / "rnn-seed3").is_dir()
    per_model = again.seeds["per_model"]
    llm = next(r.name for r in again.rows if r.family == "llm")
    rnn = next(r.name for r in again.rows if r.family == "rnn")
    assert len(per_model[llm]["values"]) == 1 and per_model[llm]["std"] is None
    assert per_model[llm]["training_seeds"] == [42] and per_model[rnn]["training_seeds"] == [42, 43, 44]
    assert per_model[llm]["fewer_seeds"] == "one run takes hours" and "fewer_seeds" not in per_model[rnn]
    assert len(per_model[rnn]["values"]) == 3
    assert [s["seed"] for s in again.seeds["verdict_per_seed"]] == [1, 2, 3]  # the one LLM run against each
    assert "of 3" in again.seeds["holds"] and "trained once meets every seed" in again.seeds["holds"]
    report = (out / "report.md").read_text()
    assert f"{llm} trained once: one run takes hours." in report
    # a tagger has no zero-shot row, and the report says why rather than leaving it out silently
    assert "- No zero-shot row: an LLM reads a token-classification task only through a trained head" in report
