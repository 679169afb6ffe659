"""Sentiment: Pang & Lee movie-review sentences (Rotten Tomatoes), rated by people.

Built-in source: the 10,605 sentences of ``movieReviewSnippets_GroundTruth.txt`` shipped in
the vaderSentiment 3.3.2 sdist (Hutto & Gilbert, ICWSM 2014; MIT). Each has the mean of
human ratings in -4..+4; a positive mean is ``positive``, a negative one ``negative``, and
the 37 sentences rated exactly 0 are dropped. Seeded 80/10/10 split.
"""

from __future__ import annotations

from datasets import ClassLabel, Dataset, Features, Value

from hf_rnn.assets.cache import raw_path, read_from_tar
from hf_rnn.comparison.goals import Goal
from hf_rnn.comparison.profiles import Profile
from hf_rnn.tasks.base import seeded_splits
from hf_rnn.tasks.kinds import SequenceClassificationTask

LABELS = ["negative", "positive"]

# Chosen on 320 validation sentences of the built-in data (SmolLM2-135M-Instruct): opening the answer
# with "Sentiment:" and reading " positive" / " negative" gave 0.81 accuracy, the same question without
# the opened answer 0.71, "Classify the text as ..." 0.63 (0.74 with contextual calibration), and
# summing over spellings ("Positive") lowered all.
SENTIMENT_PROMPT = (
    "Is the sentiment of this movie review {labels}? Answer with one word.\n\nReview: {text}",
    "Sentiment:",
)


class SentimentTask(SequenceClassificationTask):
    name = "sentiment"
    description = "Movie-review sentences → negative / positive (Pang & Lee, rated by people)"
    source_note = "Hutto & Gilbert 2014, movieReviewSnippets_GroundTruth.txt (vaderSentiment 3.3.2 sdist, MIT)"
    lecture_examples = ("Good, cheap food!", "Neat plot. Great acting.")
    title = "Sentiment"
    languages = ("en",)  # the built-in data's (the model card)
    input_hint = "a review, e.g. Good, cheap food!"
    default_models = ("bilstm", "mamba2", "smollm2")
    # the bars of the results issue: the Trainer reference fine-tuning this model reached 0.902
    goals = (Goal("rnn", "accuracy", ">=", 0.80, profiles=("full",)),
             Goal("llm", "accuracy", ">=", 0.905, profiles=("full",)),
             # the verdict issue's bar for the prompt-trained LLM under the full budget
             Goal("llm", "accuracy", ">=", 0.90, profiles=("full",)),
             Goal("llm", "accuracy", ">=", "zero-shot"),
             # the verdict issue's bar for the prompt-trained LLM in two minutes of training
             Goal("llm", "accuracy", ">=", 0.85, profiles=("quick",)),
             Goal("mamba2", "accuracy", ">=", "rnn", profiles=("full",)))
    profiles = {
        "quick": Profile("quick", 120, None, 300, None, 40,
                         extra={"llm": ["training.eval_steps=40"], "rnn": ["training.eval_steps=60"],
                                "mamba2": ["training.eval_steps=60"]}),
        # The RNN: up to three epochs with linear decay. The LLM: transformers.Trainer's usual 2e-5 decaying
        # to zero over 1.25 epochs (about 650 steps of 16, the schedule of the Trainer run behind the goal);
        # spread over three epochs the same rate overfits after the first. Both LLM classifiers: the default,
        # trained through the LM head's label words from the zero-shot prompt, and the new linear head.
        "full": Profile("full", None, None, None, None, 100, epochs=3,
                        extra={"rnn": ["training.early_stopping_patience=5"],
                               "mamba2": ["training.early_stopping_patience=5"],
                               "llm": ["training.early_stopping_patience=5", "training.learning_rate=2e-5",
                                       "training.epochs=1.25"]},
                        models=("bilstm", "mamba2", "smollm2", "smollm2-newhead")),
    }
    app_quick_train = ("bilstm", ("model.attention=additive", "task.max_validation_examples=300",
                                  "task.max_test_examples=300"))

    def zero_shot_prompt(self) -> tuple[str, str]:
        # tuned on the built-in movie reviews; other data gets the generic question
        return SENTIMENT_PROMPT if self.source == "builtin" else super().zero_shot_prompt()

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
