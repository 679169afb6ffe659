"""Your own data in one flag: ``--data FILE`` with the task's options as flags (CLI) or keywords (Python), for
every task kind; the descriptions follow the data; contradictions and bad values fail before any folder."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from hf_rnn.cli import main as cli
from hf_rnn.errors import ConfigError, DataError, HfRnnError
from hf_rnn.tasks.user_data import data_overrides

TINY = ["task.max_train_examples=40", "task.max_validation_examples=6", "task.max_test_examples=7",
        "training.max_steps=2", "training.batch_size=8", "training.eval_batch_size=8", "training.max_length=32",
        "training.eval_steps=2", "training.logging_steps=1", "training.warmup_steps=0",
        "training.max_new_tokens=4"]

WORDS = "the cat sat on a mat and ran to see an old dog by the red barn in spring".split()


def _files(tmp: Path) -> dict[str, tuple[Path, list[str]]]:
    """One small file per task, each with its own column names, and the flags that read it."""
    tmp.mkdir(parents=True, exist_ok=True)
    reviews = tmp / "my_reviews.csv"
    reviews.write_text("review,stars\n" + "".join(
        f"\"{'a great fun film' if i % 2 else 'a dull awful mess'} number {i}\",{'good' if i % 2 else 'bad'}\n"
        for i in range(80)), encoding="utf-8")
    tags = tmp / "my_tags.jsonl"
    tags.write_text("".join(json.dumps({"words": WORDS[i % 5:i % 5 + 6], "pos": ["X", "N", "V", "X", "N", "V"]})
                            + "\n" for i in range(80)), encoding="utf-8")
    passages = tmp / "my_passages.csv"
    passages.write_text("passage\n" + "".join(f"\"{' '.join(WORDS[i % 7:] + WORDS[:i % 7])} {i}\"\n"
                                              for i in range(120)), encoding="utf-8")
    pairs = tmp / "my_pairs.tsv"
    pairs.write_text("en\tes\n" + "".join(f"the dog {i}\tel perro {i}\n" for i in range(80)), encoding="utf-8")
    series = tmp / "my_series.csv"
    series.write_text("y\n" + "".join(f"{10 + 5 * math.sin(i / 4):.3f}\n" for i in range(400)), encoding="utf-8")
    return {
        "sentiment": (reviews, ["--text-column", "review", "--label-column", "stars"]),
        "pos": (tags, ["--tokens-column", "words", "--tags-column", "pos"]),
        "textgen": (passages, ["--text-column", "passage"]),
        "translation": (pairs, ["--source-column", "en", "--target-column", "es"]),
        "timeseries": (series, ["--value-column", "y", "--season", "25"]),
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return _files(tmp_path_factory.mktemp("user_data"))


@pytest.mark.parametrize("task", ["sentiment", "pos", "textgen", "translation", "timeseries"])
def test_train_reads_your_file_through_flags(task, files, tmp_path, capsys):
    path, flags = files[task]
    out = tmp_path / "run"
    assert cli(["train", "--task", task, "--model", "rnn", "--data", str(path), *flags, "--output-dir", str(out),
                *TINY]) == 0
    recipe = (out / "config.yaml").read_text(encoding="utf-8")
    assert path.name in recipe  # the run records where its data came from
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["task"]["source"] == str(path)
    card = (out / "README.md").read_text(encoding="utf-8")
    assert path.name in card and "built-in" not in card.split("## ")[0]


def test_tasks_describes_your_file_not_the_builtin_corpus(files, capsys):
    path, flags = files["sentiment"]
    assert cli(["tasks", "--task", "sentiment", "--data", str(path), *flags]) == 0
    out = capsys.readouterr().out
    assert f"your file {path.name}" in out and "labels (2): bad, good" in out
    assert "Movie-review" not in out and "Pang" not in out


def test_python_compare_takes_data_and_options_and_names_the_report_after_the_file(files, tmp_path):
    from hf_rnn import compare

    path, _ = files["sentiment"]
    c = compare("sentiment", ["rnn"], "quick", tmp_path / "report", zero_shot=False, overrides=TINY,
                progress=False, data=path, text_column="review", label_column="stars")
    report = Path(c.output_dir, "report.md").read_text(encoding="utf-8")
    assert f"your file {path.name}" in report
    assert c.variant == "my_reviews"
    doc = json.loads(Path(c.output_dir, "results.json").read_text(encoding="utf-8"))
    assert doc["variant"] == "my_reviews"


def test_the_default_report_folder_of_your_data_is_its_own(files, tmp_path, monkeypatch):
    from hf_rnn.comparison.compare import comparison_variant
    from hf_rnn.training.recipes import load_recipe

    path, _ = files["timeseries"]
    overrides = data_overrides("timeseries", path, {"value_column": "y", "season": 25})
    recipe = load_recipe("timeseries", "lstm", overrides=overrides)
    assert recipe.task.source == str(path) and recipe.task.options["value_column"] == "y"
    assert comparison_variant("timeseries", "lstm", recipe) == "my_series"
    assert comparison_variant("timeseries", "lstm", load_recipe("timeseries", "lstm")) is None


def test_a_source_that_yaml_would_read_as_a_number_or_null_stays_a_string():
    from hf_rnn.training.recipes import load_recipe

    for source in ("2024", "null", "1e3"):  # a Hub id or file name that YAML reads as 2024, None, 1000.0
        recipe = load_recipe("sentiment", "bilstm", overrides=data_overrides("sentiment", source, {}))
        assert recipe.task.source == source


# (case id, argv after the task/model/data, a phrase the one error line must name)
BAD_CLI = [
    ("missing file", ["--data", "{TMP}/nope.csv"], "nope.csv"),
    ("column flag without data", ["--text-column", "review"], "--data"),
    ("flag of another task", ["--data", "{REVIEWS}", "--value-column", "y"], "--value-column"),
    ("contradicting source override", ["--data", "{REVIEWS}", "task.source=other.csv"], "keep one"),
    ("contradicting option override", ["--data", "{REVIEWS}", "--text-column", "review",
                                       "task.options.text_column=txt"], "disagree"),
    ("resume with data", ["--data", "{REVIEWS}", "--resume"], "--resume"),
    ("bad bool", ["--data", "{REVIEWS}", "--repeat-input", "maybe"], "true or false"),
]


@pytest.mark.parametrize("case,argv,phrase", BAD_CLI, ids=[c[0] for c in BAD_CLI])
def test_bad_data_flags_are_one_line_before_any_folder(case, argv, phrase, files, tmp_path, capsys):
    reviews, _ = files["sentiment"]
    argv = [a.replace("{TMP}", str(tmp_path)).replace("{REVIEWS}", str(reviews)) for a in argv]
    out = tmp_path / "run"
    with pytest.raises(SystemExit) if case == "bad bool" else _no_raise():
        code = cli(["train", "--task", "sentiment", "--model", "bilstm", "--output-dir", str(out), *argv])
        assert code == 2
    err = capsys.readouterr().err
    assert phrase in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if "error" in line]) == 1
    assert not out.exists()


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("kwargs,error,phrase", [
    ({"data": "{REVIEWS}", "text_colum": "review"}, ConfigError, "did you mean 'text_column'"),
    ({"data": "{REVIEWS}", "season": 0}, ConfigError, "nor an option of task 'sentiment'"),
    ({"zero_shots": False}, ConfigError, "did you mean 'zero_shot'"),
    ({"data": "{REVIEWS}", "label_column": ""}, DataError, "label_column must be a non-empty string"),
    ({"text_column": "review"}, ConfigError, "--data"),
    ({"data": 12}, ConfigError, "data must be"),
    ({"data": "{TMP}/missing.csv"}, DataError, "missing.csv"),
], ids=["misspelled option", "option of another task", "misspelled argument", "empty column name",
        "column without data", "data not a path", "missing"])
def test_python_compare_checks_its_data_before_training(kwargs, error, phrase, files, tmp_path):
    from hf_rnn import compare

    reviews, _ = files["sentiment"]
    kwargs = {k: v.replace("{TMP}", str(tmp_path)).replace("{REVIEWS}", str(reviews)) if isinstance(v, str) else v
              for k, v in kwargs.items()}
    with pytest.raises(error, match=phrase.replace("(", r"\(")) as info:
        compare("sentiment", ["bilstm"], "quick", tmp_path / "out", progress=False, **kwargs)
    assert isinstance(info.value, HfRnnError)
    assert not (tmp_path / "out").exists()


def test_python_train_recipe_takes_data_and_options(files, tmp_path):
    from hf_rnn import train_recipe
    from hf_rnn.training.recipes import load_recipe

    path, _ = files["translation"]
    run = train_recipe(load_recipe("translation", "rnn"), tmp_path / "run", TINY, data=path, source_column="en",
                       target_column="es")
    assert run.metrics.task.source == str(path) and run.metrics.task.sizes["test"] <= 7
    with pytest.raises(ConfigError, match="did you mean 'overwrite'"):
        train_recipe(load_recipe("translation", "rnn"), tmp_path / "other", TINY, overwrit=True)
    assert not (tmp_path / "other").exists()


def test_the_app_labels_a_run_with_its_data_file(files, tmp_path):
    from hf_rnn.app.choices import list_choices

    path, flags = files["sentiment"]
    assert cli(["train", "--task", "sentiment", "--model", "rnn", "--data", str(path), *flags,
                "--output-dir", str(tmp_path / "runs" / "mine"), *TINY]) == 0
    labels = [c.label for c in list_choices(tmp_path / "runs", "sentiment", "smollm2")]
    assert any("data my_reviews.csv" in label for label in labels), labels
