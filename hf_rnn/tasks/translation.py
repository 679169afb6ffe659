"""English → Spanish translation: Bible verses, World English Bible and Reina-Valera 1909.

Built-in source: the SWORD modules ``engWEB2015eb`` and ``spaRV1909eb`` from Debian's
``sword-text-web`` and ``sword-text-sparv`` (public domain), read with ``pysword`` and
aligned by verse reference: 31,057 usable pairs. Known quirks: the Spanish is 1909
orthography ("fué"), a few English verses have words run together where markup was
stripped ("Godcreated"). Seeded 80/10/10 verse split; by default pairs longer than 30
words on either side are left out (``max_words``) so that a small model can learn them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from datasets import Dataset, DatasetDict

from hf_rnn.assets.cache import extract_deb, find_raw
from hf_rnn.comparison.goals import Goal
from hf_rnn.comparison.profiles import Profile
from hf_rnn.tasks.base import seeded_splits
from hf_rnn.tasks.generation_kinds import TranslationTask


def _verses(bible, book) -> dict[tuple[int, int], str]:
    out = {}
    for chapter in range(1, book.num_chapters + 1):
        n = book.chapter_lengths[chapter - 1]
        texts = bible.get(books=[book.osis_name], chapters=[chapter], verses=list(range(1, n + 1)), join="\x00")
        for verse, text in enumerate(texts.split("\x00"), 1):
            out[(chapter, verse)] = " ".join(text.split())
    return out


class EnglishSpanishTask(TranslationTask):
    name = "translation"
    description = "English → Spanish Bible verses (World English Bible → Reina-Valera 1909)"
    source_note = "Debian sword-text-web and sword-text-sparv, read with pysword (public domain)"
    lecture_examples = ("Do you have a pet?", "What time is it?", "I like red apples")
    title = "Translation"
    languages = ("en", "es")  # the built-in data's (the model card)
    input_hint = "an English sentence"
    default_models = ("rnn", "rnn-noattention", "mamba2", "smollm2")  # the same encoder-decoder with and without attention
    # both families well above the untrained model; attention worth 5 chrF to the same RNN (the lecture's claim)
    goals = (Goal("rnn", "chrf", ">=", "zero-shot", margin=10.0, profiles=("full",)),
             Goal("llm", "chrf", ">=", "zero-shot", margin=10.0, profiles=("full",)),
             Goal("mamba2", "chrf", ">=", "rnn", profiles=("full",)),
             Goal("bigru", "chrf", ">=", "rnn-noattention", margin=5.0))
    profiles = {"quick": Profile("quick", 150, 6000, 100, 200, 60),
                "full": Profile("full", 1800, None, 300, 500, 200)}
    app_quick_train = ("rnn", ("task.max_validation_examples=40", "task.max_test_examples=40"))

    @classmethod
    def prepare_builtin(cls) -> DatasetDict:
        from pysword.modules import SwordModules

        with tempfile.TemporaryDirectory() as tmp:
            for key in ("sword-web", "sword-sparv"):
                extract_deb(find_raw(key), Path(tmp))
            modules = SwordModules(str(Path(tmp) / "usr/share/sword"))
            modules.parse_modules()
            en = modules.get_bible_from_module("engWEB2015eb")
            es = modules.get_bible_from_module("spaRV1909eb")
            rows = {"source": [], "target": [], "ref": []}
            for testament in ("ot", "nt"):
                for book in en.get_structure().get_books()[testament]:
                    try:  # the 1909 Spanish Bible has no deuterocanonical books
                        es_book = es.get_structure().find_book(book.osis_name)[1]
                    except ValueError:
                        continue
                    e, s = _verses(en, book), _verses(es, es_book)
                    for (c, v), text in e.items():
                        other = s.get((c, v), "")
                        if text and other:
                            rows["source"].append(text)
                            rows["target"].append(other)
                            rows["ref"].append(f"{book.osis_name} {c}:{v}")
        return seeded_splits(Dataset.from_dict(rows))
