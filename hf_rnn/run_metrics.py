"""``metrics.json``: what a finished run reports, and who it was (data, tokenizer, model, machine, versions).

``metrics_document`` builds the document ``hf_rnn.training`` writes at the end of a run (and the model card
is made from); ``hf_rnn.runs`` and the comparison read it. The identifiers (``data_hash``,
``tokenizer_identity``) let two runs be checked for the same examples and the same vocabulary.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .memory import peak_rss_mb
from .parameters import count_parameters

__all__ = ["data_hash", "device_name", "metrics_document", "tokenizer_identity"]


def metrics_document(*, accelerator, model, task, tokenizer, family, recipe: dict | None, cfg, state,
                     test: dict, model_step: int, epochs: float, wall_start: float, stopped_because: str | None,
                     resumed: bool) -> dict[str, Any]:
    """The ``metrics.json`` of a run; every process calls it (the memory peaks are gathered).

    ``model`` is the prepared model, ``family`` its ``ModelFamily`` (``hf_rnn.families``), ``cfg`` the ``TrainConfig``, ``state`` the loop's counters, ``test``
    the test metrics of the model saved (``model_step``'s), ``wall_start`` this session's
    ``time.perf_counter()`` at the start.
    """
    acc, st = accelerator, state
    model = acc.unwrap_model(model, keep_torch_compile=False)
    total, trainable = count_parameters(model)
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
    import accelerate
    import transformers

    return {
        "task": {"name": task.name, "kind": task.kind, "source": task.source,
                 "options": _jsonable(task.options), "primary_metric": task.primary_metric,
                 "greater_is_better": task.greater_is_better,
                 "sizes": {s: len(task.dataset[s]) for s in ("train", "validation", "test")},
                 "data_hash": {s: data_hash(task.dataset[s]) for s in ("train", "validation", "test")}},
        "tokenizer": tokenizer_identity(tokenizer),
        "model": {"family": family.name, "name": recipe_model.get("name") or type(model).__name__,
                  "class": type(model).__name__,
                  **family.metrics_fields(model, recipe_model, llm_source)},  # name_or_path, mode
        "parameters": {"total": total, "trainable": trainable},
        "test": test,
        "best": {"metric": task.primary_metric, "value": st.best_metric, "step": st.best_step,
                 "model_step": model_step},
        "training": {"steps": st.step, "epochs": epochs, "examples": st.examples,
                     "train_seconds": round(st.train_seconds, 3),
                     "wall_seconds_this_session": round(time.perf_counter() - wall_start, 3),
                     "tokens": st.tokens,
                     "tokens_per_second": round(st.tokens / st.train_seconds, 1) if st.train_seconds else 0.0,
                     "padding_share": round(1 - st.tokens / st.positions, 4) if st.positions else 0.0,
                     "final_loss": st.last_loss, "stopped_because": stopped_because,
                     "global_batch_size": cfg.batch_size * acc.num_processes * cfg.gradient_accumulation_steps,
                     "resumed": resumed},
        "memory": {"cpu_peak_rss_mb": round(rss_peak, 1),
                   "cuda_max_allocated_mb": round(cuda_peak, 1) if cuda_peak is not None else None},
        "hardware": {"device": acc.device.type, "device_name": device_name(acc.device),
                     "num_processes": acc.num_processes, "distributed_type": acc.distributed_type.value,
                     "mixed_precision": acc.mixed_precision, "torch_threads": torch.get_num_threads()},
        "versions": {"hf_rnn": __version__, "torch": torch.__version__,
                     "transformers": transformers.__version__, "accelerate": accelerate.__version__},
    }


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


def data_hash(ds) -> str:
    """A short content hash of a split: two runs on the same examples have the same one."""
    h = hashlib.sha256()
    for batch in ds.iter(batch_size=1000):
        h.update(json.dumps(batch, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def tokenizer_identity(tokenizer) -> dict | None:
    """Which tokenizer: name, class, size and a hash of its vocabulary (None without one)."""
    if tokenizer is None:
        return None
    # the vocabulary decides which ids a model reads; the backend's serialisation would also
    # carry padding/truncation state, which differs between two loads of the same tokenizer
    text = json.dumps(tokenizer.get_vocab(), sort_keys=True)
    return {"name_or_path": str(getattr(tokenizer, "name_or_path", "")), "class": type(tokenizer).__name__,
            "vocab_size": len(tokenizer), "hash": hashlib.sha256(text.encode()).hexdigest()[:16]}


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
