"""Sentiment: Pang & Lee movie-review sentences (Rotten Tomatoes), rated by people.

Built-in source: the 10,605 sentences of ``movieReviewSnippets_GroundTruth.txt`` shipped in
the vaderSentiment 3.3.2 sdist (Hutto & Gilbert, ICWSM 2014; MIT). Each has the mean of
human ratings in -4..+4; a positive mean is ``positive``, a negative one ``negative``, and
the 37 sentences rated exactly 0 are dropped. Seeded 80/10/10 split.
"""

from __future__ import annotations

from datasets import ClassLabel, Dataset, Features, Value

from ..assets import raw_path, read_from_tar
from .base import seeded_splits
from .kinds import SequenceClassificationTask

LABELS = ["negative", "positive"]


class SentimentTask(SequenceClassificationTask):
    name = "sentiment"
    description = "Movie-review sentences → negative / positive (Pang & Lee, rated by people)"
    source_note = "Hutto & Gilbert 2014, movieReviewSnippets_GroundTruth.txt (vaderSentiment 3.3.2 sdist, MIT)"
    lecture_examples = ("Good, cheap food!", "Neat plot. Great acting.")

    @classmethod
    def prepare_builtin(cls):
        import io
        import tarfile

        inner = read_from_tar(raw_path("vader"), "hutto_ICWSM_2014.tar.gz")
        with tarfile.open(fileobj=io.BytesIO(inner)) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith("movieReviewSnippets_GroundTruth.txt"))
            text = tar.extractfile(member).read().decode("utf-8", errors="replace")
        texts, labels, ratings = [], [], []
        for line in text.splitlines():
            parts = line.split("\t")
            if len(parts) < 3:
                continue
            rating = float(parts[1])
            if rating == 0:
                continue
            texts.append(parts[2].strip())
            labels.append(int(rating > 0))
            ratings.append(rating)
        features = Features({"text": Value("string"), "label": ClassLabel(names=LABELS), "rating": Value("float32")})
        return seeded_splits(Dataset.from_dict({"text": texts, "label": labels, "rating": ratings}, features=features))
