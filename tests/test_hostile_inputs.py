"""Bad input, tried as a hostile user would: every case ends in one line that names the problem, never a
traceback, a hang or a half-made folder.

- CLI: exit status 2, one ``hf-rnn CMD: error: ...`` line on stderr, the output folder not created.
- Python API: one ``HfRnnError`` subclass whose message names the bad value.
- Properties (hypothesis, derandomized so that every run checks the same examples): any value of any task
  option either loads or is a ``DataError``; any label column becomes classes or one ``DataError`` (it found
  that a numeric label of 1e308 asked for 10^308 class names).

The app's endpoints have their own hostile inputs in ``test_app.py`` (empty, control characters, huge texts,
escaping model names, bad windows), answered in the page.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hf_rnn.cli import main as cli
from hf_rnn.errors import ConfigError, DataError, HfRnnError, InputError, ModelLoadError


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _files(tmp: Path) -> dict[str, Path]:
    """Hostile data files: each wrong in one way."""
    tmp.mkdir(parents=True, exist_ok=True)
    return {
        "missing": tmp / "nope.csv",
        "empty": _write(tmp / "empty.csv", ""),
        "binary": tmp.joinpath("noise.csv"),
        "no_label_column": _write(tmp / "nolabel.csv", "text,stars\ngood,1\nbad,0\nok,1\n"),
        "missing_label": _write(tmp / "gap.csv", "text,label\ngood,pos\nbad,\nfine,pos\nmeh,neg\n"),
        "nan_label": _write(tmp / "nan.csv", "text,label\ngood,pos\nbad,NaN\nfine,pos\nmeh,neg\n"),
        "mixed_json": _write(tmp / "mixed.json", '[{"text":"a","label":1},{"text":"b","label":"abc"},'
                                                 '{"text":"c","label":0}]'),
        "long_pairs": _write(tmp / "long.tsv", "source\ttarget\n" + "\n".join(
            f"{'word ' * 40}\t{'palabra ' * 40}" for _ in range(12))),
        "empty_tag": _write(tmp / "tags.txt", "The/DET cat/ sat/VERB\nA/DET dog/NOUN ran/VERB\n" * 3),
        "text_values": _write(tmp / "values.csv", "value\n1\n2\nthree\n4\n"),
        # hypothesis found it: ids 0..max become classes, so a label of 1e308 once asked for 22 GB
        "huge_label": _write(tmp / "huge.json", '[{"text":"a","label":0},{"text":"b","label":1e308},'
                                                '{"text":"c","label":1}]'),
        "bad_yaml": _write(tmp / "bad.yaml", "task: [unclosed\n"),
        "list_yaml": _write(tmp / "list.yaml", "- just\n- a list\n"),
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    found = _files(tmp_path_factory.mktemp("hostile"))
    found["binary"].write_bytes(bytes(range(256)) * 8)
    loop = found["loop"] = found["empty"].parent / "loop-a"
    loop.symlink_to(loop.parent / "loop-b")
    (loop.parent / "loop-b").symlink_to(loop)  # a -> b -> a: every lookup through it is ELOOP
    found["a_file"] = found["empty"]
    return found


# (case id, argv with {FILE} / {OUT} placeholders, a phrase the one error line must contain)
CLI_CASES = [
    ("unknown task", ["train", "--task", "sentimnt", "--model", "bilstm"], "sentimnt"),
    ("unknown model", ["train", "--task", "sentiment", "--model", "transformer-xl-9000"], "transformer-xl-9000"),
    ("override without =", ["train", "--task", "sentiment", "--model", "bilstm", "training.learning_rate"],
     "training.learning_rate"),
    ("misspelled key", ["train", "--task", "sentiment", "--model", "bilstm", "training.learnig_rate=1"],
     "did you mean 'training.learning_rate'"),
    ("nan rate", ["train", "--task", "sentiment", "--model", "bilstm", "training.learning_rate=nan"], "finite"),
    ("zero batch", ["train", "--task", "sentiment", "--model", "bilstm", "training.batch_size=0"], "batch_size"),
    ("negative epochs", ["train", "--task", "pos", "--model", "bilstm", "training.epochs=-1"], "epochs"),
    ("word list for a number", ["train", "--task", "pos", "--model", "bilstm", "model.hidden_size=big"],
     "hidden_size"),
    ("bad task option type", ["train", "--task", "timeseries", "--model", "lstm",
                              "task.options={context_length: abc}"], "context_length"),
    ("season zero", ["train", "--task", "timeseries", "--model", "lstm", "task.options={season: 0}"], "season"),
    ("negative decimals", ["train", "--task", "timeseries", "--model", "smollm2", "task.options={decimals: -1}"],
     "decimals"),
    ("unknown task option", ["train", "--task", "translation", "--model", "rnn", "task.options={max_word: 5}"],
     "did you mean 'max_words'"),
    ("options not a mapping", ["train", "--task", "sentiment", "--model", "bilstm", "task.options=7"],
     "task.options"),
    ("resume without folder", ["train", "--task", "sentiment", "--model", "bilstm", "--resume"], "--output-dir"),
    ("resume empty folder", ["train", "--task", "sentiment", "--model", "bilstm", "--resume", "--output-dir", "{OUT}"],
     "nothing to resume"),
    ("missing recipe file", ["train", "--config", "{FILE:missing}"], "no recipe file"),
    ("broken recipe yaml", ["train", "--config", "{FILE:bad_yaml}"], "bad.yaml"),
    ("recipe not a mapping", ["train", "--config", "{FILE:list_yaml}"], "list.yaml"),
    ("missing data file", ["train", "--task", "sentiment", "--model", "bilstm", "task.source={FILE:missing}"],
     "nope.csv"),
    ("tasks: unknown", ["tasks", "--task", "weather"], "weather"),
    ("tasks: missing file", ["tasks", "--task", "sentiment", "--source", "{FILE:missing}"], "nope.csv"),
    ("tasks: empty file", ["tasks", "--task", "sentiment", "--source", "{FILE:empty}"], "empty"),
    ("tasks: binary file", ["tasks", "--task", "sentiment", "--source", "{FILE:binary}"], "noise.csv"),
    ("tasks: no label column", ["tasks", "--task", "sentiment", "--source", "{FILE:no_label_column}"], "label"),
    ("tasks: missing label", ["tasks", "--task", "sentiment", "--source", "{FILE:missing_label}"],
     "missing label"),
    ("tasks: NaN label", ["tasks", "--task", "sentiment", "--source", "{FILE:nan_label}"], "'NaN'"),
    ("tasks: mixed labels", ["tasks", "--task", "sentiment", "--source", "{FILE:mixed_json}"], "'abc'"),
    ("tasks: every pair too long", ["tasks", "--task", "translation", "--source", "{FILE:long_pairs}"],
     "max_words"),
    ("tasks: empty tag", ["tasks", "--task", "pos", "--source", "{FILE:empty_tag}"], "tag"),
    ("tasks: text in a series", ["tasks", "--task", "timeseries", "--source", "{FILE:text_values}"], "three"),
    ("compare: unknown task", ["compare", "--task", "chess", "--output-dir", "{OUT}"], "chess"),
    ("compare: empty model list", ["compare", "--task", "sentiment", "--models", ",", "--output-dir", "{OUT}"],
     "empty"),
    ("compare: a model twice", ["compare", "--task", "sentiment", "--models", "bilstm,bilstm", "--output-dir",
                                "{OUT}"], "twice"),
    ("compare: bad override", ["compare", "--task", "pos", "--models", "bilstm", "--output-dir", "{OUT}",
                               "training.batch_size=-3"], "batch_size"),
    ("compare: missing run folder", ["compare", "--runs", "{FILE:missing}", "--output-dir", "{OUT}"], "nope.csv"),
    ("compare: output folder in a symlink loop", ["compare", "--task", "pos", "--models", "bilstm", "--output-dir",
                                                  "{FILE:loop}/report"], "symlink loop"),
    ("output folder in a symlink loop", ["train", "--task", "sentiment", "--model", "bilstm", "--output-dir",
                                         "{FILE:loop}/run"], "symlink loop"),
    ("output folder name too long", ["train", "--task", "sentiment", "--model", "bilstm", "--output-dir",
                                     "{OUT}/" + "x" * 300], "too long"),
    ("output path too long", ["train", "--task", "sentiment", "--model", "bilstm", "--output-dir",
                              "{OUT}/" + "/".join(["y" * 200] * 20)], "bytes long"),
    ("output folder under a file", ["train", "--task", "sentiment", "--model", "bilstm", "--output-dir",
                                    "{FILE:a_file}/run"], "is a file"),
    ("negative seed", ["train", "--task", "sentiment", "--model", "bilstm", "training.seed=-1"], "training.seed"),
    ("seed past numpy's range", ["train", "--task", "sentiment", "--model", "bilstm", "training.seed=4294967296"],
     "training.seed"),
    ("fetch: unknown asset", ["fetch", "weights-of-gpt5"], "weights-of-gpt5"),
    ("results: README without markers", ["results", "--check", "--readme", "{FILE:empty}"], "results block"),
]


def _fill(argv: list[str], files: dict[str, Path], out: Path) -> list[str]:
    filled = []
    for arg in argv:
        for name, path in files.items():
            arg = arg.replace(f"{{FILE:{name}}}", str(path))
        filled.append(arg.replace("{OUT}", str(out)))
    return filled


@pytest.mark.parametrize("case,argv,phrase", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input_is_one_line_exit_2_and_leaves_nothing(case, argv, phrase, files, tmp_path, capsys,
                                                             monkeypatch):
    monkeypatch.chdir(tmp_path)  # a default runs/ folder would land here
    out = tmp_path / "out"
    if case == "resume empty folder":
        out.mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    assert cli(_fill(argv, files, out)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"hf-rnn {argv[0]}: error: ") and "Traceback" not in err
    assert phrase in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no run or report folder made


# ---------------------------------------------------------------------------------------------- Python API


def test_load_task_bad_input_raises_one_hfrnn_error(files):
    from hf_rnn.tasks import load_task

    cases = [
        (("weather",), {}, DataError, "weather"),
        (("timeseries",), {"context_length": "abc"}, DataError, "context_length"),
        (("timeseries",), {"horizon": 0}, DataError, "horizon"),
        (("timeseries",), {"decimals": float("nan")}, DataError, "decimals"),
        (("timeseries",), {"series": "gold"}, DataError, "gold"),
        (("timeseries",), {"context_length": 10_000}, DataError, "too short"),
        (("sentiment",), {"label_colum": "x"}, DataError, "did you mean 'label_column'"),
        (("sentiment", str(files["missing_label"])), {}, DataError, "missing label"),
        (("sentiment", str(files["no_label_column"])), {"label_column": "nope"}, DataError, "nope"),
        (("sentiment", str(files["huge_label"])), {}, DataError, "class ids"),
        (("translation", str(files["long_pairs"])), {}, DataError, "max_words"),
        (("translation", str(files["long_pairs"])), {"max_words": 0}, DataError, "max_words"),
    ]
    for args, options, error, phrase in cases:
        with pytest.raises(error) as caught:
            load_task(*args, **options)
        assert phrase in str(caught.value) and "\n" not in str(caught.value), (args, options)


def test_load_llm_bad_input_raises_one_hfrnn_error(tmp_path, tiny_llama):
    from hf_rnn.models.llm import load_llm

    broken = tmp_path / "broken"
    shutil.copytree(tiny_llama, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated
    cases = [
        ((str(tmp_path / "no-such-model"),), {}, ModelLoadError, "no-such-model"),
        ((str(broken),), {}, ModelLoadError, "truncated or corrupt"),
        ((str(tiny_llama),), {"mode": "qlora"}, ConfigError, "qlora"),
        ((str(tiny_llama),), {"freeze_layers": -1}, ConfigError, "freeze_layers"),
        ((str(tiny_llama),), {"task": "dancing"}, HfRnnError, "dancing"),
    ]
    for args, kwargs, error, phrase in cases:
        with pytest.raises(error) as caught:
            load_llm(*args, **kwargs)
        assert phrase in str(caught.value), (args, kwargs)


def test_attention_maps_bad_input_raises_input_error(tiny_llama, tokenizer):
    import torch

    from hf_rnn.attention import attention_maps, map_token_limit
    from hf_rnn.models import RNNConfig, RNNForSequenceClassification
    from hf_rnn.models.llm import load_llm

    llm, tok = load_llm(str(tiny_llama), output_attentions=True)
    torch.manual_seed(0)
    rnn = RNNForSequenceClassification(RNNConfig(vocab_size=len(tokenizer), embedding_size=8, hidden_size=8))
    cases = [
        ((llm, tok, ""), {}, "non-empty"),
        ((llm, tok, 42), {}, "non-empty"),
        ((llm, tok, "hi"), {"generate": True, "max_new_tokens": 0}, "max_new_tokens"),
        ((llm, tok, "hi"), {"max_length": 10**6}, "GiB"),
        ((rnn, tokenizer, "hi"), {}, "attention='additive'"),
    ]
    for args, kwargs, phrase in cases:
        with pytest.raises(InputError) as caught:
            attention_maps(*args, **kwargs)
        assert phrase in str(caught.value)
    # a long text is cut to what fits the memory cap, not allocated whole (SmolLM2 would need 67.5 GiB)
    limit = map_token_limit(llm.config)
    with pytest.warns(UserWarning, match="keeping the first"):
        maps = attention_maps(llm, tok, "word " * (limit + 50), max_length=None)
    assert len(maps.key_tokens) <= min(limit, llm.config.max_position_embeddings)


def test_real_smollm2_map_limit_fits_a_gigabyte():
    from transformers import LlamaConfig

    from hf_rnn.attention import MAP_MEMORY_BYTES, map_token_limit

    config = LlamaConfig(num_hidden_layers=30, num_attention_heads=9, hidden_size=576)
    limit = map_token_limit(config)
    assert 4 * 30 * 9 * limit**2 <= MAP_MEMORY_BYTES < 4 * 30 * 9 * (limit + 1) ** 2


def test_compare_bad_input_raises_before_any_folder(tmp_path):
    from hf_rnn import compare

    cases = [
        (dict(task="chess"), "chess"),
        (dict(task="sentiment", profile="ultra"), "ultra"),
        (dict(task="sentiment", models=[]), "empty"),
        (dict(task="sentiment", models=["bilstm", "bilstm"]), "twice"),
        (dict(task="pos", models=["bilstm"], overrides=["training.epochs=0"]), "epochs"),
        (dict(task="timeseries", models=["lstm"], overrides=["task.options={season: -4}"]), "season"),
    ]
    for kwargs, phrase in cases:
        with pytest.raises(HfRnnError, match=phrase):
            compare(output_dir=tmp_path / "report", progress=False, **kwargs)
        assert not (tmp_path / "report").exists(), kwargs


# ---------------------------------------------------------------------------------------------- properties

OPTION_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 400), st.floats(allow_nan=True),
                          st.text(max_size=6), st.lists(st.integers(), max_size=2))
OPTION_NAMES = st.sampled_from(["context_length", "horizon", "decimals", "season", "series", "value_column",
                                "max_words", "contextlength", "window"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(st.dictionaries(OPTION_NAMES, OPTION_VALUES, max_size=3))
def test_any_timeseries_options_load_or_raise_a_data_error(options):
    """Whatever a user passes as options, load_task gives a task or one DataError: never another exception."""
    from hf_rnn.tasks import load_task

    try:
        task = load_task("timeseries", **options)
    except DataError as e:
        assert "\n" not in str(e) and str(e)
        return
    assert all(len(task.windows(s)) > 0 for s in ("train", "validation", "test"))
    assert task.context_length >= 1 and task.horizon >= 1


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(st.one_of(st.text(max_size=5), st.integers(-2, 5), st.none(),
                          st.floats(allow_nan=True, allow_infinity=False)), min_size=2, max_size=8))
def test_any_label_column_becomes_classes_or_one_data_error(labels):
    """A label column of any mix of text, numbers, gaps and NaN: clean classes, or a DataError naming it."""
    from hf_rnn.tasks.kinds import _class_label

    try:
        names, ids = _class_label(labels, "label", "test data")
    except DataError as e:
        assert "'label'" in str(e)
        return
    assert len(ids) == len(labels) and all(0 <= i < len(names.names) for i in ids)
    assert all(n.strip() and n.strip().lower() not in ("nan", "null", "n/a", "na") for n in names.names)


# ---------------------------------------------------------------------------------------------- more of the API


def test_public_functions_name_an_argument_of_the_wrong_type(tmp_path, monkeypatch):
    """A str where a list is expected is not read letter by letter, a number where a path is expected does not
    fail inside ``os``: one ``InputError`` names the function and the argument, and nothing is written."""
    import hf_rnn

    monkeypatch.chdir(tmp_path)
    cases = [
        (hf_rnn.compare, ("sentiment", "bilstm"), {}, "compare: models must be a list"),
        (hf_rnn.compare, (5,), {}, "compare: task"),
        (hf_rnn.compare, ("sentiment", ["bilstm"]), {"overrides": "training.max_steps=2"}, "compare: overrides"),
        (hf_rnn.compare, ("sentiment", ["bilstm"]), {"output_dir": 5}, "compare: output_dir"),
        (hf_rnn.compare_runs, ("runs/x", "report"), {}, "compare_runs: run_dirs must be a list"),
        (hf_rnn.compare_runs, ([5], "report"), {}, "compare_runs: run_dirs[0]"),
        (hf_rnn.compare_runs, (["runs/x"], 5), {}, "compare_runs: output_dir"),
        (hf_rnn.load_rnn, (5,), {}, "load_rnn: folder"),
        (hf_rnn.load_rnn, (["runs/x"],), {}, "load_rnn: folder"),
        (hf_rnn.load_task, (["sentiment"],), {}, "load_task: name"),
        (hf_rnn.load_task, ("sentiment", 5), {}, "load_task: source"),
        (hf_rnn.fetch, ("model",), {}, "fetch: names must be a list"),
        (hf_rnn.fetch, (5,), {}, "fetch: names"),
        (hf_rnn.read_run, (5,), {}, "read_run: folder"),
        (hf_rnn.load_tokenizer, (5,), {}, "load_tokenizer: name_or_path"),
        (hf_rnn.train_word_tokenizer, ("hello world",), {}, "train_word_tokenizer: texts"),
        (hf_rnn.train_word_tokenizer, (["hello", 5],), {}, "train_word_tokenizer: texts[1]"),
        (hf_rnn.train_recipe, (5,), {}, "train_recipe: recipe"),
        (hf_rnn.train_recipe, ({"task": {"name": "pos"}},), {"overrides": "training.seed=1"}, "train_recipe: overrides"),
        (hf_rnn.train, ("model", "sentiment"), {}, "train: model"),
        (hf_rnn.zero_shot, (5,), {}, "zero_shot: task"),
        (hf_rnn.attention_maps, ("model", None, "hi"), {}, "attention_maps: model"),
    ]
    for function, args, kwargs, phrase in cases:
        with pytest.raises(InputError) as caught:
            function(*args, **kwargs)
        assert phrase in str(caught.value) and "\n" not in str(caught.value), (function.__name__, args)
    assert list(tmp_path.iterdir()) == []


def test_generation_options_and_lone_surrogates_raise_input_errors(tokenizer):
    """``num_beams=0`` was a ZeroDivisionError inside ``generate``, a lone surrogate a TypeError inside the
    tokenizer; both are one ``InputError`` naming them, from ``Task.predict`` (and ``evaluate``, same path)."""
    import torch

    from hf_rnn.models import RNNConfig, RNNForSeq2SeqLM, RNNForSequenceClassification
    from hf_rnn.tasks import TASKS

    torch.manual_seed(0)
    ids = dict(vocab_size=len(tokenizer), embedding_size=8, hidden_size=8, pad_token_id=tokenizer.pad_token_id,
               bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    translator = RNNForSeq2SeqLM(RNNConfig(**ids, decoder_start_token_id=tokenizer.bos_token_id)).eval()
    translation = TASKS["translation"].without_data()
    cases = [({"num_beams": 0}, "num_beams"), ({"num_beams": -2}, "num_beams"), ({"num_beams": 2.5}, "num_beams"),
             ({"max_new_tokens": 0}, "max_new_tokens"), ({"no_repeat_ngram_size": -1}, "no_repeat_ngram_size"),
             ({"num_return_sequences": 2, "num_beams": 2}, "num_return_sequences"),
             ({"do_sample": True, "temperature": 0.0}, "temperature"), ({"num_beemz": 2}, "num_beemz")]
    for options, phrase in cases:
        with pytest.raises(InputError, match=f"generation option {phrase}"):
            translation.predict(translator, tokenizer, ["hello there"], **{"max_new_tokens": 3, **options})
    (answer,) = translation.predict(translator, tokenizer, ["hello there"], max_new_tokens=3, num_beams=2)
    assert len(answer.token_ids) <= 3  # a valid beam search still answers

    classifier = RNNForSequenceClassification(RNNConfig(**ids, num_labels=2)).eval()
    for task, model, text in [("sentiment", classifier, "good \ud800 food"), ("translation", translator, "hi \udfff"),
                              ("textgen", translator, "To \ud800"), ("pos", classifier, ["the", "c\ud800t"])]:
        with pytest.raises(InputError, match="lone surrogate") as caught:
            TASKS[task].without_data().predict(model, tokenizer, [text], max_new_tokens=2)
        assert "U+D" in str(caught.value) and task in str(caught.value)


def test_hf_rnn_home_that_is_a_file_or_cannot_be_written_is_one_line(tmp_path, capsys, monkeypatch):
    """``HF_RNN_HOME`` naming a file (or a folder under one), or a folder that cannot be written (simulated:
    ``os.access`` says so, since root may write anywhere), fails before any download with one line."""
    import os

    monkeypatch.chdir(tmp_path)
    a_file = tmp_path / "home-file"
    a_file.write_text("not a folder")
    for home, phrase in ((a_file, "is a file"), (a_file / "cache", "which is a file")):
        monkeypatch.setenv("HF_RNN_HOME", str(home))
        assert cli(["tasks", "--task", "sentiment"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("hf-rnn tasks: error: ") and phrase in err, err
    read_only = tmp_path / "read-only-home"
    read_only.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if str(path).startswith(str(read_only))
                        else real_access(path, mode, **kw))
    monkeypatch.setenv("HF_RNN_HOME", str(read_only))
    assert cli(["tasks", "--task", "sentiment"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot write to the hf_rnn cache folder" in err, err
    assert [p.name for p in read_only.rglob("*") if p.is_file()] == []  # nothing downloaded, nothing half-made
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home-file", "read-only-home"]


TINY_RUN = ["model.embedding_size=16", "model.init_embeddings=null", "model.hidden_size=16", "model.num_layers=1",
            "task.max_train_examples=40", "task.max_validation_examples=4", "task.max_test_examples=4",
            "training.batch_size=8", "training.eval_batch_size=8", "training.max_length=32",
            "training.progress_bar=false", "training.log_with=null"]


@pytest.mark.parametrize("where", ["checkpoint", "model"])
def test_a_full_disk_while_saving_is_one_line_and_leaves_no_temporary(where, tmp_path, capsys, monkeypatch):
    """ENOSPC (simulated) while writing a checkpoint or the model: one line saying how to go on, the half-written
    ``.tmp-...`` folder removed, the last complete checkpoint kept."""
    import errno

    import accelerate
    import transformers

    out = tmp_path / "run"
    calls = []

    def full_disk(real):
        def save(self, folder=None, *args, **kwargs):
            calls.append(folder)
            if where == "model" or len(calls) >= 2:  # a checkpoint: the second one
                os_folder = Path(folder)
                os_folder.mkdir(parents=True, exist_ok=True)
                (os_folder / "model.safetensors").write_bytes(b"half a file")
                raise OSError(errno.ENOSPC, "No space left on device", str(folder))
            return real(self, folder, *args, **kwargs)
        return save

    if where == "checkpoint":
        monkeypatch.setattr(accelerate.Accelerator, "save_state", full_disk(accelerate.Accelerator.save_state))
    else:
        monkeypatch.setattr(transformers.PreTrainedModel, "save_pretrained",
                            full_disk(transformers.PreTrainedModel.save_pretrained))
    argv = ["train", "--task", "sentiment", "--model", "bilstm", "--output-dir", str(out), *TINY_RUN,
            "training.max_steps=3", "training.eval_steps=1"]
    assert cli(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "No space left on device" in err and "--resume" in err, err
    assert not [p for p in out.rglob(".tmp-*")], "a half-written temporary folder was left"
    assert not (out / "model.safetensors").exists() and not (out / "metrics.json").exists()
    kept = [p.name for p in (out / "checkpoints").iterdir()]  # what --resume continues from
    assert kept == ["step-0000001"] if where == "checkpoint" else kept


# ---------------------------------------------------------------------------------------------- damaged run folders


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A finished sentiment RNN run (attention pooling, a few steps)."""
    folder = tmp_path_factory.mktemp("runs") / "good"
    assert cli(["train", "--task", "sentiment", "--model", "rnn", "--output-dir", str(folder), *TINY_RUN,
                "training.max_steps=2"]) == 0
    return folder


def _edit_config(folder: Path, **changes) -> None:
    import json

    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))


DAMAGES = {
    "no tokenizer files": (lambda f: [p.unlink() for p in f.glob("tokenizer*")], "missing its tokenizer files"),
    "garbage config.json": (lambda f: (f / "config.json").write_text("{not json"), "not valid JSON"),
    "edited hidden_size": (lambda f: _edit_config(f, hidden_size=999), "do not have the shapes"),
    "attention removed": (lambda f: _edit_config(f, attention="none"), "unexpected keys"),
    "id2label not a mapping": (lambda f: _edit_config(f, id2label="abc"), "config.json edited"),
    "garbage tokenizer.json": (lambda f: (f / "tokenizer.json").write_text("garbage"), "the tokenizer of run"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_run_folder_is_one_line_to_compare_and_the_app(damage, tiny_run, tmp_path, capsys):
    from hf_rnn.app.cache import load_run
    from hf_rnn.runs import read_run

    broken = tmp_path / "broken"
    shutil.copytree(tiny_run, broken)
    spoil, phrase = DAMAGES[damage]
    spoil(broken)
    report = tmp_path / "report"
    assert cli(["compare", "--runs", str(broken), str(tiny_run), "--output-dir", str(report)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("hf-rnn compare: error: ") and phrase in err, err
    assert not report.exists()  # no report folder for a comparison that did not happen
    with pytest.raises(HfRnnError, match=phrase):  # the app shows this line in the page
        load_run(("run", str(broken), 0.0), read_run(broken), "float32")
