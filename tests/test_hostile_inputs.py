"""Bad input, tried as a hostile user would: every case ends in one line that names the problem, never a
traceback, a hang or a half-made folder.

- CLI: exit status 2, one ``hf-rnn CMD: error: ...`` line on stderr, the output folder not created (or, for a
  resume, the run folder byte for byte as it was).
- Python API: one ``HfRnnError`` subclass whose message names the bad value.
- Properties (hypothesis, derandomized so that every run checks the same examples): any value of any task
  option either loads or is a ``DataError``; any label column becomes classes or one ``DataError`` (it found
  that a numeric label of 1e308 asked for 10^308 class names).

The app's endpoints have their own hostile inputs in ``test_app.py`` (empty, control characters, huge texts,
escaping model names, bad windows), answered in the page.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hf_rnn.cli import main as cli
from hf_rnn.errors import ConfigError, DataError, HfRnnError, InputError, ModelLoadError
from hf_rnn.report import performance as performance
from hf_rnn.report import results as results
from hf_rnn.report import verdict_table as verdict_table


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
        # labels that once trained wrongly: one class trained a regression and scored accuracy 1.0
        "one_class": _write(tmp / "oneclass.csv", "text,label\n" + "".join(f"text {i},pos\n" for i in range(12))),
        "one_tag": _write(tmp / "onetag.pos", "a/X b/X\nc/X d/X\ne/X\n" * 3),
        "pairs": _write(tmp / "pairs.tsv", "en\tes\n" + "".join(f"pet {i}\tmascota {i}\n" for i in range(12))),
        # series a model cannot learn from: NaN weights and a NaN MAE once, or nothing to forecast
        "huge_series": _write(tmp / "huge.csv", "value\n" + "".join(f"{(i % 7 + 1)}e300\n" for i in range(40))),
        "constant_series": _write(tmp / "flat.csv", "value\n" + "5\n" * 40),
        "repeated_dates": _write(tmp / "dates.csv", "date,value\n" + "".join(
            f"2020-01-{1 + i % 20:02d},{i}\n" for i in range(40))),
        # 20 short passages: the validation split is shorter than one block (a KeyError once, after training)
        "short_text": _write(tmp / "short.txt", "\n\n".join(f"Roses are red, verse {i}." for i in range(20))),
        "utf16_no_bom": tmp.joinpath("utf16.csv"),
        "zip": tmp.joinpath("sheet.xlsx"),
        "bad_yaml": _write(tmp / "bad.yaml", "task: [unclosed\n"),
        "list_yaml": _write(tmp / "list.yaml", "- just\n- a list\n"),
        "readme": _write(tmp / "README.md", f"# x\n\n{verdict_table.BEGIN}\n{verdict_table.END}\n\n"
                                            f"{results.BEGIN}\n#### sentiment · `quick`\n\n| a table |\n"
                                            f"{results.END}\n\n{performance.BEGIN}\nnumbers\n{performance.END}\n"),
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    found = _files(tmp_path_factory.mktemp("hostile"))
    found["binary"].write_bytes(bytes(range(256)) * 8)
    found["utf16_no_bom"].write_bytes("text,label\ngood,pos\nbad,neg\nfine,pos\n".encode("utf-16-le"))
    found["zip"].write_bytes(b"PK\x03\x04" + bytes(200))
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
    ("mamba2 state size 0", ["train", "--task", "sentiment", "--model", "mamba2", "model.state_size=0"],
     "model.state_size"),
    ("mamba2 heads not dividing", ["train", "--task", "pos", "--model", "bimamba2", "model.num_heads=3"],
     "model.num_heads=3 must divide"),
    ("mamba2 chunk size 0", ["train", "--task", "textgen", "--model", "mamba2", "model.chunk_size=0"],
     "model.chunk_size"),
    ("bidirectional mamba2 LM", ["train", "--task", "textgen", "--model", "bimamba2"], "bidirectional"),
    ("bad task option type", ["train", "--task", "timeseries", "--model", "lstm",
                              "task.options={context_length: abc}"], "context_length"),
    ("season zero", ["train", "--task", "timeseries", "--model", "lstm", "task.options={season: 0}"], "season"),
    ("negative decimals", ["train", "--task", "timeseries", "--model", "smollm2", "task.options={decimals: -1}"],
     "decimals"),
    ("unknown task option", ["train", "--task", "translation", "--model", "rnn", "task.options={max_word: 5}"],
     "did you mean 'max_words'"),
    ("frozen prompt classifier", ["train", "--task", "sentiment", "--model", "smollm2", "model.mode=freeze"],
     "model.head=new-head"),
    ("unknown LLM head", ["train", "--task", "sentiment", "--model", "smollm2", "model.head=linear"], "model.head"),
    ("options not a mapping", ["train", "--task", "sentiment", "--model", "bilstm", "task.options=7"],
     "task.options"),
    ("resume without folder", ["train", "--task", "sentiment", "--model", "bilstm", "--resume"], "--output-dir"),
    ("resume empty folder", ["train", "--task", "sentiment", "--model", "bilstm", "--resume", "--output-dir", "{OUT}"],
     "nothing to resume"),
    # {OUT} holds a stopped run (a tiny recipe's config.yaml and a checkpoint whose files are missing)
    ("resume changing the model", ["train", "--output-dir", "{OUT}", "--resume", "model.hidden_size=64",
                                   "training.max_steps=9"], "--resume cannot change model.hidden_size (16 in the run"),
    ("resume changing the data", ["train", "--output-dir", "{OUT}", "--resume", "task.max_train_examples=8"],
     "task.max_train_examples"),
    ("resume from a damaged checkpoint", ["train", "--output-dir", "{OUT}", "--resume"], "no checkpoint is intact"),
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
    ("tasks: one class", ["tasks", "--task", "sentiment", "--source", "{FILE:one_class}"], "only the class 'pos'"),
    ("tasks: one tag", ["tasks", "--task", "pos", "--source", "{FILE:one_tag}"], "only the class 'X'"),
    ("tasks: series too large", ["tasks", "--task", "timeseries", "--source", "{FILE:huge_series}"], "float32"),
    ("tasks: constant series", ["tasks", "--task", "timeseries", "--source", "{FILE:constant_series}"],
     "constant series"),
    ("tasks: repeated dates", ["tasks", "--task", "timeseries", "--source", "{FILE:repeated_dates}"],
     "'2020-01-01' in column 'date' repeats"),
    ("tasks: UTF-16 without BOM", ["tasks", "--task", "sentiment", "--source", "{FILE:utf16_no_bom}"], "NUL bytes"),
    ("tasks: Excel workbook", ["tasks", "--task", "sentiment", "--source", "{FILE:zip}"], "ZIP archive"),
    ("train: text shorter than a block", ["train", "--task", "textgen", "--model", "lstm", "--output-dir", "{OUT}",
                                          "task.source={FILE:short_text}"],
     "the validation split is too small: its 2 passage(s) make"),
    ("compare: unknown task", ["compare", "--task", "chess", "--output-dir", "{OUT}"], "chess"),
    ("compare: empty model list", ["compare", "--task", "sentiment", "--models", ",", "--output-dir", "{OUT}"],
     "empty"),
    ("compare: a model twice", ["compare", "--task", "sentiment", "--models", "bilstm,bilstm", "--output-dir",
                                "{OUT}"], "twice"),
    ("compare: two names of one model", ["compare", "--task", "sentiment", "--models", "rnn,bilstm",
                                         "--output-dir", "{OUT}"], "'rnn' and 'bilstm' are the same sentiment recipe"),
    ("compare: a model twice, case aside", ["compare", "--task", "pos", "--models", "bilstm,BILSTM", "--output-dir",
                                            "{OUT}"], "'bilstm' and 'BILSTM'"),
    ("compare: the LLM by two names", ["compare", "--task", "textgen", "--models", "lstm,llm,smollm2",
                                       "--output-dir", "{OUT}"], "'llm' and 'smollm2'"),
    ("compare: a run folder twice", ["compare", "--runs", "{FILE:empty}", "{FILE:empty}", "--output-dir", "{OUT}"],
     "named twice"),
    ("compare: bad override", ["compare", "--task", "pos", "--models", "bilstm", "--output-dir", "{OUT}",
                               "training.batch_size=-3"], "batch_size"),
    ("compare: zero seeds", ["compare", "--task", "pos", "--models", "bilstm", "--seeds", "0", "--output-dir",
                             "{OUT}"], "seeds must be a whole number from 1 to 20"),
    ("compare: seeds not a number", ["compare", "--task", "pos", "--seeds", "three", "--output-dir", "{OUT}"],
     "--seeds"),
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
    ("results: README without markers", ["results", "--check", "--readme", "{FILE:empty}"], "block: add the lines"),
    # a user's files are never replaced unasked, the asset cache never; a typo destroys no generated file
    ("train into a saved model", ["train", "--task", "sentiment", "--model", "bilstm", "--output-dir", "{OUT}"],
     "holds no hf_rnn run: it holds config.json, model.safetensors (a saved model)"),
    ("resume in a saved model", ["train", "--task", "sentiment", "--model", "bilstm", "--output-dir", "{OUT}",
                                 "--resume"], "nothing to resume"),
    ("overwrite a user's checkpoints", ["train", "--task", "sentiment", "--model", "bilstm", "--output-dir", "{OUT}",
                                        "--overwrite"], "delete its checkpoints/ whole"),
    ("train into the asset cache", ["train", "--task", "sentiment", "--model", "bilstm", "--overwrite",
                                    "--output-dir", "{OUT}/cache/models/SmolLM2-135M-Instruct"], "asset cache"),
    ("train into the cache's parent", ["train", "--task", "sentiment", "--model", "bilstm", "--overwrite",
                                       "--output-dir", "{OUT}"], "holds the hf_rnn asset cache"),
    ("compare into a saved model", ["compare", "--task", "sentiment", "--models", "bilstm", "--output-dir", "{OUT}"],
     "holds no comparison"),
    ("compare over a user's model folder", ["compare", "--task", "sentiment", "--models", "bilstm", "--output-dir",
                                            "{OUT}"], "where the comparison would train a model"),
    ("compare runs into a saved model", ["compare", "--runs", "{FILE:missing}", "--output-dir", "{OUT}"],
     "holds no comparison"),
    ("compare: publish under a file", ["compare", "--task", "sentiment", "--models", "bilstm", "--output-dir",
                                       "{OUT}", "--publish", "{FILE:empty}/results"], "empty.csv"),
    ("results: missing results folder", ["results", "--readme", "{FILE:readme}", "--results-dir", "{OUT}"],
     "does not exist"),
    ("results: folder without results", ["results", "--readme", "{FILE:readme}", "--results-dir", "{OUT}"],
     "holds no <task>-<profile>/results.json"),
]

STOPPED_RUN_CASES = {"resume changing the model", "resume changing the data", "resume from a damaged checkpoint"}


def _saved_model(out: Path, monkeypatch) -> None:
    out.mkdir(parents=True)
    _write(out / "config.json", '{"model_type": "llama"}')
    (out / "model.safetensors").write_bytes(b"weights")


def _user_checkpoints(out: Path, monkeypatch) -> None:
    (out / "checkpoints").mkdir(parents=True)
    _write(out / "checkpoints" / "epoch-3.pt", "mine")


def _cache_inside(out: Path, monkeypatch) -> None:
    model = out / "cache" / "models" / "SmolLM2-135M-Instruct"
    model.mkdir(parents=True)
    _write(model / "config.json", "{}")
    monkeypatch.setenv("HF_RNN_HOME", str(out / "cache"))


def _model_in_comparison(out: Path, monkeypatch) -> None:
    _saved_model(out / "bilstm", monkeypatch)  # where the comparison would train bilstm
    _write(out / "results.json", '{"task": "sentiment", "profile": "quick", "rows": []}')  # an earlier comparison


# what a case's {OUT} holds before the command (else nothing: the folder does not exist)
SETUPS = {
    "resume empty folder": lambda out, mp: out.mkdir(),
    "results: folder without results": lambda out, mp: out.mkdir(),
    "train into a saved model": _saved_model,
    "resume in a saved model": _saved_model,
    "compare into a saved model": _saved_model,
    "compare runs into a saved model": _saved_model,
    "overwrite a user's checkpoints": _user_checkpoints,
    "train into the asset cache": _cache_inside,
    "train into the cache's parent": _cache_inside,
    "compare over a user's model folder": _model_in_comparison,
}


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


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
    if case in STOPPED_RUN_CASES:
        _stopped_run(out)
    if case in SETUPS:
        SETUPS[case](out, monkeypatch)
    before = sorted(p.name for p in tmp_path.iterdir())
    run_files = _snapshot(out)
    held, readme = _tree(tmp_path), files["readme"].read_text()
    assert cli(_fill(argv, files, out)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"hf-rnn {argv[0]}: error: ") and "Traceback" not in err
    assert phrase in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no run or report folder made
    assert _tree(tmp_path) == held and files["readme"].read_text() == readme  # nothing written, nothing lost
    assert _snapshot(out) == run_files  # a run folder there is as it was, its config.yaml byte for byte


def _stopped_run(out: Path) -> None:
    """A run folder as a run stopped after its step-2 checkpoint leaves it, the checkpoint without its model and
    optimizer files (only what the checks before training read: config.yaml, the checkpoint's counters)."""
    from hf_rnn.training.recipes import dump_yaml, load_recipe

    recipe = load_recipe("sentiment", "bilstm", overrides=[
        "model.embedding_size=16", "model.init_embeddings=null", "model.hidden_size=16", "task.max_train_examples=16",
        "task.max_validation_examples=4", "task.max_test_examples=4", "training.max_steps=4",
        "training.log_with=null", "training.progress_bar=false"])
    checkpoint = out / "checkpoints" / "step-0000002"
    checkpoint.mkdir(parents=True)
    (checkpoint / "trainer_state.json").write_text('{"step": 2}')
    (out / "config.yaml").write_text(dump_yaml(recipe.to_dict()))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


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
        (("sentiment", str(files["one_class"])), {}, DataError, "only the class 'pos'"),
        (("sentiment", str(files["one_class"])), {"text_column": "label", "label_column": "label"}, DataError,
         "picked both for text_column and for label_column"),
        (("sentiment", str(files["one_class"])), {"text_column": "label"}, DataError, "picked both"),
        (("translation", str(files["pairs"])), {"source_column": "es", "target_column": "es"}, DataError,
         "picked both for source_column and for target_column"),
        (("timeseries", str(files["repeated_dates"])), {"date_column": "value"}, DataError, "picked both"),
        (("timeseries", str(files["constant_series"])), {}, DataError, "all 40 values of column 'value' are 5"),
        (("timeseries", str(files["huge_series"])), {}, DataError, "row 0 of column 'value' is 1e+300"),
        (("pos", str(files["one_tag"])), {}, DataError, "only the class 'X'"),
    ]
    for args, options, error, phrase in cases:
        with pytest.raises(error) as caught:
            load_task(*args, **options)
        assert phrase in str(caught.value) and "\n" not in str(caught.value), (args, options)


def test_load_llm_bad_input_raises_one_hfrnn_error(tmp_path, tiny_llama):
    from hf_rnn.families.llm.llm import load_llm

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

    from hf_rnn.families import attention_maps
    from hf_rnn.families.attention import map_token_limit
    from hf_rnn.families.llm.llm import load_llm
    from hf_rnn.models import RNNConfig, RNNForSequenceClassification

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

    from hf_rnn.families.attention import MAP_MEMORY_BYTES, map_token_limit

    config = LlamaConfig(num_hidden_layers=30, num_attention_heads=9, hidden_size=576)
    limit = map_token_limit(config)
    assert 4 * 30 * 9 * limit**2 <= MAP_MEMORY_BYTES < 4 * 30 * 9 * (limit + 1) ** 2


def test_compare_bad_input_raises_before_any_folder(tmp_path, tiny_llama):
    from hf_rnn import compare

    cases = [
        (dict(task="chess"), "chess"),
        (dict(task="sentiment", profile="ultra"), "ultra"),
        (dict(task="sentiment", models=[]), "empty"),
        (dict(task="sentiment", models=["bilstm", "bilstm"]), "twice"),
        (dict(task="sentiment", models=["rnn", "gru", "bilstm"]), "'rnn' and 'bilstm'"),  # rnn: the task's BiLSTM
        (dict(task="translation", models=["BiGRU", "rnn"]), "'BiGRU' and 'rnn'"),
        (dict(task="timeseries", models=["smollm2", "LLM"]), "'smollm2' and 'LLM'"),
        (dict(task="sentiment", models=[str(tiny_llama), f"{tiny_llama}/"]), "named twice"),  # one folder
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


@settings(max_examples=80, deadline=None, derandomize=True)
@given(st.one_of(
    st.lists(st.one_of(st.text(max_size=5), st.integers(-2, 5), st.none(),
                       st.floats(allow_nan=True, allow_infinity=False), st.booleans()), min_size=2, max_size=8),
    # one kind a column: labels with spaces around them, star ratings, true/false
    st.lists(st.sampled_from(["pos", " pos", "pos ", "neg", "\tneg", "10", "2", " 2"]), min_size=2, max_size=8),
    st.lists(st.integers(-3, 12), min_size=2, max_size=8),
    st.lists(st.booleans(), min_size=2, max_size=8)))
def test_any_label_column_becomes_classes_or_one_data_error(labels):
    """A label column of any mix of text, numbers, booleans, gaps and NaN: clean classes, or a DataError naming it.

    Clean classes: the labels present (text without its surrounding spaces, numbers and booleans by their names),
    two at least, in numeric order where all are numbers, and one id per distinct label."""
    from hf_rnn.tasks.class_labels import class_label

    try:
        names, ids = class_label(labels, "label", "test data")
    except DataError as e:
        assert "'label'" in str(e) and "\n" not in str(e)
        return
    names = names.names
    assert len(ids) == len(labels) and all(0 <= i < len(names) for i in ids)
    assert all(n.strip() and n.strip().lower() not in ("nan", "null", "n/a", "na") for n in names)
    spelled = [v.strip() if isinstance(v, str) else str(v) if isinstance(v, bool) else str(int(v)) for v in labels]
    assert [names[i] for i in ids] == spelled  # each label keeps its name: no phantom class, no 0/1 for booleans
    assert sorted(set(spelled)) == sorted(names) and len(names) >= 2  # the classes are the labels present
    try:
        numbers = [float(n) for n in names]
    except ValueError:
        assert names == sorted(names)
    else:
        assert numbers == sorted(numbers)  # 1..5 (and 2 < 10) stay in order


# ---------------------------------------------------------------------------------------------- failed training

TINY_BILSTM = ["model.embedding_size=16", "model.init_embeddings=null", "model.hidden_size=16", "model.num_layers=1",
               "model.dropout=0.0", "model.classifier_hidden_sizes=[]", "model.classifier_dropout=0.0",
               "training.max_steps=8", "training.batch_size=8", "training.eval_batch_size=8",
               "training.max_length=32", "training.eval_steps=3", "training.logging_steps=1",
               "training.progress_bar=false", "training.warmup_steps=0"]


def _reviews(tmp: Path) -> Path:
    return _write(tmp / "reviews.csv", "text,label\n" + "".join(
        f"sentence {i} is {'great fun' if i % 2 else 'awful dull'},{'pos' if i % 2 else 'neg'}\n" for i in range(60)))


def test_diverging_training_is_one_error_and_saves_no_model(tmp_path, capsys):
    """A learning rate of 1e9 once saved NaN weights, exited 0 and reported a test accuracy."""
    out = tmp_path / "run"
    argv = ["train", "--task", "sentiment", "--model", "bilstm", "--output-dir", str(out),
            f"task.source={_reviews(tmp_path)}", "training.learning_rate=1e9", *TINY_BILSTM]
    assert cli(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hf-rnn train: error: training failed: ")
    assert "at step" in err[0] and "learning rate (1e+09) is too high" in err[0]
    assert not (out / "metrics.json").exists() and not list(out.glob("*.safetensors"))
    events = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "failed" and not any(e["event"] == "test" for e in events)
    from hf_rnn.runs.run import find_runs

    assert find_runs(tmp_path) == []  # the app and compare do not list it


def test_nan_validation_metric_stops_the_run_before_its_checkpoint(tmp_path, monkeypatch):
    from hf_rnn.errors import TrainingError
    from hf_rnn.tasks.kinds import SequenceClassificationTask
    from hf_rnn.training.recipe_training import train_recipe
    from hf_rnn.training.recipes import load_recipe

    monkeypatch.setattr(SequenceClassificationTask, "compute_metrics",
                        lambda self, outputs, tokenizer=None, split="test": {"accuracy": float("nan")})
    out = tmp_path / "run"
    recipe = load_recipe("sentiment", "bilstm", None, [f"task.source={_reviews(tmp_path)}", *TINY_BILSTM])
    with pytest.raises(TrainingError, match=r"the validation accuracy at step 3 is nan, not a finite number"):
        train_recipe(recipe, out)
    assert not list(out.glob("checkpoints/*")) and not (out / "metrics.json").exists()


def test_training_error_names_fp16_overflow(tmp_path):
    from types import SimpleNamespace

    from hf_rnn.errors import TrainingError
    from hf_rnn.training.loop import TrainConfig, TrainerState, TrainingRun

    events = []
    run = SimpleNamespace(cfg=TrainConfig(learning_rate=0.5), accelerator=SimpleNamespace(mixed_precision="fp16"),
                          out=tmp_path, state=TrainerState(step=7), _event=events.append)
    with pytest.raises(TrainingError, match=r"loss at step 7 is inf.*fp16 mixed precision overflowed \(try "
                                            r"training.mixed_precision=bf16 or no\).*learning rate \(0.5\)"):
        TrainingRun._fail(run, "the training loss at step 7 is inf, not a finite number")
    assert events[0]["event"] == "failed" and events[0]["step"] == 7


def test_too_small_split_fails_before_an_old_run_is_replaced(tmp_path, capsys):
    """A split that encodes to nothing is a DataError before the run folder changes (--overwrite included)."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.yaml").write_text("old run\n")
    text = _write(tmp_path / "short.txt", "\n\n".join(f"Roses are red, verse {i}." for i in range(20)))
    argv = ["train", "--task", "textgen", "--model", "lstm", "--output-dir", str(out), "--overwrite",
            f"task.source={text}", "training.max_length=64"]
    assert cli(argv) == 2
    err = capsys.readouterr().err
    assert "the validation split is too small" in err and "block of 64 tokens" in err
    assert sorted(p.name for p in out.iterdir()) == ["config.yaml"]
    assert (out / "config.yaml").read_text() == "old run\n"


def test_reports_refuse_metrics_that_are_not_finite(tmp_path):
    import json as json_

    from hf_rnn.comparison.rows import finite_metrics
    from hf_rnn.errors import RunError
    from hf_rnn.report.results import ResultsError, read_results

    assert finite_metrics({"accuracy": 0.5, "num_examples": 4, "flag": True}, "run") == {"accuracy": 0.5,
                                                                                  "num_examples": 4}
    with pytest.raises(RunError, match="its test mae is nan, not a finite number"):
        finite_metrics({"mae": float("nan"), "rmse": 1.0}, "the run in runs/x")
    doc = {"task": "timeseries", "profile": "quick", "budget": "1 s", "rows": [{"name": "lstm", "metrics": {
        "mae": float("inf")}}]}
    (tmp_path / "results.json").write_text(json_.dumps(doc))
    with pytest.raises(ResultsError, match="lstm's mae is inf"):
        read_results(tmp_path)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          derandomize=True)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**20, 10**20)),
                max_size=30),
       st.lists(st.integers(0, 40), max_size=30))
def test_any_series_file_loads_a_learnable_series_or_one_data_error(tmp_path, values, days):
    """Any column of values (NaN, inf, 1e300, constant, short), with or without dates (repeated, shuffled): a
    series a float32 model can scale, in date order, or one DataError."""
    import warnings

    from hf_rnn.tasks import load_task

    dated = len(days) >= len(values)
    lines = ["day,value" if dated else "value"]
    lines += [f"{days[i]},{v!r}" if dated else repr(v) for i, v in enumerate(values)]
    path = _write(tmp_path / "series.csv", "\n".join(lines) + "\n")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "sorted by column 'day'"
            task = load_task("timeseries", str(path), context_length=2)
    except DataError as e:
        assert "\n" not in str(e) and str(e)
        return
    series = task.dataset["test"][0]["values"]
    assert len(series) == len(values) and all(abs(v) <= 1e15 for v in series) and len(set(series)) > 1
    if dated:  # in date order: the file's values sorted by their day
        assert series == [float(v) for _, v in sorted(zip(days, values), key=lambda p: p[0])]



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
    from hf_rnn.runs.run import read_run

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
