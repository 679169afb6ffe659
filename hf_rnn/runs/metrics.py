"""``metrics.json``: building the document a finished run reports, and its identifiers.

``metrics_document`` builds the ``hf_rnn.runs.schema.RunMetrics`` that ``hf_rnn.training.loop`` writes at the end of
a run (and the model card is made from); the schema itself, and its reading, is ``hf_rnn.runs.schema``. The
identifiers (``data_hash``, ``tokenizer_identity``) let two runs be checked for the same examples and the same
vocabulary.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from pathlib import Path

import torch

from hf_rnn.runs.schema import (
    SPLITS,
    BestInfo,
    HardwareInfo,
    MemoryInfo,
    ModelInfo,
    ParametersInfo,
    RunMetrics,
    TaskInfo,
    TokenizerInfo,
    TrainingInfo,
    VersionsInfo,
)
from hf_rnn.training.memory import peak_rss_mb

__all__ = ["data_hash", "device_name", "jsonable", "metrics_document", "task_info", "tokenizer_identity"]


def metrics_document(*, accelerator, model, task, tokenizer, family, recipe: dict | None, cfg, state,
                     test: dict, model_step: int, epochs: float, wall_start: float, stopped_because: str | None,
                     resumed: bool) -> RunMetrics:
    """The ``metrics.json`` of a run; every process calls it (the memory peaks are gathered).

    ``model`` is the prepared model, ``family`` its ``ModelFamily`` (``hf_rnn.families``), ``cfg`` the ``TrainConfig``, ``state`` the loop's counters, ``test``
    the test metrics of the model saved (``model_step``'s), ``wall_start`` this session's
    ``time.perf_counter()`` at the start.
    """
    acc, st = accelerator, state
    model = acc.unwrap_model(model, keep_torch_compile=False)
    rss = torch.tensor([peak_rss_mb() or 0.0], device=acc.device)
    cuda = (torch.tensor([torch.cuda.max_memory_allocated() / 2**20], device=acc.device)
            if acc.device.type == "cuda" else None)
    rss_peak = float(acc.gather(rss).max())
    cuda_peak = float(acc.gather(cuda).max()) if cuda is not None else None
    recipe_model = (recipe or {}).get("model") or {}
    # an LLM's source: the recipe's (None: the built-in one) or, without a recipe (the Python API), where its
    # weights were loaded from, so that the model card never takes another model for the built-in one
    llm_source = (recipe_model.get("name_or_path") if recipe
                  else getattr(getattr(model, "config", None), "_name_or_path", None) or None)
    return RunMetrics(
        task=task_info(task),
        tokenizer=tokenizer_identity(tokenizer),
        model=ModelInfo.of(family.name, recipe_model.get("name") or type(model).__name__, type(model).__name__,
                           family.metrics_fields(model, recipe_model, llm_source)),  # name_or_path, mode
        parameters=ParametersInfo.of(model),  # tied weights count once
        test=test,
        best=BestInfo(metric=task.primary_metric, value=st.best_metric, step=st.best_step, model_step=model_step),
        training=TrainingInfo(
            steps=st.step, epochs=epochs, examples=st.examples, train_seconds=round(st.train_seconds, 3),
            wall_seconds_this_session=round(time.perf_counter() - wall_start, 3), tokens=st.tokens,
            tokens_per_second=round(st.tokens / st.train_seconds, 1) if st.train_seconds else 0.0,
            padding_share=round(1 - st.tokens / st.positions, 4) if st.positions else 0.0,
            final_loss=st.last_loss, stopped_because=stopped_because,
            global_batch_size=cfg.batch_size * acc.num_processes * cfg.gradient_accumulation_steps,
            resumed=resumed),
        memory=MemoryInfo(cpu_peak_rss_mb=round(rss_peak, 1),
                          cuda_max_allocated_mb=round(cuda_peak, 1) if cuda_peak is not None else None),
        hardware=HardwareInfo(device=acc.device.type, device_name=device_name(acc.device),
                              num_processes=acc.num_processes, distributed_type=acc.distributed_type.value,
                              mixed_precision=acc.mixed_precision, torch_threads=torch.get_num_threads()),
        versions=VersionsInfo.current(),
    )


def task_info(task, hashes: bool = True) -> TaskInfo:
    """The ``task`` section of a ``hf_rnn.tasks.Task`` (``hashes=False``: no data hashes, which read every
    example; the untrained runs of ``hf_rnn.app.testing`` skip them)."""
    return TaskInfo(name=task.name, kind=task.kind, source=task.source, options=jsonable(task.options),
                    primary_metric=task.primary_metric, greater_is_better=task.greater_is_better,
                    sizes={s: len(task.dataset[s]) for s in SPLITS},
                    data_hash={s: data_hash(task.dataset[s]) for s in SPLITS} if hashes else {})


def jsonable(value):
    """``value`` as JSON would give it back (tuples as lists, anything else as its ``str``)."""
    return json.loads(json.dumps(value, default=str))


def data_hash(ds) -> str:
    """A short content hash of a split: two runs on the same examples have the same one."""
    h = hashlib.sha256()
    for batch in ds.iter(batch_size=1000):
        h.update(json.dumps(batch, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def tokenizer_identity(tokenizer) -> TokenizerInfo | None:
    """Which tokenizer: name, class, size and a hash of its vocabulary (None without one)."""
    if tokenizer is None:
        return None
    # the vocabulary decides which ids a model reads; the backend's serialisation would also
    # carry padding/truncation state, which differs between two loads of the same tokenizer
    text = json.dumps(tokenizer.get_vocab(), sort_keys=True)
    return TokenizerInfo(name_or_path=str(getattr(tokenizer, "name_or_path", "")), class_name=type(tokenizer).__name__,
                         vocab_size=len(tokenizer), hash=hashlib.sha256(text.encode()).hexdigest()[:16])


def device_name(device: torch.device) -> str:
    """The GPU's name, else the CPU's model name."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
