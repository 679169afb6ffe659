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


# ----------------------------------------------------------------------------- labels as the file means them


def _texts(n):
    return [f"sentence number {i}" for i in range(n)]


def test_labels_are_the_labels_present_stripped_and_in_order(tmp_path):
    # " pos" and "pos " are one class (a CSV written with ", " between cells)
    spaced = _write(tmp_path / "spaced.csv", "text,label\n" + "".join(
        f"{t},{[' pos', 'pos ', 'pos', 'neg', ' neg'][i % 5]}\n" for i, t in enumerate(_texts(30))))
    task = load_task("sentiment", str(spaced))
    assert task.label_names == ["neg", "pos"]
    # star ratings 1..5: five classes named as written, in numeric order, no phantom class 0
    stars = _write(tmp_path / "stars.csv", "text,stars\n" + "".join(
        f"{t},{1 + i % 5}\n" for i, t in enumerate(_texts(30))))
    task = load_task("sentiment", str(stars), label_column="stars")
    assert task.label_names == ["1", "2", "3", "4", "5"]
    for split in SPLITS:
        for row in task.dataset[split]:
            number = int(row["text"].split()[-1])
            assert task.label_names[row["label"]] == str(1 + number % 5)
    # numbers as text sort numerically too ("2" before "10"); true/false keep their names
    tens = _write(tmp_path / "tens.jsonl", "".join(json.dumps({"text": t, "label": ["10", "2", "7"][i % 3]}) + "\n"
                                                  for i, t in enumerate(_texts(30))))
    assert load_task("sentiment", str(tens)).label_names == ["2", "7", "10"]
    flags = _write(tmp_path / "flags.jsonl", "".join(json.dumps({"text": t, "label": i % 2 == 0}) + "\n"
                                                    for i, t in enumerate(_texts(30))))
    task = load_task("sentiment", str(flags))
    assert task.label_names == ["False", "True"]
    row = task.dataset["train"][0]
    assert task.label_names[row["label"]] == str(int(row["text"].split()[-1]) % 2 == 0)


def test_pos_tags_are_stripped(tmp_path):
    rows = [{"tokens": ["The", "dog"], "tags": ["DT", " NN"]}, {"tokens": ["A", "cat"], "tags": ["DT ", "NN"]}] * 6
    task = load_task("pos", str(_write(tmp_path / "t.jsonl", "".join(json.dumps(r) + "\n" for r in rows))))
    assert task.label_names == ["DT", "NN"]


def test_empty_rows_left_out_are_counted_in_one_warning(tmp_path):
    rows = "".join(f'"{t}",{"pos" if i % 2 else "neg"}\n' for i, t in enumerate(_texts(20)))
    csv = _write(tmp_path / "gaps.csv", "text,label\n" + rows + '"",pos\n"   ",neg\n')
    with pytest.warns(UserWarning, match=r"2 of 22 row\(s\) with an empty text in column 'text' were left out"):
        load_task("sentiment", str(csv))
    pairs = _write(tmp_path / "pairs.tsv", "en\tes\n" + "".join(f"pet {i}\tmascota {i}\n" for i in range(20))
                   + "lonely\t \n")
    with pytest.warns(UserWarning, match=r"1 of 21 row\(s\) with an empty source or target"):
        load_task("translation", str(pairs))


# ----------------------------------------------------------------------------- formats read as what they are


def _sentiment_frame(n=30):
    import pandas as pd

    return pd.DataFrame({"text": _texts(n), "label": ["pos" if i % 2 else "neg" for i in range(n)]})


def test_gzip_parquet_and_utf16_files_are_read(tmp_path):
    import gzip

    frame = _sentiment_frame()
    csv_text = frame.to_csv(index=False)
    (tmp_path / "r.csv.gz").write_bytes(gzip.compress(csv_text.encode()))
    frame.to_parquet(tmp_path / "r.parquet")
    (tmp_path / "parquet_named.csv").write_bytes((tmp_path / "r.parquet").read_bytes())  # by its bytes, not its name
    _write(tmp_path / "r16.csv", "\ufeff" + csv_text, encoding="utf-16")
    for name in ("r.csv.gz", "r.parquet", "parquet_named.csv", "r16.csv"):
        task = load_task("sentiment", str(tmp_path / name))
        assert task.label_names == ["neg", "pos"], name
        assert sorted(t for s in SPLITS for t in task.dataset[s]["text"]) == sorted(frame["text"]), name
    text = "\n\n".join(f"Roses are red, verse {i}." for i in range(20))
    (tmp_path / "poem.txt.gz").write_bytes(gzip.compress(text.encode()))
    assert len(load_task("textgen", str(tmp_path / "poem.txt.gz")).dataset["train"]) == 16


@pytest.mark.parametrize("content, message", [
    (b"PK\x03\x04" + bytes(100), "ZIP archive"),
    ("text,label\na,pos\nb,neg\nc,pos\n".encode("utf-16-le"), "NUL bytes"),
    (b"\x1f\x8b\x08\x00broken", "gzip file that cannot be decompressed"),
])
def test_binary_files_are_named_for_what_they_are(tmp_path, content, message):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_task("sentiment", str(path))


def test_parquet_given_to_a_text_reader_is_named(tmp_path):
    _sentiment_frame().to_parquet(tmp_path / "p.parquet")
    (tmp_path / "poem.txt").write_bytes((tmp_path / "p.parquet").read_bytes())
    with pytest.raises(DataError, match="is a Parquet file, not text"):
        load_task("textgen", str(tmp_path / "poem.txt"))


# ----------------------------------------------------------------------------- series in date order


def test_series_is_sorted_by_its_date_column(tmp_path):
    rows = [(f"2021-{1 + i // 28:02d}-{1 + i % 28:02d}", float(i % 9) + i / 100) for i in range(60)]
    shuffled = rows[30:] + rows[:30]
    path = _write(tmp_path / "s.csv", "date,value\n" + "".join(f"{d},{v}\n" for d, v in shuffled))
    with pytest.warns(UserWarning, match="sorted by column 'date'"):
        task = load_task("timeseries", str(path), context_length=6)
    assert task.dataset["test"][0]["values"] == [v for _, v in rows]
    # a named date column of numbers (steps), and a wrong name
    path = _write(tmp_path / "t.csv", "step,y\n" + "".join(f"{60 - i},{i % 5 + i / 10}\n" for i in range(60)))
    with pytest.warns(UserWarning, match="sorted by column 'step'"):
        task = load_task("timeseries", str(path), date_column="step", context_length=6)
    assert task.dataset["test"][0]["values"] == [i % 5 + i / 10 for i in reversed(range(60))]
    with pytest.raises(DataError, match="no column 'when'"):
        load_task("timeseries", str(path), date_column="when")
