"""The toy task that the plug-in tests define outside hf_rnn: its module source and its small RNN recipe.

``tests/test_new_task.py`` registers it as a sixth task; ``tests/test_new_family.py`` runs a toy third family
on it. Each writes the source into a temporary folder under its own module, class and task name.
"""

from __future__ import annotations

TOY_TASK_SOURCE = '''
"""A toy task defined outside hf_rnn: short phrases -> good / bad."""

from pathlib import Path

from datasets import ClassLabel, Dataset, Features, Value

from hf_rnn.comparison.profiles import Profile
from hf_rnn.tasks import SequenceClassificationTask, register_task
from hf_rnn.tasks.base import seeded_splits

GOOD = ["a fine day", "great food", "lovely view", "nice people", "warm sun", "good book", "kind words",
        "happy song", "bright morning", "sweet cake"]
BAD = ["a grim day", "awful food", "ugly view", "rude people", "cold rain", "dull book", "harsh words",
       "sad song", "dark night", "stale cake"]


@register_task
class {class_name}(SequenceClassificationTask):
    name = "{name}"
    description = "Short phrases -> good / bad"
    title = "{title}"
    input_hint = "a short phrase"
    lecture_examples = ("a fine day", "a grim day")
    default_models = {default_models!r}
    zero_shot = False
    profiles = {{"quick": Profile("quick", None, eval_steps=3, latency_examples=3, epochs=2)}}
{extra}    recipe_dir = Path(__file__).parent

    @classmethod
    def prepare_builtin(cls):
        texts = (GOOD + BAD) * 3
        labels = ([1] * len(GOOD) + [0] * len(BAD)) * 3
        features = Features({{"text": Value("string"), "label": ClassLabel(names=["bad", "good"])}})
        return seeded_splits(Dataset.from_dict({{"text": texts, "label": labels}}, features=features))
'''

TOY_RNN_RECIPE = """
task: {{name: {name}}}
model: {{family: rnn, name: rnn, cell: gru, bidirectional: true, embedding_size: 16, hidden_size: 16,
        num_layers: 1, attention: additive}}
tokenizer: {{word_level: true, vocab_size: 100}}
training: {{epochs: 2, batch_size: 8, learning_rate: 0.01, eval_steps: 3, progress_bar: false, logging_steps: 2}}
"""


def toy_task_source(class_name: str, name: str, title: str, default_models: tuple[str, ...],
                    app_quick_train: tuple | None = None) -> str:
    """The toy task module's source, its class and task named as given."""
    extra = f"    app_quick_train = {app_quick_train!r}\n" if app_quick_train is not None else ""
    return TOY_TASK_SOURCE.format(class_name=class_name, name=name, title=title, default_models=default_models,
                                  extra=extra)


def toy_rnn_recipe(name: str) -> str:
    """The toy task's small RNN recipe (YAML)."""
    return TOY_RNN_RECIPE.format(name=name)
