"""What a training run runs on: the ``Accelerator``, the optimizer, activation checkpointing.

The ``Accelerator`` decides the device, the processes, mixed precision, compilation and the experiment
trackers from a ``TrainConfig`` and the launcher; ``hf_rnn.training.loop`` calls these once, before its loop.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch

from hf_rnn.errors import ConfigError
from hf_rnn.families.llm.llm import base_model_of
from hf_rnn.training.config import TrainConfig, resolve_trackers

__all__ = ["enable_gradient_checkpointing", "make_accelerator", "make_optimizer", "tracker_config"]


def make_accelerator(cfg: TrainConfig, out: Path):
    """The run's ``Accelerator`` (its trackers write under ``out``) and whether it has trackers."""
    from accelerate import Accelerator
    from accelerate.tracking import TensorBoardTracker

    # TensorBoard as its own tracker object: its events go to <run>/tensorboard whatever the project name
    log_with = [TensorBoardTracker("tensorboard", str(out)) if name == "tensorboard" else name
                for name in resolve_trackers(cfg.log_with)]
    # several processes on a machine without CUDA (torchrun / accelerate's MULTI_GPU launcher on a
    # CPU box): gloo on the CPU, instead of N unrelated single-process runs
    cpu = cfg.cpu or (int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available())
    try:
        accelerator = Accelerator(
            mixed_precision=cfg.mixed_precision, gradient_accumulation_steps=cfg.gradient_accumulation_steps,
            cpu=cpu, log_with=log_with or None, project_dir=str(out),
            # accelerate compiles in prepare() and unwrap_model(..., keep_torch_compile=False) undoes it
            dynamo_backend="inductor" if cfg.torch_compile else None)
    except ValueError as e:  # e.g. fp16 where the device has no fp16 support
        raise ConfigError(f"training.mixed_precision={cfg.mixed_precision}: {str(e).splitlines()[0]}") from None
    return accelerator, bool(log_with)


def make_optimizer(model, cfg: TrainConfig, accelerator) -> torch.optim.AdamW:
    """AdamW on the trainable parameters, without weight decay on biases and norms (1-d tensors)."""
    acc = accelerator
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not params:
        raise ConfigError("the model has no trainable parameters")
    groups = [{"params": [p for _, p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
              {"params": [p for _, p in params if p.dim() < 2], "weight_decay": 0.0}]
    from accelerate.utils import DistributedType

    # the fused kernel (CPU and CUDA) is one pass over all parameters: ~40x faster than the
    # per-tensor loop on a CPU, where it otherwise costs more than an RNN's forward and backward
    fused = acc.device.type in ("cpu", "cuda") and acc.distributed_type != DistributedType.FSDP
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.learning_rate, fused=fused or None)


def enable_gradient_checkpointing(model, why_not: str = "transformers has no support for it") -> None:
    """Turn on activation (gradient) checkpointing in a transformers model, or the one under a peft wrapper.
    ``why_not``: why a model that cannot says so (its family's ``no_checkpointing_reason``)."""
    base = base_model_of(model)
    if not getattr(base, "supports_gradient_checkpointing", False):
        why = why_not
        raise ConfigError(f"training.gradient_checkpointing: {type(base).__name__} cannot recompute its "
                          f"activations ({why}); set training.gradient_checkpointing=false")
    # non-reentrant checkpointing: needs no input that requires grad (frozen embeddings, LoRA), as PyTorch advises
    kwargs = {"use_reentrant": False}
    if hasattr(base, "activation_checkpointing_enable"):  # the name transformers 5 moved to
        base.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def tracker_config(cfg: TrainConfig) -> dict:
    """The run's ``TrainConfig`` as the trackers' hyperparameters: TensorBoard's take numbers, strings and
    booleans only."""
    return {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in dataclasses.asdict(cfg).items()}
