"""The Task protocol: data in fixed splits, how each model family sees it, and its metric.

A task owns three things and nothing else:

1. its data, as a ``datasets.DatasetDict`` with ``train`` / ``validation`` / ``test``
   splits and canonical columns (built-in, a local file, or a Hub dataset id; files and
   Hub ids meet in ``from_source`` and go through the same standardisation);
2. how a model family asks for its inputs (``encode``, ``collator``, ``model_inputs``):
   classification ids, token labels aligned to sub-tokens, language-model blocks,
   source/target pairs or a chat prompt, numeric windows or digit strings;
3. its metric(s): ``prediction_step`` turns a batch into fixed-shape tensors that a
   distributed loop can gather, ``compute_metrics`` turns the gathered arrays into numbers.

``predict`` is the one inference path from raw inputs (texts, word lists, windows of values) to answers: the
same encoding of a row as ``encode``, the same ``prediction_step`` as evaluation, then ``answers`` reads the
tensors back as a person would read them. Evaluation, latency measurement, the comparison's report and the app
all answer through it.

The five kinds of the lecture are the subclasses in ``kinds.py`` and ``generation_kinds.py``; the concrete tasks
(``sentiment.py``, ``pos.py``, ...) add only their data.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from datasets import Dataset, DatasetDict

from hf_rnn.comparison.goals import Goal
from hf_rnn.comparison.profiles import Profile
from hf_rnn.errors import DataError, InputError
from hf_rnn.tasks.example_views import ExampleView
from hf_rnn.tasks.options import Option
from hf_rnn.training.sampling import evaluation_loader

SPLITS = ("train", "validation", "test")
SPLIT_SEED = 1234
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


# The two encodings of a task (the ``encoding`` argument of ``Task.encode`` / ``collator``), named after the
# family each was first written for; a model of any family reads one of them:
DIRECT = "rnn"  # the task's own inputs: token ids of the text, source/target pairs, windows of values
PROMPTED = "llm"  # a causal LM's prompt and answer: a chat prompt, digit strings


def input_family(model: Any) -> str:
    """The encoding ``model`` reads: ``DIRECT`` when its class says it reads the task's own inputs
    (``reads_task_inputs``: hf_rnn's RNN heads, a plug-in family's models) or its main input is a window of
    values (``past_values``: a numeric forecaster on an LLM, too); else ``PROMPTED`` (any transformers LM)."""
    if getattr(model, "main_input_name", None) == "past_values" or getattr(model, "reads_task_inputs", False):
        return DIRECT
    return PROMPTED


# Task.without_data's splits by the kind's columns (read-only: a task never changes its dataset in place)
_EMPTY_SPLITS: dict[tuple[str, ...], DatasetDict] = {}


@dataclass
class Answer:
    """A model's answer to one raw input (``Task.predict``).

    Attributes:
        output: by kind: ``{label: probability}`` (classification), ``[(word, tag), ...]`` (tagging, the words
            that fit), the generated text (a continuation, a translation), ``[value] * horizon`` (forecasting).
        notices: what a reader should know about this answer (words cut, no number in a forecaster's text).
        scores: classification: the per-label scores the probabilities are the softmax of (a classifier's
            logits; a zero-shot LLM's label-word log-probabilities, whose ``exp`` sum is the probability mass
            on the label words).
        token_ids: generation: the generated token ids before the first eos or pad (attention maps are drawn
            over them).
    """

    output: Any
    notices: list[str] = field(default_factory=list)
    scores: list[float] | None = None
    token_ids: list[int] | None = None


def seeded_splits(ds: Dataset, seed: int = SPLIT_SEED, fractions=SPLIT_FRACTIONS) -> DatasetDict:
    """Shuffle once with ``seed`` and cut into train / validation / test by ``fractions``."""
    if len(ds) < 3:
        raise DataError(f"only {len(ds)} usable example(s): at least 3 are needed for train/validation/test splits")
    order = np.random.default_rng(seed).permutation(len(ds))
    n_val = max(1, round(fractions[1] * len(ds)))
    n_test = max(1, round(fractions[2] * len(ds)))
    n_train = len(ds) - n_val - n_test
    return DatasetDict(
        train=ds.select(np.sort(order[:n_train])),
        validation=ds.select(np.sort(order[n_train : n_train + n_val])),
        test=ds.select(np.sort(order[n_train + n_val :])),
    )


class Task:
    """One of the lecture's tasks: data, the families' inputs, and the metric."""

    # options every source accepts (a Hub dataset's configuration and revision); tasks add their own
    option_specs: ClassVar[dict[str, Option]] = {
        "subset": Option(str, "the Hub dataset's configuration name"),
        "revision": Option(str, "the Hub dataset's revision"),
    }

    name: ClassVar[str]
    kind: ClassVar[str]
    description: ClassVar[str]
    source_note: ClassVar[str] = ""
    metric_names: ClassVar[tuple[str, ...]]
    primary_metric: ClassVar[str]
    greater_is_better: ClassVar[bool] = True
    builtin_version: ClassVar[int] = 1
    # the lecture's own inputs for this task, the first one the one that makes its point (reports, the app)
    lecture_examples: ClassVar[tuple[str, ...]] = ()
    # the app: the tab's title and the input box's hint
    title: ClassVar[str] = ""
    input_hint: ClassVar[str] = "an input"
    # the comparison: the models it trains by default (recipe names) and its profiles by name
    default_models: ClassVar[tuple[str, ...]] = ()
    profiles: ClassVar[dict[str, Profile]] = {}
    # the bars its committed results are checked against in the README (met, or missed by how much)
    goals: ClassVar[tuple[Goal, ...]] = ()
    # whether the untrained instruct LLM can answer the task as it is (a reference row, the app's default)
    zero_shot: ClassVar[bool] = True
    # the app's one-minute model: (recipe model name, overrides); the splits it scores on are capped
    app_quick_train: ClassVar[tuple[str, tuple[str, ...]]] = ("rnn", ())
    # where the task's built-in recipes are (``<name>_rnn.yaml``, ``<name>_llm.yaml``); None: the package's
    recipe_dir: ClassVar[Path | None] = None
    # canonical column names that the kind needs; ``standardize`` maps user columns onto them
    columns: ClassVar[tuple[str, ...]]

    def __init__(self, dataset: DatasetDict, source: str = "builtin", **options: Any) -> None:
        missing = [s for s in SPLITS if s not in dataset]
        if missing:
            raise DataError(f"{self.name}: dataset lacks split(s) {missing}")
        self.dataset = dataset
        self.source = source
        self.options = options

    # ------------------------------------------------------------------ data sources

    @classmethod
    def builtin_path(cls) -> Path:
        from hf_rnn.assets.cache import dataset_path

        return dataset_path(cls.name, cls.builtin_version)

    @classmethod
    def ensure_builtin(cls) -> Path:
        """Prepare the built-in data once into the cache (atomically); return its folder."""
        from hf_rnn.assets.cache import _usable, atomic_dir

        path = cls.builtin_path()
        if _usable(path, f"{cls.name} data"):
            return path
        dd = cls.prepare_builtin()
        with atomic_dir(path) as tmp:
            dd.save_to_disk(str(tmp))
            (tmp / "hf_rnn_source.json").write_text(json.dumps({"task": cls.name, "note": cls.source_note}))
        return path

    @classmethod
    def prepare_builtin(cls) -> DatasetDict:
        """Build the built-in DatasetDict from the raw offline sources."""
        raise NotImplementedError

    @classmethod
    def from_source(cls, source: str | None = None, **options: Any) -> Task:
        """Load the task from the built-in cache, a local file, or a Hub dataset id.

        ``options`` are column mappings (e.g. ``text_column="review"``) and task settings
        (e.g. ``max_words`` for translation); see each task's docstring.
        """
        from datasets import load_from_disk

        from hf_rnn.tasks.options import check_options
        from hf_rnn.tasks.sources import check_readable, load_hub_dataset, looks_like_file

        check_options(cls, options)  # before anything is read
        if source is None or source == "builtin":
            dd = load_from_disk(str(cls.ensure_builtin()))
            return cls(cls._non_empty(cls.after_load(dd, **options), "the built-in data"), source="builtin", **options)
        if looks_like_file(source):
            raw = cls.read_file(check_readable(Path(source).expanduser()), **options)
        else:
            raw = load_hub_dataset(source, **options)
        dd = cls.standardize(raw, **options)
        dd = cls.ensure_splits(dd)
        return cls(cls._non_empty(cls.after_load(dd, **options), repr(str(source))), source=str(source), **options)

    @classmethod
    def _non_empty(cls, dd: DatasetDict, what: str) -> DatasetDict:
        """A split left empty (every row filtered out, a file too small) cannot train or score anything."""
        empty = [s for s in SPLITS if len(dd[s]) == 0]
        if empty:
            sizes = ", ".join(f"{s} {len(dd[s])}" for s in SPLITS)
            names = empty[0] if len(empty) == 1 else f"{', '.join(empty[:-1])} and {empty[-1]}"
            raise DataError(f"{cls.name}: the {names} split{'s are' if len(empty) > 1 else ' is'} "
                            f"empty after loading {what} ({sizes} examples){cls.empty_split_hint()}")
        return dd

    def too_small_message(self, split: str, tokenizer, max_length: int | None) -> str:
        """Why ``split`` encodes to no example, and the least it needs (``hf_rnn.train`` raises it before the
        run folder exists). Kinds that cut or window their data say what one example needs."""
        return (f"{self.name}: the {split} split has no example to {'train on' if split == 'train' else 'score'} "
                f"({len(self.dataset[split])} rows before encoding); every split needs at least one")

    @classmethod
    def empty_split_hint(cls) -> str:
        """What to change when a split comes out empty (tasks with filtering options say which)."""
        return "; give more data"

    @classmethod
    def read_file(cls, path: Path, **options: Any) -> DatasetDict:
        """Read a local file into a DatasetDict (tabular by default; tasks add formats)."""
        from hf_rnn.tasks.sources import read_local_file

        return read_local_file(path, **options)

    @classmethod
    def standardize(cls, raw: DatasetDict, **options: Any) -> DatasetDict:
        """Map the source's columns onto ``cls.columns`` and check their types."""
        raise NotImplementedError

    @classmethod
    def ensure_splits(cls, dd: DatasetDict) -> DatasetDict:
        """Give a source without our three splits seeded ones (a file has only ``train``)."""
        if all(s in dd for s in SPLITS):
            return DatasetDict({s: dd[s] for s in SPLITS})
        if "train" in dd and "test" in dd:
            if len(dd["train"]) < 2:
                raise DataError("the train split is too small to carve a validation split from")
            carved = dd["train"].train_test_split(test_size=0.1, seed=SPLIT_SEED)
            return DatasetDict(train=carved["train"], validation=carved["test"], test=dd["test"])
        first = dd[next(iter(dd))]
        return seeded_splits(first)

    @classmethod
    def after_load(cls, dd: DatasetDict, **options: Any) -> DatasetDict:
        """Hook for settings applied after loading (length caps, series choice)."""
        return dd

    # ------------------------------------------------------------------ description

    @property
    def label_names(self) -> list[str] | None:
        return None

    def data_description(self) -> str:
        """What the data is, in one line: the built-in corpus's own description, or the user's file (or Hub
        dataset) with its sizes and labels: never the built-in corpus's words for somebody else's data."""
        if self.source in (None, "builtin"):
            return self.description
        from hf_rnn.tasks.sources import looks_like_file

        where = f"your file {Path(self.source).name}" if looks_like_file(self.source) else \
            f"the Hub dataset {self.source}"
        sizes = " / ".join(f"{len(self.dataset[s]):,}" for s in SPLITS)
        labels = self.label_names
        shown = (f"; {len(labels)} labels: {', '.join(labels[:12])}{', ...' if len(labels) > 12 else ''}"
                 if labels else "")
        return f"{where}: {sizes} examples (train / validation / test){shown}"

    def summary(self) -> dict[str, Any]:
        """Sizes, labels and metrics: what ``hf-rnn tasks`` prints."""
        return {
            "task": self.name,
            "kind": self.kind,
            "description": self.data_description(),
            "source": self.source,
            "sizes": {s: len(self.dataset[s]) for s in SPLITS},
            "labels": self.label_names,
            "metrics": list(self.metric_names),
            "primary_metric": self.primary_metric,
        }

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s}={len(self.dataset[s])}" for s in SPLITS)
        return f"{type(self).__name__}(source={self.source!r}, {sizes})"

    # ------------------------------------------------------------------ model side

    def encode(
        self,
        tokenizer,
        encoding: str = DIRECT,
        splits: tuple[str, ...] = SPLITS,
        max_length: int | None = None,
        for_generation: bool = False,
    ) -> DatasetDict:
        """Tokenize splits in ``encoding`` (``DIRECT``, "rnn", or ``PROMPTED``, "llm": what the model reads,
        ``input_family(model)``); every row keeps ``example_index``.

        ``for_generation`` encodes evaluation inputs for tasks scored on generated output
        (translation, an LLM forecaster): the prompt only, no target.
        """
        raise NotImplementedError

    def collator(self, tokenizer, encoding: str = DIRECT, for_generation: bool = False):
        """A callable that pads a list of encoded rows into a batch of tensors."""
        raise NotImplementedError

    def model_inputs(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The keys of ``batch`` that the model's forward takes (drops bookkeeping columns)."""
        return {k: v for k, v in batch.items() if k not in ("example_index", "word_ids", "n_chars")}

    def prediction_step(self, model, batch, tokenizer=None, **generate_kwargs) -> dict[str, torch.Tensor]:
        """Run the model on one batch; return tensors with batch size as first dim."""
        raise NotImplementedError

    def compute_metrics(self, outputs: Mapping[str, list[np.ndarray]], tokenizer=None, split: str = "test") -> dict:
        """Turn gathered prediction arrays (one list entry per batch) into the task's metrics."""
        raise NotImplementedError

    def example_records(self, outputs: Mapping[str, list[np.ndarray]], tokenizer=None,
                        split: str = "test") -> list[dict[str, Any]] | None:
        """The same gathered arrays as ``compute_metrics`` reads, as one JSON-able record per scored unit (a text,
        a sentence, a block, a pair, a window), ordered by ``index`` (the unit's position in ``split``): what a
        paired test between two models needs of each example (``hf_rnn.comparison.paired_tests``). ``None``: the kind
        keeps none (a plug-in kind that does not say)."""
        return None

    # ------------------------------------------------------------------ answers to raw inputs

    # inputs predict batches together
    predict_batch_size: ClassVar[int] = 8
    # whether ``predict`` takes a ``forward`` (a kind whose step is one forward pass read for its logits)
    accepts_forward: ClassVar[bool] = False

    @classmethod
    def without_data(cls, **options: Any) -> Task:
        """The task with no examples: enough to ``predict`` with a trained model (label names come from the
        model), e.g. a run folder whose training data is not on this machine."""
        empty = _EMPTY_SPLITS.get(cls.columns)
        if empty is None:  # made once per set of columns: a Dataset costs milliseconds (its fingerprint)
            split = Dataset.from_dict({c: [] for c in cls.columns})
            empty = _EMPTY_SPLITS[cls.columns] = DatasetDict({s: split for s in SPLITS})
        return cls(empty, source="none", **options)

    def encode_inputs(self, tokenizer, inputs: Sequence[Any], encoding: str = DIRECT,
                      max_length: int | None = None) -> list[dict[str, Any]]:
        """Encoded rows of raw ``inputs``, as ``encode(..., for_generation=True)`` encodes a split's rows."""
        raise NotImplementedError

    def example_inputs(self, split: str = "test") -> list[Any]:
        """The raw inputs of ``split``'s examples (what ``predict`` takes), in order."""
        raise NotImplementedError

    def answer_step(self, model, batch: Mapping[str, torch.Tensor], tokenizer=None,
                    **generate_kwargs) -> dict[str, torch.Tensor]:
        """The step ``predict`` runs on a batch: ``prediction_step`` (a language model generates instead)."""
        return self.prediction_step(model, batch, tokenizer, **generate_kwargs)

    def answers(self, model, outputs: Mapping[str, list[np.ndarray]], inputs: Sequence[Any],
                tokenizer=None) -> list[Answer]:
        """``answer_step``'s arrays (one list entry per batch, inputs in order) as one ``Answer`` per input."""
        raise NotImplementedError

    def predict(self, model, tokenizer, inputs: Sequence[Any], *, max_length: int | None = None,
                batch_size: int | None = None, forward: Callable[..., Any] | None = None,
                **generate_kwargs) -> list[Answer]:
        """``model``'s answer to each raw input: the task's encoding, ``prediction_step``, read back.

        Args:
            inputs: by kind: texts (classification, a prompt to continue, a source sentence), word lists
                (tagging; a text is split on whitespace), windows of past values (forecasting).
            max_length: input tokens kept per input (default: what the kind's ``encode`` keeps by default; a
                prompt to continue is not cut). A run trained with another ``training.max_length`` scores
                what it read: pass that to match its evaluation exactly.
            batch_size: inputs per forward pass (default ``predict_batch_size``).
            forward: classification and tagging: called with a batch's inputs as the model is, instead of it,
                one input at a time (the app's pass that keeps the attention maps too).
            generate_kwargs: generation settings (``max_new_tokens``, ...) for the kinds that generate.

        Returns:
            one ``Answer`` per input, in order.
        """
        if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Sequence):
            raise InputError(f"{self.name}: predict takes a list of inputs (one answer each), "
                             f"not {type(inputs).__name__}")
        if not inputs:
            return []
        if forward is not None:
            if not self.accepts_forward:
                raise InputError(f"{self.name}: predict takes a forward only for classification and tagging")
            generate_kwargs["forward"] = forward
            batch_size = 1  # the forward's caller reads one input's pass
        encoding = input_family(model)
        rows = self.encode_inputs(tokenizer, inputs, encoding, max_length)
        for i, row in enumerate(rows):
            row["example_index"] = i
        collate = self.collator(tokenizer, encoding, for_generation=True)
        size = batch_size or self.predict_batch_size
        device = next(model.parameters()).device
        # DataCollatorForSeq2Seq returns labels=None for prompt-only rows (LLM generation inputs)
        batches = ({k: v.to(device) for k, v in collate(rows[i:i + size]).items() if v is not None}
                   for i in range(0, len(rows), size))
        outputs = self.collect_predictions(model, batches, tokenizer, step=self.answer_step, **generate_kwargs)
        return self.answers(model, outputs, inputs, tokenizer)

    def evaluate(
        self,
        model,
        tokenizer,
        split: str = "test",
        batch_size: int = 32,
        max_examples: int | None = None,
        max_length: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        with_examples: bool = False,
        **generate_kwargs,
    ) -> dict[str, float] | tuple[dict[str, float], list[dict[str, Any]] | None]:
        """Score ``model`` on ``split`` in this process (no distribution): the task's metrics.

        ``progress(done, total)`` is called after each batch with the examples scored so far.
        ``with_examples``: return ``(metrics, example_records(...))``, the per-example answers too.
        """
        encoding = input_family(model)
        sub = self if max_examples is None else self.subset({split: max_examples})
        enc = sub.encode(tokenizer, encoding, splits=(split,), max_length=max_length, for_generation=True)[split]
        # longest first, as the training loop's evaluation: the least padding (every kind's metrics read
        # predictions with their labels or their example_index, not by position)
        loader = evaluation_loader(enc.to_list(), sub.collator(tokenizer, encoding, for_generation=True),
                                   batch_size, num_workers=0, pin_memory=False)
        device = next(model.parameters()).device
        # DataCollatorForSeq2Seq returns labels=None for prompt-only rows (LLM generation inputs)
        batches = ({k: v.to(device) for k, v in batch.items() if v is not None} for batch in loader)
        total = len(enc)
        after_batch = None if progress is None else lambda done: progress(min(done * batch_size, total), total)
        outputs = sub.collect_predictions(model, batches, tokenizer, after_batch=after_batch, **generate_kwargs)
        metrics = sub.compute_metrics(outputs, tokenizer=tokenizer, split=split)
        if with_examples:
            return metrics, sub.example_records(outputs, tokenizer=tokenizer, split=split)
        return metrics

    def collect_predictions(
        self,
        model,
        batches: Iterable[Mapping[str, torch.Tensor]],
        tokenizer=None,
        *,
        autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
        gather: Callable[[dict[str, torch.Tensor]], Mapping[str, torch.Tensor]] | None = None,
        after_batch: Callable[[int], None] | None = None,
        step: Callable[..., Mapping[str, torch.Tensor]] | None = None,
        **generate_kwargs,
    ) -> dict[str, list[np.ndarray]]:
        """``prediction_step`` over ``batches`` with ``model`` in eval mode (put there and back when it is
        training) and no gradients: the evaluation loop
        of ``evaluate`` and of the training loop (``hf_rnn.training.loop``), which add the data and the metrics.

        Args:
            batches: the collated batches, on the model's device.
            autocast: the context each step runs in (the training loop's mixed precision).
            gather: the step's tensors [B, ...] as they are kept (a distributed loop pads them across processes
                and gathers every example once).
            after_batch: called with the number of batches done (progress).
            step: what runs on each batch (default ``prediction_step``; ``predict`` passes ``answer_step``).

        Returns:
            per output key of ``prediction_step``, one numpy array [B, ...] per batch (floating point as float32):
            what ``compute_metrics`` reads.
        """
        was_training = model.training
        if was_training:  # a large model's eval() walks every module: milliseconds an app request would wait
            model.eval()
        outputs: dict[str, list[np.ndarray]] = {}
        with torch.no_grad():
            for done, batch in enumerate(batches, 1):
                with autocast():
                    pred = (step or self.prediction_step)(model, batch, tokenizer, **generate_kwargs)
                for k, v in (pred if gather is None else gather(pred)).items():
                    v = v.detach().cpu()
                    outputs.setdefault(k, []).append(v.float().numpy() if v.is_floating_point() else v.numpy())
                if after_batch is not None:
                    after_batch(done)
        if was_training:
            model.train()
        return outputs

    def subset(self, sizes: Mapping[str, int], seed: int = SPLIT_SEED) -> Task:
        """A copy with at most ``sizes[split]`` examples per split (seeded, for quick runs)."""
        dd = DatasetDict()
        for s in SPLITS:
            ds = self.dataset[s]
            n = sizes.get(s)
            if n is not None and n < len(ds):
                ds = ds.shuffle(seed=seed).select(range(n))
            dd[s] = ds
        return type(self)(dd, source=self.source, **self.options)

    # ------------------------------------------------------------------ the app, the references, the model card
    #
    # What a kind shows in the app, which references it is compared with and how its model card reads: the app
    # (``hf_rnn.app``), ``hf_rnn.comparison.references`` and ``hf_rnn.report.cards`` ask the task's class and never its kind's
    # name. The defaults suit a kind that answers a text with one value (a new kind overrides what differs).

    # what the page asks for: "text" (a text box) or "window" (a test window of the task's series, by index)
    app_input: ClassVar[str] = "text"
    # the page's output: "label" (probabilities per label), "tags" (a tag per word), "line" (one line of text)
    # or "text" (a few lines)
    app_output: ClassVar[str] = "text"
    # whether the page offers how many new tokens to generate (a continuation)
    app_new_tokens: ClassVar[bool] = False
    # the report's paired test of two models on this kind (``hf_rnn.comparison.paired_tests.TESTS``; None: none)
    paired_test: ClassVar[str | None] = None
    # how its per-example predictions read where two models disagree (``hf_rnn.tasks.example_views``)
    examples: ClassVar[ExampleView] = ExampleView()
    # the fewest new tokens an answer may take where the kind generates one (a translation: a sentence)
    answer_min_new_tokens: ClassVar[int | None] = None
    # whether an LLM's map can show the prompt template around the input (a tagger's input is the text alone)
    app_prompt_maps: ClassVar[bool] = True
    # whether the app loads the task's data to answer (labels, prompts, windows; a language model needs none)
    app_needs_data: ClassVar[bool] = True
    # whether a model of the task reads text (a tokenizer); a forecaster on values reads none
    reads_text: ClassVar[bool] = True
    # the lecture's kind whose model heads a new kind's models share (None: its own ``kind``'s); e.g. a text
    # regression is a sequence classifier with one output (its ``head_config``)
    head_kind: ClassVar[str | None] = None

    def head_config(self) -> dict[str, Any]:
        """Settings of the model config that the kind's head needs beyond the recipe and the tokenizer."""
        return {}
    # the model card: the Hub's pipeline tag of a model that does this kind of task itself (None: none fits),
    # the Auto class that loads a saved model with this kind's own head, and whether an LLM has such a head
    # for it (else it answers by continuing a prompt: AutoModelForCausalLM)
    pipeline_tag: ClassVar[str | None] = None
    auto_class: ClassVar[str | None] = None
    llm_head: ClassVar[bool] = False
    # the languages of the built-in data (the card's metadata; a file's or a Hub dataset's are not known)
    languages: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def app_examples(cls, general: Sequence[str] = ()) -> list[Any]:
        """The inputs the page offers to click: the task's ``lecture_examples`` first (the one that makes its
        point), then the lecture's ``general`` sentences; none for a kind whose input is not a text."""
        if cls.app_input != "text":
            return []
        return list(cls.lecture_examples) + [e for e in general if e not in cls.lecture_examples]

    @classmethod
    def app_input_problem(cls, text: str) -> str | None:
        """Why the cleaned, non-empty ``text`` cannot be answered at all (one line for the page), or ``None``."""
        return None

    @classmethod
    def app_display(cls, output: Any, text: str | None = None, series: Mapping[str, Any] | None = None) -> Any:
        """The value the page's ``app_output`` component shows for ``output`` (an ``Answer.output``), given the
        input ``text`` or, for a window, the ``series`` it was cut from (its ``truth``)."""
        return str(output)

    @classmethod
    def answer_line(cls, output: Any) -> str:
        """``output`` (an ``Answer.output``) in one line for a report's cell."""
        if output is None:
            return "—"
        text = " ".join(str(output).split())
        if not text:
            return "(no output: the model ended at once)"
        return text if len(text) <= 90 else text[:89] + "…"

    def app_answer(self, request: Any, raw_input: Any) -> None:
        """Answer ``raw_input`` (a cleaned text; a window of values where ``app_input`` is "window") in the app.

        ``request`` is the app's ``hf_rnn.app.predict.AppRequest``: the loaded model (``request.lm``), the
        ``Prediction`` to fill (``request.pred``: ``output``, ``maps`` or ``attention_note``, ``notices``) and
        the app's tools (``limit``, ``cut_ids``, ``cut_text``, ``forward``, ``no_maps``). Raise ``InputError``
        (one line) for what the person can fix. The default: the input cut to the tokens the model takes (with a
        notice), then ``predict``; a kind that ``accepts_forward`` answers through the family's pass that keeps the
        attention maps, any other gets the family's note on why there are none.
        """
        lm = request.lm
        room = None
        if isinstance(raw_input, str) and lm.tokenizer is not None:
            room, reason = request.limit()
            if not request.cut_ids(list(lm.tokenizer(raw_input)["input_ids"]), room, reason):
                raise InputError("the input has no tokens for this model")
        forward = request.keeping_maps(raw_input) if self.accepts_forward else None
        answer = self.predict(lm.model, lm.tokenizer, [raw_input], max_length=room, forward=forward)[0]
        request.pred.output = answer.output
        request.pred.notices.extend(answer.notices)
        if forward is None:
            request.no_maps()

    def references(self) -> list[Any]:
        """The rows that are no trained model (``hf_rnn.comparison.references.Reference``: a rule of thumb, a classic
        method) scored on this task's test split; none by default."""
        return []
