"""Tiny run folders and a served app, for the app's tests and benchmarks (seconds, not minutes).

``make_tiny_runs(root, tokenizer)`` writes untrained but complete run folders, one per task and head the app
handles (RNNs with and without attention, a seq2seq translator, a forecaster, LLM classification and tagging
heads); ``make_tiny_llm(folder, tokenizer)`` a 2-layer Llama that stands in for SmolLM2 as the zero-shot model.
The folders have what ``hf_rnn.runs.run.read_run`` and ``load_run_model`` need: ``config.json``, weights,
``metrics.json`` (written through the run folder's schema, ``untrained_metrics``) and the tokenizer.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: the schema is imported where it is used
    from hf_rnn.runs.schema import RunMetrics

TINY_RNN = ["model.embedding_size=8", "model.init_embeddings=null", "model.hidden_size=8", "model.dropout=0.0"]

# run folder name -> (task, recipe model, overrides)
TINY_RNN_RUNS = {
    "sentiment-bilstm-attn": ("sentiment", "bilstm", ["model.attention=additive", "model.classifier_hidden_sizes=[8]"]),
    "sentiment-bilstm": ("sentiment", "bilstm", ["model.attention=none", "model.classifier_hidden_sizes=[8]"]),
    "pos-bilstm": ("pos", "bilstm", []),
    "textgen-lstm": ("textgen", "rnn", ["model.num_layers=1", "model.tie_word_embeddings=true"]),
    "translation-bigru": ("translation", "rnn", ["model.attention=additive"]),
    "timeseries-lstm": ("timeseries", "rnn", ["model.num_layers=1"]),
}


def _special_ids(tokenizer) -> dict[str, Any]:
    return {"pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id,
            "bos_token_id": tokenizer.bos_token_id}


def _llama_config(tokenizer, context: int = 256, **extra):
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=context,
                       tie_word_embeddings=True, **_special_ids(tokenizer), **extra)


def make_tiny_llm(folder: str | Path, tokenizer, context: int = 256, seed: int = 0) -> Path:
    """A 2-layer, 4-head Llama causal LM with ``tokenizer`` (and its chat template), saved to ``folder``."""
    import torch
    from transformers import LlamaForCausalLM

    folder = Path(folder)
    torch.manual_seed(seed)
    LlamaForCausalLM(_llama_config(tokenizer, context)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def untrained_metrics(task, model, family: str, name: str, tokenizer=None,
                      score: float | None = None) -> RunMetrics:
    """The ``metrics.json`` of a saved but untrained ``model``, through the run folder's schema: every section,
    with what is true of a run that never trained (no steps, no best step, no seconds, no data hashes, which
    would read every example); ``score`` as its test score on the task's primary metric."""
    import torch

    from hf_rnn.runs.metrics import device_name, task_info, tokenizer_identity
    from hf_rnn.runs.schema import (
        BestInfo,
        HardwareInfo,
        MemoryInfo,
        ModelInfo,
        ParametersInfo,
        RunMetrics,
        TrainingInfo,
        VersionsInfo,
    )

    metric = task.primary_metric
    return RunMetrics(
        task=task_info(task, hashes=False),
        tokenizer=tokenizer_identity(tokenizer),
        model=ModelInfo(family=family, name=name, class_name=type(model).__name__),
        parameters=ParametersInfo.of(model),
        test={metric: score} if score is not None else {},
        best=BestInfo(metric=metric, value=None, step=None, model_step=0),
        training=TrainingInfo(steps=0, epochs=0.0, examples=0, train_seconds=0.0, wall_seconds_this_session=0.0,
                              tokens=0, tokens_per_second=0.0, padding_share=0.0, final_loss=None,
                              stopped_because=None, global_batch_size=0, resumed=False),
        memory=MemoryInfo(cpu_peak_rss_mb=0.0, cuda_max_allocated_mb=None),
        hardware=HardwareInfo(device="cpu", device_name=device_name(torch.device("cpu")), num_processes=1,
                              distributed_type="NO", mixed_precision="no", torch_threads=torch.get_num_threads()),
        versions=VersionsInfo.current(),
    )


def write_metrics(folder: Path, metrics: RunMetrics) -> None:
    """``metrics.json`` in ``folder``, written as training writes it."""
    (folder / "metrics.json").write_text(json.dumps(metrics.to_dict(), indent=2), encoding="utf-8")


def make_tiny_run(root: str | Path, name: str, task_name: str, model: str, overrides: list[str], tokenizer,
                  seed: int = 0, tiny: bool = True) -> Path:
    """One untrained RNN run folder ``root/name`` built from the task's recipe, with tiny sizes (or the
    recipe's own with ``tiny=False``: what a trained run costs to run, without the training)."""
    import torch

    from hf_rnn.models.factory import build_rnn
    from hf_rnn.tasks import load_task
    from hf_rnn.training.recipes import load_recipe

    recipe = load_recipe(task_name, model, None, (TINY_RNN if tiny else []) + list(overrides))
    task = load_task(task_name, **dict(recipe.task.options or {}))
    torch.manual_seed(seed)
    tok = tokenizer if task.reads_text else None
    rnn = build_rnn(task, recipe.model, tok)
    folder = Path(root) / name
    rnn.save_pretrained(folder)
    if tok is not None:
        tok.save_pretrained(folder)
    write_metrics(folder, untrained_metrics(task, rnn, "rnn", recipe.model.name, tok, score=0.5))
    return folder


def make_tiny_llm_run(root: str | Path, name: str, task_name: str, tokenizer, seed: int = 0) -> Path:
    """A tiny Llama with a classification (sentiment) or tagging (pos) head, as a fine-tuned LLM run."""
    import torch
    import transformers

    from hf_rnn.tasks import load_task

    task = load_task(task_name)
    labels = task.label_names
    config = _llama_config(tokenizer, num_labels=len(labels), id2label=dict(enumerate(labels)),
                           label2id={n: i for i, n in enumerate(labels)})
    head = getattr(transformers, task.auto_class.replace("AutoModel", "Llama"))  # the kind's head, on a Llama
    torch.manual_seed(seed)
    model = head(config)
    folder = Path(root) / name
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    write_metrics(folder, untrained_metrics(task, model, "llm", "smollm2", tokenizer, score=0.5))
    return folder


def make_tiny_runs(root: str | Path, tokenizer, llm_runs: bool = True) -> Path:
    """Every tiny run of ``TINY_RNN_RUNS`` (and, with ``llm_runs``, LLM sentiment and pos heads) under ``root``."""
    root = Path(root)
    for name, (task, model, overrides) in TINY_RNN_RUNS.items():
        make_tiny_run(root, name, task, model, overrides, tokenizer)
    if llm_runs:
        make_tiny_llm_run(root, "sentiment-llm", "sentiment", tokenizer)
        make_tiny_llm_run(root, "pos-llm", "pos", tokenizer)
    return root


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(service, port: int | None = None, warm_up: bool = False) -> Iterator[str]:
    """Serve ``service`` in this process on 127.0.0.1 (a free port); yield the URL; close after."""
    from hf_rnn.app.ui import launch

    demo, url, _ = launch(host="127.0.0.1", port=port or free_port(), service=service, threads=None,
                          warm_up=warm_up, block=False, quiet=True)
    try:
        yield url
    finally:
        demo.close()


def wait_for_http(url: str, timeout: float = 60.0) -> float:
    """Seconds until ``url`` answers HTTP 200 (raises TimeoutError after ``timeout``)."""
    import urllib.request

    start = time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except OSError:
            pass
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.2)


__all__ = ["TINY_RNN_RUNS", "free_port", "make_tiny_llm", "make_tiny_llm_run", "make_tiny_run", "make_tiny_runs",
           "serve", "untrained_metrics", "wait_for_http", "write_metrics"]
