"""One Accelerate training loop for both model families.

``train(model, task, config, tokenizer, output_dir)`` trains any model whose forward returns
``.loss`` (an ``RNNFor...`` head, a SmolLM2 head, a peft-wrapped LLM) on any ``Task``. The same
code runs on a CPU, one GPU, several GPUs or machines under ``accelerate launch``:

* batches: length-grouped sampling (shuffle, sort within mega-batches of 50 batches by
  length, shuffle the batches) and dynamic padding by the task's collator, so a batch is
  padded only to its own longest row;
* optimisation: AdamW (no decay on biases and norms), gradient accumulation and clipping,
  a ``transformers`` LR schedule with warm-up, ``no``/``fp16``/``bf16`` mixed precision;
* evaluation: ``task.prediction_step`` on every process, ``gather_for_metrics`` (each example
  counted once), ``task.compute_metrics``; early stopping and the best model on the task's
  primary metric;
* budget: ``max_steps`` and/or ``epochs`` and/or ``max_seconds`` (training time, which
  excludes evaluation and checkpoints): the first limit reached ends the run;
* faults: a checkpoint (``accelerator.save_state`` + the loop's counters) at every evaluation,
  written to a temporary folder and renamed into place; ``resume=True`` continues from the
  last one (same data order, RNG, schedule and best metric), so a killed run ends as an
  uninterrupted one would.

The run folder::

    config.yaml          the resolved recipe (the single source of truth of the run)
    metrics.jsonl        one JSON line per logging, evaluation and test event
    metrics.json         test metrics, parameters, time, tokens/s, memory, hardware, identifiers
    README.md            a Hub model card
    config.json, model.safetensors, tokenizer files    the model (``save_pretrained``; LoRA merged in)
    adapter/             a LoRA run's peft adapter (``training.save_adapter``)
    tensorboard/         TensorBoard events (``training.log_with``; other trackers log where they log)
    checkpoints/         while training (``keep_checkpoints`` keeps them afterwards)
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import os
import platform
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from . import __version__
from .assets import atomic_write_text
from .cards import model_card
from .config_schema import dump_yaml, from_mapping
from .errors import ConfigError
from .memory import peak_rss_mb
from .models.llm import base_model_of
from .runs import EVAL_PROGRESS
from .tasks import family_of, input_family
from .tokenization import IGNORE_INDEX, load_tokenizer

SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
              "inverse_sqrt", "cosine_with_min_lr", "warmup_stable_decay")
_NEEDS_TOTAL = {"linear", "cosine", "cosine_with_restarts", "polynomial", "cosine_with_min_lr", "warmup_stable_decay"}
CHECKPOINTS = "checkpoints"
EVAL_PROGRESS_SECONDS = 5.0  # how often a running evaluation rewrites runs.EVAL_PROGRESS
ADAPTER = "adapter"  # a LoRA run's peft adapter (training.save_adapter), beside the merged model


# =========================================================================== configuration


@dataclass
class TrainConfig:
    """How to train. A recipe's ``training:`` section; every field can be overridden as ``training.KEY=VALUE``."""

    # budget: the first limit reached ends training; null = no limit (at least one is needed)
    epochs: float | None = field(default=1.0, metadata={"min": 0.0})
    max_steps: int | None = field(default=None, metadata={"min": 1})  # optimizer steps
    max_seconds: float | None = field(default=None, metadata={"min": 0.0})  # training time, eval excluded
    # batches
    batch_size: int = field(default=16, metadata={"min": 1})  # per process; global = x processes x accumulation
    gradient_accumulation_steps: int = field(default=1, metadata={"min": 1})
    eval_batch_size: int = field(default=32, metadata={"min": 1})
    max_length: int | None = field(default=None, metadata={"min": 1})  # tokens per row (the task's default if null)
    group_by_length: bool = True  # sort within mega-batches by length: little padding
    mega_batch_mult: int = field(default=50, metadata={"min": 1})  # batches per mega-batch
    # optimisation
    learning_rate: float = field(default=1e-3, metadata={"min": 0.0})
    weight_decay: float = field(default=0.0, metadata={"min": 0.0})
    max_grad_norm: float | None = field(default=1.0, metadata={"min": 0.0})  # null: no clipping
    lr_scheduler: str = field(default="linear", metadata={"choices": SCHEDULERS})
    warmup_steps: int = field(default=0, metadata={"min": 0})
    # autocast around forward and loss, the weights stay in their dtype (an LLM's is model.dtype);
    # null: what the launcher says (accelerate config / --mixed_precision), else "no"
    mixed_precision: str | None = field(default=None, metadata={"choices": ("no", "fp16", "bf16")})
    seed: int = 42
    # memory and speed
    gradient_checkpointing: bool = False  # LLMs: keep fewer activations, recompute each layer in backward
    torch_compile: bool = False  # torch.compile the model (inductor); false: what the launcher says, else not
    # evaluation, checkpoints, early stopping
    eval_steps: int | None = field(default=None, metadata={"min": 1})  # null: at the end of each epoch
    early_stopping_patience: int | None = field(default=None, metadata={"min": 1})  # evaluations without gain
    keep_best: bool = True  # the saved model is the best on validation (else the last)
    keep_checkpoints: bool = False  # keep checkpoints/ after a successful run
    max_new_tokens: int | None = field(default=None, metadata={"min": 1})  # generation tasks; null: the task's
    # logging and runtime
    logging_steps: int = field(default=10, metadata={"min": 1})
    # experiment trackers accelerate supports and that are installed: a name, a list, "all", or null / "none"
    log_with: str | list[str] | None = "tensorboard"
    progress_bar: bool = True
    num_workers: int = field(default=0, metadata={"min": 0})
    cpu: bool = False  # train on the CPU even when a GPU is there
    save_adapter: bool = False  # a LoRA run also saves peft's adapter in adapter/ (the merged model stays)

    @classmethod
    def from_any(cls, config: TrainConfig | Mapping[str, Any] | None) -> TrainConfig:
        """A checked ``TrainConfig`` from itself, a mapping (unknown keys and wrong types are errors) or None."""
        if isinstance(config, TrainConfig):
            config = dataclasses.asdict(config)
        config = from_mapping(cls, config, "training")
        config.check()
        return config

    def check(self) -> None:
        if self.epochs is None and self.max_steps is None and self.max_seconds is None:
            raise ConfigError("training needs a budget: set training.epochs, training.max_steps or training.max_seconds")
        if self.epochs == 0:
            raise ConfigError("training.epochs must be > 0 (or null)")
        if self.lr_scheduler in _NEEDS_TOTAL and self.epochs is None and self.max_steps is None:
            raise ConfigError(f"training.lr_scheduler={self.lr_scheduler} needs a step count: set training.epochs "
                              "or training.max_steps, or use constant / constant_with_warmup with max_seconds")
        resolve_trackers(self.log_with)


def resolve_trackers(log_with: str | list[str] | None) -> list[str]:
    """The experiment trackers ``training.log_with`` asks for, as accelerate names them.

    ``None``, ``"none"`` or ``[]``: none (``metrics.jsonl`` only); ``"all"``: every tracker that
    accelerate supports and that is installed; otherwise a name or a list of names. The known names
    are accelerate's own table (``LOGGER_TYPE_TO_CLASS``, with trackers added by
    ``register_tracker_class``) and the installed ones its ``get_available_trackers()``.

    Raises:
        ConfigError: an unknown tracker, or one that is not installed (one line naming it and
            what is installed), before anything is loaded or trained.
    """
    from accelerate.tracking import LOGGER_TYPE_TO_CLASS, get_available_trackers
    from accelerate.utils import LoggerType

    builtin = {t.value for t in LoggerType}
    # a tracker registered by register_tracker_class is an installed one by definition
    installed = [t.value for t in get_available_trackers()] + sorted(set(LOGGER_TYPE_TO_CLASS) - builtin)
    names = [] if log_with is None else [log_with] if isinstance(log_with, str) else list(log_with)
    chosen: list[str] = []
    for name in names:
        if name == "none":
            continue
        if name == "all":
            chosen += installed
        elif name not in LOGGER_TYPE_TO_CLASS:
            raise ConfigError(f"training.log_with: unknown tracker {name!r}; accelerate supports "
                              f"{', '.join(sorted(LOGGER_TYPE_TO_CLASS))} (installed here: "
                              f"{', '.join(installed) or 'none'}), or none")
        elif name not in installed:
            raise ConfigError(f"training.log_with: the {name} tracker is not installed (pip install {name}); "
                              f"installed here: {', '.join(installed) or 'none'}")
        else:
            chosen.append(name)
    return list(dict.fromkeys(chosen))


def _enable_gradient_checkpointing(model, family: str) -> None:
    """Turn on activation (gradient) checkpointing in a transformers model, or the one under a peft wrapper."""
    base = base_model_of(model)
    if not getattr(base, "supports_gradient_checkpointing", False):
        why = "the RNN family has no checkpointed layers" if family == "rnn" else "transformers has no support for it"
        raise ConfigError(f"training.gradient_checkpointing: {type(base).__name__} cannot recompute its "
                          f"activations ({why}); set training.gradient_checkpointing=false")
    # non-reentrant checkpointing: needs no input that requires grad (frozen embeddings, LoRA), as PyTorch advises
    kwargs = {"use_reentrant": False}
    if hasattr(base, "activation_checkpointing_enable"):  # the name transformers 5 moved to
        base.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


# =========================================================================== sampling


class LengthGroupedSampler(Sampler[int]):
    """A seeded shuffle in which each batch holds rows of similar length.

    Per epoch: shuffle all rows; cut into mega-batches of ``mega_batch_mult`` batches; sort
    each by length (longest first); cut into batches; shuffle the order of the full batches
    (a short last batch stays last). ``batch_size`` is the batch of one optimizer step (per
    process x processes x accumulation steps): under ``accelerate`` each micro-batch of a
    process is a consecutive slice of it, so N processes, or A accumulation steps, see the
    same examples per step as one process with an N x A times larger batch.

    ``group_by_length=False`` gives a plain seeded shuffle. The order depends only on
    ``seed`` and the epoch, never on the global RNG, so a resumed run sees the same batches.
    """

    def __init__(self, lengths: list[int], batch_size: int, mega_batch_mult: int = 50, seed: int = 0,
                 group_by_length: bool = True):
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.mega_batch_mult = mega_batch_mult
        self.seed = seed
        self.group_by_length = group_by_length
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        g = torch.Generator()
        g.manual_seed(self.seed + 1_000_003 * self.epoch)
        order = torch.randperm(len(self.lengths), generator=g).tolist()
        if not self.group_by_length:
            return iter(order)
        bs, mega = self.batch_size, self.batch_size * self.mega_batch_mult
        batches = []
        for start in range(0, len(order), mega):
            chunk = sorted(order[start:start + mega], key=lambda i: -self.lengths[i])
            batches += [chunk[k:k + bs] for k in range(0, len(chunk), bs)]
        full = [b for b in batches if len(b) == bs]
        short = [b for b in batches if len(b) < bs]
        shuffled = [full[i] for i in torch.randperm(len(full), generator=g).tolist()]
        return iter([i for b in shuffled + short for i in b])


def _row_length(row: Mapping[str, Any]) -> int:
    if "input_ids" in row:
        return len(row["input_ids"]) + (len(row["labels"]) if _is_seq2seq_row(row) else 0)
    return 1  # numeric windows all have the same length


def _is_seq2seq_row(row) -> bool:
    labels = row.get("labels")
    return isinstance(labels, list) and len(labels) != len(row["input_ids"])


# =========================================================================== run state


@dataclass
class TrainerState:
    """The loop's counters, saved with every checkpoint (``trainer_state.json``)."""

    step: int = 0  # optimizer steps done
    epoch: int = 0  # epochs completed
    batches_in_epoch: int = 0  # micro-batches of the current epoch already consumed (per process)
    best_metric: float | None = None
    best_step: int | None = None
    evals_without_improvement: int = 0
    last_eval_step: int = -1
    train_seconds: float = 0.0
    tokens: int = 0  # non-padding tokens (values for a numeric forecaster), all processes
    positions: int = 0  # tokens + padding
    examples: int = 0
    last_loss: float | None = None


def check_output_dir(path: str | os.PathLike, resume: bool = False, overwrite: bool = False) -> Path:
    """Check, without creating or changing anything, that a run can use ``path``; return it resolved.

    Raises ``ConfigError`` when it cannot be written, when it already holds a run (and
    neither ``resume`` nor ``overwrite`` is set) or when ``resume`` finds no checkpoint. The
    folder itself is made only once the run's inputs are known good (``_Run``), so a failure
    before that leaves nothing behind.
    """
    out = Path(path).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"the output folder {out} is a file; choose another --output-dir")
    existing = next(p for p in (out, *out.parents) if p.exists())  # the probe goes where the run will go
    if not existing.is_dir():
        raise ConfigError(f"cannot write to the output folder {out}: {existing} is a file")
    try:
        probe = existing / f".hf-rnn-write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"cannot write to the output folder {out}: {e.strerror or e}") from None
    started = any((out / name).exists() for name in ("config.yaml", CHECKPOINTS, "metrics.jsonl"))
    if resume:
        if latest_checkpoint(out) is None:
            if (out / "metrics.json").exists():
                raise ConfigError(f"nothing to resume in {out}: its run has finished; drop --resume and pass "
                                  "--overwrite to train it again, or choose another --output-dir")
            if started:
                raise ConfigError(f"nothing to resume in {out}: the run stopped before its first checkpoint; "
                                  "pass --overwrite instead of --resume to start it again")
            raise ConfigError(f"nothing to resume in {out}: no run there; drop --resume to start a new run")
    elif not overwrite and started:
        how = ("pass --resume to continue it, --overwrite to start again" if latest_checkpoint(out) is not None
               else "it has no checkpoint to resume from: pass --overwrite to start again")
        raise ConfigError(f"{out} already holds a run: {how}, or choose another --output-dir")
    return out


def latest_checkpoint(out: Path) -> Path | None:
    """The newest complete checkpoint (``checkpoints/step-N``; temporaries never count)."""
    root = out / CHECKPOINTS
    if not root.is_dir():
        return None
    steps = [p for p in root.iterdir() if p.is_dir() and p.name.startswith("step-") and
             (p / "trainer_state.json").exists()]
    return max(steps, key=lambda p: int(p.name[5:]), default=None)


def _event_step(line: str) -> float:
    """The step of a ``metrics.jsonl`` line; a line cut short by a kill counts as after everything."""
    try:
        return json.loads(line).get("step", 0)
    except ValueError:
        return math.inf


# =========================================================================== entry point


def train(
    model,
    task,
    config: TrainConfig | Mapping[str, Any] | None = None,
    tokenizer=None,
    output_dir: str | os.PathLike = "runs/last",
    *,
    resume: bool = False,
    overwrite: bool = False,
    recipe: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Train ``model`` on ``task`` and write the run folder; return ``metrics.json``'s content.

    Args:
        model: a transformers model whose forward returns ``.loss`` (RNN or LLM head).
        task: a ``hf_rnn.tasks.Task`` (subset it first for a quick run).
        config: a ``TrainConfig`` or a mapping of its fields (checked: unknown keys and wrong
            types raise ``ConfigError`` before anything runs).
        tokenizer: the tokenizer the model reads; default: the LLM's own (from
            ``model.name_or_path``), or the built-in one for an RNN. None for a numeric forecaster.
        output_dir: the run folder.
        resume: continue from the last checkpoint in ``output_dir``.
        overwrite: start again in a folder that holds a run.
        recipe: the full recipe to save as ``config.yaml`` (the CLI passes it).

    Run under ``accelerate launch`` the same call trains on every process.
    """
    cfg = TrainConfig.from_any(config)
    out = check_output_dir(output_dir, resume=resume, overwrite=overwrite)
    if tokenizer is None and not (input_family(model) == "rnn" and task.kind == "forecasting"):
        name = getattr(model, "name_or_path", "") if family_of(model) == "llm" else ""
        tokenizer = load_tokenizer(name or None)
    run = _Run(model, task, cfg, tokenizer, out, resume=resume, overwrite=overwrite, recipe=recipe)
    try:
        return run.run()
    finally:
        run.close()


class _Run:
    """One training run: the state ``train`` sets up, the loop, evaluation and the run folder."""

    def __init__(self, model, task, cfg: TrainConfig, tokenizer, out: Path, *, resume, overwrite, recipe):
        from accelerate import Accelerator
        from accelerate.tracking import TensorBoardTracker
        from accelerate.utils import set_seed

        self.task, self.cfg, self.tokenizer, self.out = task, cfg, tokenizer, out
        self.family = family_of(model)
        self.reads = input_family(model)  # the encoding the model reads (a patch forecaster: the RNN's)
        self.is_seq2seq = bool(getattr(model.config, "is_encoder_decoder", False))
        self.recipe = dict(recipe) if recipe is not None else None
        self.resume = resume
        if cfg.save_adapter and not hasattr(model, "merge_and_unload"):  # what _save_model takes for peft
            raise ConfigError("training.save_adapter saves a LoRA run's peft adapter; this model has none "
                              "(train with model.mode=lora, or set training.save_adapter=false)")
        if cfg.gradient_checkpointing:
            _enable_gradient_checkpointing(model, self.family)
        # TensorBoard as its own tracker object: its events go to <run>/tensorboard whatever the project name
        log_with = [TensorBoardTracker("tensorboard", str(out)) if name == "tensorboard" else name
                    for name in resolve_trackers(cfg.log_with)]
        # several processes on a machine without CUDA (torchrun / accelerate's MULTI_GPU launcher on a
        # CPU box): gloo on the CPU, instead of N unrelated single-process runs
        cpu = cfg.cpu or (int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available())
        try:
            self.accelerator = Accelerator(
                mixed_precision=cfg.mixed_precision, gradient_accumulation_steps=cfg.gradient_accumulation_steps,
                cpu=cpu, log_with=log_with or None, project_dir=str(out),
                # accelerate compiles in prepare() and unwrap_model(..., keep_torch_compile=False) undoes it
                dynamo_backend="inductor" if cfg.torch_compile else None)
        except ValueError as e:  # e.g. fp16 where the device has no fp16 support
            raise ConfigError(f"training.mixed_precision={cfg.mixed_precision}: {str(e).splitlines()[0]}") from None
        acc = self.accelerator
        self.is_main = acc.is_main_process
        if overwrite and not resume:
            acc.wait_for_everyone()  # every process has checked the folder before it changes
            if self.is_main:
                for name in (CHECKPOINTS, "metrics.jsonl", "metrics.json", "tensorboard", ADAPTER):
                    target = out / name
                    shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
        acc.wait_for_everyone()
        set_seed(cfg.seed)
        self.wall_start = time.perf_counter()
        self.state = TrainerState()

        # ---- data
        with acc.main_process_first():  # datasets writes map caches next to the data once
            enc_train = task.encode(tokenizer, self.reads, splits=("train",), max_length=cfg.max_length)["train"]
            enc_eval = task.encode(tokenizer, self.reads, splits=("validation", "test"), max_length=cfg.max_length,
                                   for_generation=True)
        train_rows = enc_train.to_list()
        world = acc.num_processes
        # grouped by optimizer step: N processes x A accumulation steps see what one process with a
        # batch N x A times larger would see
        step_batch = cfg.batch_size * world * cfg.gradient_accumulation_steps
        self.sampler = LengthGroupedSampler([_row_length(r) for r in train_rows], step_batch,
                                            cfg.mega_batch_mult, cfg.seed, cfg.group_by_length)
        pin = acc.device.type == "cuda"
        train_loader = DataLoader(train_rows, batch_size=cfg.batch_size, sampler=self.sampler,
                                  collate_fn=task.collator(tokenizer, self.reads, for_generation=False),
                                  num_workers=cfg.num_workers, pin_memory=pin, generator=torch.Generator())
        eval_loaders = {}
        for split in ("validation", "test"):
            rows = enc_eval[split].to_list()
            by_length = sorted(range(len(rows)), key=lambda i: -_row_length(rows[i]))  # least padding
            eval_loaders[split] = DataLoader(rows, batch_size=cfg.eval_batch_size, sampler=by_length,
                                             collate_fn=task.collator(tokenizer, self.reads, for_generation=True),
                                             num_workers=cfg.num_workers, pin_memory=pin, generator=torch.Generator())
        self.num_train_rows = len(train_rows)
        if not train_rows:  # no batch would ever come: max_steps and max_seconds could never be reached
            raise ConfigError(f"the {task.name} training split has no examples; nothing to train on")

        # ---- optimisation
        params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        if not params:
            raise ConfigError("the model has no trainable parameters")
        groups = [{"params": [p for _, p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
                  {"params": [p for _, p in params if p.dim() < 2], "weight_decay": 0.0}]
        from accelerate.utils import DistributedType

        # the fused kernel (CPU and CUDA) is one pass over all parameters: ~40x faster than the
        # per-tensor loop on a CPU, where it otherwise costs more than an RNN's forward and backward
        fused = acc.device.type in ("cpu", "cuda") and acc.distributed_type != DistributedType.FSDP
        optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.learning_rate, fused=fused or None)
        self.model, self.optimizer, self.train_loader, self.val_loader, self.test_loader = acc.prepare(
            model, optimizer, train_loader, eval_loaders["validation"], eval_loaders["test"])
        self.steps_per_epoch = max(1, math.ceil(len(self.train_loader) / cfg.gradient_accumulation_steps))
        limits = [cfg.max_steps] if cfg.max_steps else []
        if cfg.epochs is not None:
            limits.append(max(1, math.ceil(cfg.epochs * self.steps_per_epoch)))
        self.total_steps = min(limits) if limits else None
        from transformers import get_scheduler

        # stepped by hand once per optimizer step (a prepared scheduler steps once per process)
        self.scheduler = get_scheduler(cfg.lr_scheduler, self.optimizer, num_warmup_steps=cfg.warmup_steps,
                                       num_training_steps=self.total_steps)
        acc.register_for_checkpointing(self.scheduler)

        if self.is_main:
            out.mkdir(parents=True, exist_ok=True)  # the inputs are known good: now the run folder exists
            config_doc = self.recipe or {"training": dataclasses.asdict(cfg)}
            atomic_write_text(out / "config.yaml", dump_yaml(config_doc))
        if resume:
            self._load_checkpoint(latest_checkpoint(out))
        if log_with:
            acc.init_trackers("hf_rnn", config=_flat_hparams(dataclasses.asdict(cfg)))
        self.pbar = None
        self.stopped_because: str | None = None
        self._generate_kwargs = {"max_new_tokens": cfg.max_new_tokens} if cfg.max_new_tokens else {}
        self._tokens_per_second = 0.0

    # ------------------------------------------------------------------ the loop

    def run(self) -> dict[str, Any]:
        from tqdm.auto import tqdm

        acc, cfg, st = self.accelerator, self.cfg, self.state
        self.pbar = tqdm(total=self.total_steps, initial=st.step, desc="train", dynamic_ncols=True,
                         disable=not (self.is_main and cfg.progress_bar))
        self.model.train()
        self._counts = torch.zeros(3, dtype=torch.float64, device=acc.device)  # tokens, positions, rows
        self._loss_sum, self._loss_n = torch.zeros((), device=acc.device), 0
        self._window = (st.train_seconds, st.tokens)
        self._grad_norm = None
        self._lr = self.scheduler.get_last_lr()[0]
        stopped = self._budget_reached()
        last = time.perf_counter()
        while not stopped:
            # accelerate's loader passes its own epoch counter to the sampler at every pass: keep them equal
            self.train_loader.set_epoch(st.epoch)
            loader = self.train_loader
            if st.batches_in_epoch:  # resumed mid-epoch: the same order, without the batches already seen
                loader = acc.skip_first_batches(self.train_loader, st.batches_in_epoch)
            for batch in loader:
                self._train_micro_batch(batch)
                st.batches_in_epoch += 1
                if not acc.sync_gradients:
                    continue
                st.step += 1
                st.train_seconds += time.perf_counter() - last
                self.pbar.update(1)
                stopped = self._budget_reached()
                evaluate = bool(cfg.eval_steps) and st.step % cfg.eval_steps == 0
                if st.step % cfg.logging_steps == 0 or evaluate or stopped:
                    self._log_train()
                if evaluate:
                    self._evaluate_and_checkpoint(checkpoint=not stopped)
                stopped = stopped or self._early_stop()
                last = time.perf_counter()
                if stopped:
                    break
            else:  # the epoch ran to its end
                st.epoch += 1
                st.batches_in_epoch = 0
                if not cfg.eval_steps:
                    self._log_train()
                    self._evaluate_and_checkpoint()
                stopped = self._budget_reached() or self._early_stop()
                last = time.perf_counter()
        if st.last_eval_step != st.step:
            self._log_train()
            self._evaluate_and_checkpoint(checkpoint=False)
        self.pbar.close()
        return self._finish()

    def _train_micro_batch(self, batch) -> None:
        acc, cfg = self.accelerator, self.cfg
        with acc.accumulate(self.model):
            loss = self.model(**self.task.model_inputs(batch)).loss
            acc.backward(loss)
            if acc.sync_gradients and cfg.max_grad_norm:
                self._grad_norm = acc.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
            self.optimizer.step()
            if acc.sync_gradients and not acc.optimizer_step_was_skipped:
                self._lr = self.scheduler.get_last_lr()[0]  # the rate this step used
                self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
        self._counts += self._count(batch)
        self._loss_sum += loss.detach().float()
        self._loss_n += 1

    def _budget_reached(self) -> bool:
        st, cfg = self.state, self.cfg
        if self.total_steps is not None and st.step >= self.total_steps:
            self.stopped_because = "max_steps" if cfg.max_steps == self.total_steps else "epochs"
            return True
        if cfg.max_seconds is not None:
            if st.train_seconds >= cfg.max_seconds:
                self.accelerator.set_trigger()
            if self.accelerator.check_trigger():  # every process stops at the same step
                self.stopped_because = "max_seconds"
                return True
        return False

    def _early_stop(self) -> bool:
        patience = self.cfg.early_stopping_patience
        if patience and self.state.evals_without_improvement >= patience:
            self.stopped_because = "early_stopping"
            return True
        return False

    def _count(self, batch) -> torch.Tensor:
        """Non-padding tokens, all positions and rows of one micro-batch (values for a forecaster)."""
        if "attention_mask" in batch:
            mask = batch["attention_mask"]
            tokens, positions, rows = mask.sum(), mask.numel(), mask.shape[0]
            if self.is_seq2seq and "labels" in batch:
                tokens = tokens + (batch["labels"] != IGNORE_INDEX).sum()
                positions += batch["labels"].numel()
        elif "past_values" in batch:
            tokens = positions = batch["past_values"].numel()
            rows = batch["past_values"].shape[0]
        else:
            ids = batch["input_ids"]
            tokens, positions, rows = ids.numel(), ids.numel(), ids.shape[0]
        return torch.stack([torch.as_tensor(x, dtype=torch.float64, device=self.accelerator.device)
                            for x in (tokens, positions, rows)])

    def _add_counts(self, counts: torch.Tensor) -> None:
        total = self.accelerator.reduce(counts.clone(), "sum").tolist()
        counts.zero_()
        self.state.tokens += int(total[0])
        self.state.positions += int(total[1])
        self.state.examples += int(total[2])

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, split: str) -> dict[str, float]:
        """The task's metrics on ``split``, every example counted once across processes."""
        acc = self.accelerator
        loader = self.val_loader if split == "validation" else self.test_loader
        from accelerate.utils import DistributedType

        # DDP has no generate(); FSDP must run through its wrapper to gather the shards
        model = self.model if acc.distributed_type == DistributedType.FSDP else acc.unwrap_model(self.model)
        was_training = model.training
        model.eval()
        outputs: dict[str, list[np.ndarray]] = {}
        progress, said = self.out / EVAL_PROGRESS, time.monotonic()
        with torch.no_grad():
            for done, batch in enumerate(loader, 1):
                with acc.autocast():
                    pred = self.task.prediction_step(model, batch, self.tokenizer, **self._generate_kwargs)
                pred = {k: self._pad_across(k, v) for k, v in pred.items()}
                for k, v in acc.gather_for_metrics(pred).items():
                    v = v.detach().cpu()
                    outputs.setdefault(k, []).append(v.float().numpy() if v.is_floating_point() else v.numpy())
                if self.is_main and time.monotonic() - said >= EVAL_PROGRESS_SECONDS:
                    said = time.monotonic()
                    atomic_write_text(progress, json.dumps({"split": split, "step": self.state.step,
                                                            "batches": done, "of": len(loader)}))
        if self.is_main:
            progress.unlink(missing_ok=True)
        model.train(was_training)
        return self.task.compute_metrics(outputs, tokenizer=self.tokenizer, split=split)

    def _pad_across(self, key: str, tensor: torch.Tensor) -> torch.Tensor:
        if tensor.dtype == torch.bool:
            tensor = tensor.long()
        if tensor.dim() < 2 or self.accelerator.num_processes == 1:
            return tensor
        pad = IGNORE_INDEX if key == "labels" else getattr(self.tokenizer, "pad_token_id", 0) or 0
        return self.accelerator.pad_across_processes(tensor, dim=1, pad_index=pad)

    def _evaluate_and_checkpoint(self, checkpoint: bool = True) -> None:
        """Evaluate on validation, track the best, then checkpoint (skipped for the last evaluation of a
        run: the model in memory or the best checkpoint already holds what the run ends with)."""
        st, task = self.state, self.task
        eval_start = time.perf_counter()
        metrics = self.evaluate("validation")
        value = float(metrics[task.primary_metric])
        improved = not math.isnan(value) and (
            st.best_metric is None or (value > st.best_metric if task.greater_is_better else value < st.best_metric))
        if improved:
            st.best_metric, st.best_step, st.evals_without_improvement = value, st.step, 0
        else:
            st.evals_without_improvement += 1
        st.last_eval_step = st.step
        self._event({"event": "eval", "split": "validation", "step": st.step, "epoch": self._epoch_float(),
                     **metrics, "best": st.best_metric, "train_seconds": round(st.train_seconds, 3),
                     "eval_seconds": round(time.perf_counter() - eval_start, 3)},
                    prefix="eval/")
        if self.pbar is not None:
            self.pbar.set_postfix(self._postfix(), refresh=False)
        if checkpoint:
            self._save_checkpoint()

    # ------------------------------------------------------------------ checkpoints

    def _save_checkpoint(self) -> None:
        """``accelerator.save_state`` + counters into a temporary folder, then one rename."""
        acc, st = self.accelerator, self.state
        root = self.out / CHECKPOINTS
        final = root / f"step-{st.step:07d}"
        tmp = root / f".tmp-step-{st.step:07d}"
        if self.is_main:
            root.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
        acc.wait_for_everyone()
        acc.save_state(str(tmp))
        if self.is_main:
            (tmp / "trainer_state.json").write_text(json.dumps(dataclasses.asdict(st), indent=1))
        acc.wait_for_everyone()
        if self.is_main:
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            keep = {final.name} | ({f"step-{st.best_step:07d}"} if self.cfg.keep_best and st.best_step else set())
            for old in root.iterdir():
                if old.name not in keep:
                    shutil.rmtree(old, ignore_errors=True)
        acc.wait_for_everyone()

    def _load_checkpoint(self, folder: Path) -> None:
        self.accelerator.load_state(str(folder))
        saved = json.loads((folder / "trainer_state.json").read_text())
        self.state = TrainerState(**saved)
        if self.is_main:  # events after the checkpoint happen again: drop their old lines
            log = self.out / "metrics.jsonl"
            if log.exists():
                kept = [line for line in log.read_text().splitlines() if _event_step(line) <= self.state.step]
                atomic_write_text(log, "".join(line + "\n" for line in kept))
        self._event({"event": "resume", "step": self.state.step, "checkpoint": folder.name})

    # ------------------------------------------------------------------ logging

    def _epoch_float(self) -> float:
        return round(self.state.step / self.steps_per_epoch, 4)

    def _log_train(self) -> None:
        """Log the window since the last log line: mean loss over processes, tokens/s, padding.

        Called at every logging step and before every evaluation, so that a checkpoint never cuts
        a window and a resumed run logs the same numbers as an uninterrupted one.
        """
        st, acc = self.state, self.accelerator
        if self._loss_n == 0:  # nothing new since the last line (the same on every process)
            return
        st.last_loss = float(acc.reduce(self._loss_sum / self._loss_n, "mean"))
        self._loss_sum.zero_()
        self._loss_n = 0
        self._add_counts(self._counts)
        seconds, tokens = st.train_seconds - self._window[0], st.tokens - self._window[1]
        self._window = (st.train_seconds, st.tokens)
        self._tokens_per_second = tokens / seconds if seconds > 0 else 0.0
        event = {"event": "train", "step": st.step, "epoch": self._epoch_float(), "loss": st.last_loss,
                 "learning_rate": self._lr,
                 "tokens_per_second": round(self._tokens_per_second, 1),
                 "padding_share": round(1 - st.tokens / st.positions, 4) if st.positions else 0.0,
                 "train_seconds": round(st.train_seconds, 3)}
        if self._grad_norm is not None:
            event["grad_norm"] = float(self._grad_norm)
        self._event(event, prefix="train/")
        if self.pbar is not None:
            self.pbar.set_postfix(self._postfix(), refresh=False)

    def _postfix(self) -> dict:
        st, post = self.state, {}
        if st.last_loss is not None:
            post["loss"] = f"{st.last_loss:.4f}"
        if st.best_metric is not None:
            post[self.task.primary_metric] = f"{st.best_metric:.4g}"
        post["tok/s"] = f"{self._tokens_per_second:,.0f}"
        return post

    def _event(self, event: dict, prefix: str = "") -> None:
        """One line of ``metrics.jsonl`` (main process) and the numbers to the tracker."""
        if self.is_main:
            with open(self.out / "metrics.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(event) + "\n")
        if prefix and self.accelerator.trackers:
            scalars = {prefix + k: v for k, v in event.items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("step", "epoch")}
            self.accelerator.log(scalars, step=event["step"])

    # ------------------------------------------------------------------ the end

    def _finish(self) -> dict[str, Any]:
        acc, st, cfg = self.accelerator, self.state, self.cfg
        if cfg.keep_best and st.best_step is not None and st.best_step != st.step:
            self.accelerator.load_state(str(self.out / CHECKPOINTS / f"step-{st.best_step:07d}"))
        test = self.evaluate("test")
        model_step = st.best_step if cfg.keep_best and st.best_step is not None else st.step
        self._event({"event": "test", "split": "test", "step": st.step, "model_step": model_step, **test},
                    prefix="test/")
        self._save_model()
        metrics = self._metrics_document(test, model_step)
        if self.is_main:
            atomic_write_text(self.out / "metrics.json", json.dumps(metrics, indent=2))
            atomic_write_text(self.out / "README.md", model_card(metrics, self.cfg, self.out))
            if not cfg.keep_checkpoints:
                shutil.rmtree(self.out / CHECKPOINTS, ignore_errors=True)
        acc.wait_for_everyone()
        return metrics

    def _save_model(self) -> None:
        """``save_pretrained`` (safetensors) + tokenizer into the run folder, via a temporary folder."""
        acc = self.accelerator
        from accelerate.utils import DistributedType

        state_dict = acc.get_state_dict(self.model) if acc.distributed_type == DistributedType.FSDP else None
        if not self.is_main:
            return
        model = acc.unwrap_model(self.model, keep_torch_compile=False)  # no "_orig_mod." in the saved names
        tmp = self.out / ".tmp-model"
        shutil.rmtree(tmp, ignore_errors=True)
        if hasattr(model, "merge_and_unload"):  # peft: save a plain model with the adapters merged in
            copy.deepcopy(model).merge_and_unload().save_pretrained(tmp)
            if self.cfg.save_adapter:  # and peft's own format beside it, for PeftModel.from_pretrained
                model.save_pretrained(tmp / ADAPTER)
        else:
            model.save_pretrained(tmp, state_dict=state_dict)
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(tmp)
        for item in tmp.iterdir():
            target = self.out / item.name
            if target.is_dir():  # os.replace cannot put a folder over a non-empty one
                shutil.rmtree(target)
            os.replace(item, target)
        tmp.rmdir()

    def _metrics_document(self, test: dict, model_step: int) -> dict[str, Any]:
        acc, st, cfg, task = self.accelerator, self.state, self.cfg, self.task
        model = acc.unwrap_model(self.model, keep_torch_compile=False)
        params = list(model.parameters())  # tied weights count once
        total, trainable = sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)
        rss = torch.tensor([peak_rss_mb() or 0.0], device=acc.device)
        cuda = (torch.tensor([torch.cuda.max_memory_allocated() / 2**20], device=acc.device)
                if acc.device.type == "cuda" else None)
        rss_peak = float(acc.gather(rss).max())
        cuda_peak = float(acc.gather(cuda).max()) if cuda is not None else None
        recipe_model = (self.recipe or {}).get("model") or {}
        # an LLM's source: the recipe's (None: the built-in one) or, without a recipe (the Python API), where its
        # weights were loaded from, so that the model card never takes another model for the built-in one
        llm_source = (recipe_model.get("name_or_path") if self.recipe
                      else getattr(getattr(model, "config", None), "_name_or_path", None) or None)
        import accelerate
        import transformers

        return {
            "task": {"name": task.name, "kind": task.kind, "source": task.source,
                     "options": _jsonable(task.options), "primary_metric": task.primary_metric,
                     "greater_is_better": task.greater_is_better,
                     "sizes": {s: len(task.dataset[s]) for s in ("train", "validation", "test")},
                     "data_hash": {s: _data_hash(task.dataset[s]) for s in ("train", "validation", "test")}},
            "tokenizer": _tokenizer_identity(self.tokenizer),
            "model": {"family": self.family, "name": recipe_model.get("name") or type(model).__name__,
                      "class": type(model).__name__,
                      "name_or_path": llm_source if self.family == "llm" else None,
                      "mode": recipe_model.get("mode") if self.family == "llm" else None},
            "parameters": {"total": total, "trainable": trainable},
            "test": test,
            "best": {"metric": task.primary_metric, "value": st.best_metric, "step": st.best_step,
                     "model_step": model_step},
            "training": {"steps": st.step, "epochs": self._epoch_float(), "examples": st.examples,
                         "train_seconds": round(st.train_seconds, 3),
                         "wall_seconds_this_session": round(time.perf_counter() - self.wall_start, 3),
                         "tokens": st.tokens,
                         "tokens_per_second": round(st.tokens / st.train_seconds, 1) if st.train_seconds else 0.0,
                         "padding_share": round(1 - st.tokens / st.positions, 4) if st.positions else 0.0,
                         "final_loss": st.last_loss, "stopped_because": self.stopped_because,
                         "global_batch_size": cfg.batch_size * acc.num_processes * cfg.gradient_accumulation_steps,
                         "resumed": self.resume},
            "memory": {"cpu_peak_rss_mb": round(rss_peak, 1),
                       "cuda_max_allocated_mb": round(cuda_peak, 1) if cuda_peak is not None else None},
            "hardware": {"device": acc.device.type, "device_name": _device_name(acc.device),
                         "num_processes": acc.num_processes, "distributed_type": acc.distributed_type.value,
                         "mixed_precision": acc.mixed_precision, "torch_threads": torch.get_num_threads()},
            "versions": {"hf_rnn": __version__, "torch": torch.__version__,
                         "transformers": transformers.__version__, "accelerate": accelerate.__version__},
        }

    def close(self) -> None:
        from accelerate.state import AcceleratorState, GradientState

        if getattr(self, "pbar", None) is not None:
            self.pbar.close()
        acc = getattr(self, "accelerator", None)
        if acc is not None:
            acc.end_training()
        # leave no Accelerator settings behind: a later run (or transformers.Trainer) may choose others
        AcceleratorState._reset_state()
        GradientState._reset_state()


# =========================================================================== identifiers


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


def _data_hash(ds) -> str:
    """A short content hash of a split: two runs on the same examples have the same one."""
    h = hashlib.sha256()
    for batch in ds.iter(batch_size=1000):
        h.update(json.dumps(batch, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def _tokenizer_identity(tokenizer) -> dict | None:
    if tokenizer is None:
        return None
    # the vocabulary decides which ids a model reads; the backend's serialisation would also
    # carry padding/truncation state, which differs between two loads of the same tokenizer
    text = json.dumps(tokenizer.get_vocab(), sort_keys=True)
    return {"name_or_path": str(getattr(tokenizer, "name_or_path", "")), "class": type(tokenizer).__name__,
            "vocab_size": len(tokenizer), "hash": hashlib.sha256(text.encode()).hexdigest()[:16]}


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _flat_hparams(config: dict) -> dict:
    """TensorBoard hparams take numbers, strings and booleans only."""
    return {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in config.items()}
