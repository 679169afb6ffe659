"""Tasks from user files (same code path as Hub ids), and every bad input gives one clear error."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hf_rnn.errors import DataError
from hf_rnn.tasks import SPLITS, load_task


def _write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def _sentiment_rows(n=30):
    return [(f"sentence number {i} is {'great' if i % 2 else 'awful'}", "pos" if i % 2 else "neg") for i in range(n)]


def test_sentiment_from_csv_with_column_mapping(tmp_path):
    rows = _sentiment_rows()
    csv = _write(tmp_path / "reviews.csv", "review,stars\n" + "".join(f'"{t}",{lab}\n' for t, lab in rows))
    task = load_task("sentiment", str(csv), text_column="review", label_column="stars")
    assert task.label_names == ["neg", "pos"]
    assert sum(len(task.dataset[s]) for s in SPLITS) == 30
    texts = [t for s in SPLITS for t in task.dataset[s]["text"]]
    assert sorted(texts) == sorted(t for t, _ in rows)
    row = task.dataset["train"][0]
    assert ("great" in row["text"]) == (task.label_names[row["label"]] == "pos")


def test_sentiment_from_tsv_and_jsonl_with_known_column_names(tmp_path):
    rows = _sentiment_rows()
    tsv = _write(tmp_path / "r.tsv", "text\tlabel\n" + "".join(f"{t}\t{i % 2}\n" for i, (t, _) in enumerate(rows)))
    jsonl = _write(tmp_path / "r.jsonl", "".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in rows))
    assert load_task("sentiment", str(tsv)).label_names == ["0", "1"]
    assert load_task("sentiment", str(jsonl)).label_names == ["neg", "pos"]


def test_pos_from_word_tag_file_any_tagset(tmp_path):
    lines = ["The/DT dog/NN barks/VBZ ./.", "A/DT cat/NN sleeps/VBZ ./.", "Dogs/NNS bark/VBP ./."] * 4
    task = load_task("pos", str(_write(tmp_path / "tags.pos", "\n".join(lines) + "\n")))
    assert task.label_names == [".", "DT", "NN", "NNS", "VBP", "VBZ"]
    row = task.dataset["train"][0]
    assert len(row["tokens"]) == len(row["tags"])


def test_pos_from_conllu(tmp_path):
    sent = ("# text = I like red apples\n1\tI\tI\tPRON\t_\t_\t2\tnsubj\t_\t_\n2\tlike\tlike\tVERB\t_\t_\t0\troot\t_\t_\n"
            "3\tred\tred\tADJ\t_\t_\t4\tamod\t_\t_\n4-5\tapples.\t_\t_\t_\t_\t_\t_\t_\t_\n"
            "4\tapples\tapple\tNOUN\t_\t_\t2\tobj\t_\t_\n5\t.\t.\tPUNCT\t_\t_\t2\tpunct\t_\t_\n\n")
    task = load_task("pos", str(_write(tmp_path / "ud.conllu", sent * 6)))
    assert task.label_names == ["ADJ", "NOUN", "PRON", "PUNCT", "VERB"]
    assert task.dataset["train"][0]["tokens"] == ["I", "like", "red", "apples", "."]


def test_textgen_from_txt_and_translation_from_tsv_and_timeseries_from_csv(tmp_path):
    txt = _write(tmp_path / "poem.txt", "\n\n".join(f"Roses are red, verse {i}.\nViolets are blue." for i in range(20)))
    lm = load_task("textgen", str(txt))
    assert len(lm.dataset["train"]) == 16 and lm.dataset["test"][0]["text"].startswith("Roses are red, verse 18")
    pairs = _write(tmp_path / "pairs.tsv", "en\tes\n" + "".join(f"Do you have a pet {i}?\t¿Tienes una mascota {i}?\n"
                                                               for i in range(20)))
    mt = load_task("translation", str(pairs))
    assert mt.dataset["train"][0]["target"].startswith("¿Tienes")
    series = _write(tmp_path / "s.csv", "year,value\n" + "".join(f"{1900 + i},{i % 7}.5\n" for i in range(60)))
    ts = load_task("timeseries", str(series), context_length=6, season=7)
    assert ts.season == 7 and len(ts.windows("test")) == 6


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing.csv", "file not found"),
    (lambda p: _write(p / "empty.csv", ""), "file is empty"),
    (lambda p: _write(p / "blank.csv", "\n  \n"), "file is empty"),
    (lambda p: _write(p / "latin.csv", "text,label\ncaf\u00e9 bien,1\n", encoding="latin-1"), "not UTF-8"),
    (lambda p: _write(p / "cols.csv", "words,stars\nhello,1\n"), "no text column"),
    (lambda p: _write(p / "two.csv", "text,sentence,label\na,b,1\n"), "ambiguous text column"),
    (lambda p: _write(p / "float.csv", "text,label\na,0.5\nb,0.25\nc,1.5\n"), "labels of the wrong type"),
    (lambda p: _write(p / "bad.json", "[{\"text\": 1"), "cannot parse"),
])
def test_bad_sentiment_files(tmp_path, make, message):
    with pytest.raises(DataError, match=message):
        load_task("sentiment", str(make(tmp_path)))


def test_bad_pos_line_names_the_line(tmp_path):
    bad = _write(tmp_path / "bad.pos", "The/DT dog/NN\nA cat/NN\n")
    with pytest.raises(DataError, match=r"line 2: token 'A' is not word/TAG"):
        load_task("pos", str(bad))


def test_unknown_task_and_unknown_column_option(tmp_path):
    with pytest.raises(DataError, match="unknown task 'sentimnet'; choose one of: sentiment"):
        load_task("sentimnet")
    csv = _write(tmp_path / "ok.csv", "text,label\na,1\nb,0\nc,1\n")
    with pytest.raises(DataError, match="no column 'review'"):
        load_task("sentiment", str(csv), text_column="review")


def test_unreachable_hub_id_is_one_clear_line(empty_home, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(DataError, match="not a local file and the Hub dataset could not be loaded"):
        load_task("sentiment", "someone/no-such-dataset")


def test_cli_bad_input_exits_2_without_traceback_and_writes_nothing(tmp_path, empty_home):
    bad = _write(tmp_path / "bad.pos", "The/DT dog\n")
    for args in (["tasks", "--task", "pos", "--source", str(bad)], ["tasks", "--task", "nope"]):
        proc = subprocess.run([sys.executable, "-m", "hf_rnn.cli", *args], capture_output=True, text=True)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert proc.stderr.strip().count("\n") == 0 and "error:" in proc.stderr
    assert not empty_home.exists() or not any(empty_home.rglob("*"))
