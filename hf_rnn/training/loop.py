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
  primary metric; the test split's per-example records (``task.example_records``) in
  ``predictions.jsonl.gz`` (``hf_rnn.runs.predictions``);
* budget: ``max_steps`` and/or ``epochs`` and/or ``max_seconds`` (training time, which
  excludes evaluation and checkpoints): the first limit reached ends the run;
* faults: a checkpoint (``accelerator.save_state`` + the loop's counters) at every evaluation,
  written to a temporary folder and renamed into place; ``resume=True`` continues from the
  last one (same data order, RNG, schedule and best metric), so a killed run ends as an
  uninterrupted one would.

The run folder it writes (``config.yaml``, ``metrics.jsonl``, ``metrics.json``, a model card, the model,
checkpoints) is described in ``hf_rnn.runs.folder``; ``metrics.json``'s schema in ``hf_rnn.runs.schema``, how it
is filled in ``hf_rnn.runs.metrics``. ``hf_rnn.train_recipe`` trains from a recipe (building task, tokenizer and
model first) and calls ``train``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hf_rnn.assets.cache import atomic_write_text
from hf_rnn.errors import ConfigError, DataError, TrainingError
from hf_rnn.families import family_of
from hf_rnn.report.cards import model_card
from hf_rnn.runs import folder as run_folder
from hf_rnn.runs.folder import check_output_dir, latest_checkpoint
from hf_rnn.runs.metrics import metrics_document
from hf_rnn.runs.predictions import PREDICTIONS, write_predictions
from hf_rnn.runs.run import EVAL_PROGRESS
from hf_rnn.runs.schema import RunMetrics
from hf_rnn.tasks import input_family
from hf_rnn.tokenization import IGNORE_INDEX
from hf_rnn.training.config import TrainConfig, resolve_trackers
from hf_rnn.training.config_schema import dump_yaml
from hf_rnn.training.resume_rules import check_resume
from hf_rnn.training.sampling import LengthGroupedSampler, evaluation_loader, training_loader
from hf_rnn.training.setup import (
    enable_gradient_checkpointing,
    make_accelerator,
    make_optimizer,
    tracker_config,
)

# TrainConfig, resolve_trackers, LengthGroupedSampler, check_output_dir and latest_checkpoint live in
# train_config, sampling and run_folder; they are importable from here too
__all__ = ["LengthGroupedSampler", "TrainConfig", "TrainerState", "TrainingRun", "check_output_dir",
           "latest_checkpoint", "resolve_trackers", "train"]

EVAL_PROGRESS_SECONDS = 5.0  # how often a running evaluation rewrites runs.EVAL_PROGRESS


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
    # the max_seconds that stopped every process at this step: each counts its own seconds, so a run resumed from
    # this checkpoint with the same limit stops here, although the main process's count may be just under it
    stopped_at_max_seconds: float | None = None


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
) -> RunMetrics:
    """Train ``model`` on ``task`` and write the run folder; return ``metrics.json``'s content, typed
    (``hf_rnn.runs.schema.RunMetrics``: ``metrics.test``, ``metrics.training.steps``...).

    Args:
        model: a transformers model whose forward returns ``.loss`` (RNN or LLM head).
        task: a ``hf_rnn.tasks.Task`` (subset it first for a quick run).
        config: a ``TrainConfig`` or a mapping of its fields (checked: unknown keys and wrong
            types raise ``ConfigError`` before anything runs).
        tokenizer: the tokenizer the model reads; default: the LLM's own (from
            ``model.name_or_path``), or the built-in one for an RNN. None for a numeric forecaster.
        output_dir: the run folder.
        resume: continue from the last checkpoint in ``output_dir``.
        overwrite: start again in a folder that holds a run (or holds other files: those of a
            run's names are replaced, the rest kept; never the asset cache).
        recipe: the full recipe to save as ``config.yaml`` (the CLI passes it).

    Run under ``accelerate launch`` the same call trains on every process.
    """
    from hf_rnn.arguments import instance_argument, path_argument
    from hf_rnn.tasks import Task

    cfg = TrainConfig.from_any(config)
    path_argument(output_dir, "train: output_dir")
    out = check_output_dir(output_dir, resume=resume, overwrite=overwrite)
    if resume:  # a recipe the checkpoint cannot continue is refused before anything is written or loaded
        check_resume(out, recipe if recipe is not None else {"training": dataclasses.asdict(cfg)})
    instance_argument(model, torch.nn.Module, "train: model", "a model (torch.nn.Module)")
    instance_argument(task, Task, "train: task", "a Task (hf_rnn.load_task)")
    if tokenizer is None:  # the family's default: the LLM's own, the built-in one, none for values
        tokenizer = family_of(model).default_tokenizer(model, task)
    run = TrainingRun(model, task, cfg, tokenizer, out, resume=resume, overwrite=overwrite, recipe=recipe)
    try:
        return run.run()
    finally:
        run.close()


class TrainingRun:
    """One training run: the state ``train`` sets up, the loop, evaluation, checkpoints and the end."""

    def __init__(self, model, task, cfg: TrainConfig, tokenizer, out: Path, *, resume, overwrite, recipe):
        from accelerate.utils import set_seed

        self.task, self.cfg, self.tokenizer, self.out = task, cfg, tokenizer, out
        self.family = family_of(model)  # the ModelFamily: what metrics.json records, what it cannot do
        self.reads = input_family(model)  # the encoding the model reads (a patch forecaster: the RNN's)
        self.is_seq2seq = bool(getattr(model.config, "is_encoder_decoder", False))
        self.recipe = dict(recipe) if recipe is not None else None
        self.resume = resume
        if cfg.save_adapter and not hasattr(model, "merge_and_unload"):  # what save_model takes for peft
            raise ConfigError("training.save_adapter saves a LoRA run's peft adapter; this model has none "
                              "(train with model.mode=lora, or set training.save_adapter=false)")
        if cfg.gradient_checkpointing:
            enable_gradient_checkpointing(model, self.family.no_checkpointing_reason)
        self.accelerator, trackers = make_accelerator(cfg, out)
        acc = self.accelerator
        self.is_main = acc.is_main_process
        if self.is_main:  # a killed run's "scoring test: batch 30 of 39" would stay in the progress lines
            (out / EVAL_PROGRESS).unlink(missing_ok=True)
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
        pin = acc.device.type == "cuda"
        train_loader = training_loader(train_rows, task.collator(tokenizer, self.reads, for_generation=False),
                                       cfg, acc.num_processes, pin)
        self.sampler = train_loader.sampler
        eval_loaders = {split: evaluation_loader(enc_eval[split].to_list(),
                                                 task.collator(tokenizer, self.reads, for_generation=True),
                                                 cfg.eval_batch_size, cfg.num_workers, pin)
                        for split in ("validation", "test")}
        self.num_train_rows = len(train_rows)
        # every split must give an example: no training batch would ever come (max_steps and max_seconds could
        # never be reached), an evaluation of nothing has no metric; found here, before the run folder exists
        for split, rows in (("train", train_rows), ("validation", enc_eval["validation"]), ("test", enc_eval["test"])):
            if len(rows) == 0:
                raise DataError(task.too_small_message(split, tokenizer, cfg.max_length))

        # ---- optimisation
        optimizer = make_optimizer(model, cfg, acc)
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

        if overwrite and not resume:  # the inputs are known good: an old run is replaced only now
            acc.wait_for_everyone()  # every process has checked the folder before it changes
            if self.is_main:
                run_folder.clear_run(out)
        if self.is_main:
            out.mkdir(parents=True, exist_ok=True)  # the inputs are known good: now the run folder exists
        if resume:  # before config.yaml changes: a checkpoint that cannot be loaded leaves the run as it was
            self._load_checkpoint()
        if self.is_main:
            atomic_write_text(out / "config.yaml", dump_yaml(self._config_document(resume)))
        if trackers:
            acc.init_trackers("hf_rnn", config=tracker_config(cfg))
        self.pbar = None
        self.stopped_because: str | None = None
        self._generate_kwargs = {"max_new_tokens": cfg.max_new_tokens} if cfg.max_new_tokens else {}
        self._tokens_per_second = 0.0

    # ------------------------------------------------------------------ the loop

    def run(self) -> RunMetrics:
        from tqdm.auto import tqdm

        acc, cfg, st = self.accelerator, self.cfg, self.state
        self.pbar = tqdm(total=self.total_steps, initial=st.step, desc="train", dynamic_ncols=True,
                         disable=not (self.is_main and cfg.progress_bar))
        self.model.train()
        self._counts = torch.zeros(3, dtype=torch.float64, device=acc.device)  # tokens, positions, rows
        self._loss_sum, self._loss_n = torch.zeros((), device=acc.device), 0
        # the first step whose loss was not a finite number (-1: none), kept on the device: no sync per step
        self._first_bad_step = torch.full((), -1, dtype=torch.long, device=acc.device)
        self._window = (st.train_seconds, st.tokens)
        self._grad_norm = None
        self._lr = self.scheduler.get_last_lr()[0]
        # a run resumed from its final checkpoint (killed while scoring the test split) only scores
        stopped = self._budget_reached() or self._early_stop()
        if cfg.eval_at_start and st.step == 0 and st.last_eval_step < 0:  # step 0: the model before any update
            self._evaluate_and_checkpoint()
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
                    self._evaluate_and_checkpoint()
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
            self._evaluate_and_checkpoint()
        self.pbar.close()
        return self._finish()

    def _train_micro_batch(self, batch) -> None:
        acc, cfg = self.accelerator, self.cfg
        with acc.accumulate(self.model):
            loss = self.model(**self.task.model_inputs(batch)).loss
            acc.backward(loss)
            if acc.sync_gradients and cfg.max_grad_norm:
                self._grad_norm = acc.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
                # a NaN gradient makes NaN weights at this step (fp16's scaler skips such a step: not there)
                if acc.mixed_precision != "fp16":
                    self._mark_if_not_finite(self._grad_norm)
            self.optimizer.step()
            if acc.sync_gradients and not acc.optimizer_step_was_skipped:
                self._lr = self.scheduler.get_last_lr()[0]  # the rate this step used
                self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
        self._counts += self._count(batch)
        loss = loss.detach().float()
        self._mark_if_not_finite(loss)
        self._loss_sum += loss
        self._loss_n += 1

    def _mark_if_not_finite(self, value: torch.Tensor) -> None:
        """Remember the step under way when ``value`` (a loss, a gradient norm) is not finite, on the device."""
        bad = ~torch.isfinite(torch.as_tensor(value, device=self._first_bad_step.device).float())
        self._first_bad_step = torch.where((self._first_bad_step < 0) & bad, self.state.step + 1,
                                           self._first_bad_step)

    def _budget_reached(self) -> bool:
        st, cfg = self.state, self.cfg
        if self.total_steps is not None and st.step >= self.total_steps:
            self.stopped_because = "max_steps" if cfg.max_steps == self.total_steps else "epochs"
            return True
        if cfg.max_seconds is not None:
            spent = st.stopped_at_max_seconds is not None and cfg.max_seconds <= st.stopped_at_max_seconds
            if spent or st.train_seconds >= cfg.max_seconds:
                self.accelerator.set_trigger()
            if self.accelerator.check_trigger():  # every process stops at the same step
                st.stopped_at_max_seconds = cfg.max_seconds
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
        """The task's metrics on ``split``, every example counted once across processes. The test split's
        per-example records (``task.example_records`` of the same gathered arrays) are kept in ``test_records``."""
        acc = self.accelerator
        loader = self.val_loader if split == "validation" else self.test_loader
        from accelerate.utils import DistributedType

        # DDP has no generate(); FSDP must run through its wrapper to gather the shards
        model = self.model if acc.distributed_type == DistributedType.FSDP else acc.unwrap_model(self.model)
        progress, said = self.out / EVAL_PROGRESS, time.monotonic()

        def gather(pred: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            # every process's tensors padded to one width, then each example once
            return acc.gather_for_metrics({k: self._pad_across(k, v) for k, v in pred.items()})

        def report(done: int) -> None:  # a file that says where a long evaluation stands
            nonlocal said
            if self.is_main and time.monotonic() - said >= EVAL_PROGRESS_SECONDS:
                said = time.monotonic()
                atomic_write_text(progress, json.dumps({"split": split, "step": self.state.step,
                                                        "batches": done, "of": len(loader)}))

        outputs = self.task.collect_predictions(model, loader, self.tokenizer, autocast=acc.autocast, gather=gather,
                                                after_batch=report, **self._generate_kwargs)
        if self.is_main:
            progress.unlink(missing_ok=True)
        if split == "test":
            self.test_records = self.task.example_records(outputs, tokenizer=self.tokenizer, split=split)
        return self.task.compute_metrics(outputs, tokenizer=self.tokenizer, split=split)

    def _pad_across(self, key: str, tensor: torch.Tensor) -> torch.Tensor:
        if tensor.dtype == torch.bool:
            tensor = tensor.long()
        if tensor.dim() < 2 or self.accelerator.num_processes == 1:
            return tensor
        pad = IGNORE_INDEX if key == "labels" else getattr(self.tokenizer, "pad_token_id", 0) or 0
        return self.accelerator.pad_across_processes(tensor, dim=1, pad_index=pad)

    def _evaluate_and_checkpoint(self) -> None:
        """Evaluate on validation, track the best, then checkpoint: the last evaluation too, so that a run
        killed while scoring the test split (minutes for an LLM) resumes to score it, not to train again
        from the step before."""
        st, task = self.state, self.task
        eval_start = time.perf_counter()
        metrics = self.evaluate("validation")
        value = float(metrics[task.primary_metric])
        if not math.isfinite(value):  # before the checkpoint: the last one kept is a usable model
            self._fail(f"the validation {task.primary_metric} at step {st.step} is {value}, not a finite number")
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
        self._save_checkpoint()

    # ------------------------------------------------------------------ checkpoints

    def _save_checkpoint(self) -> None:
        st = self.state
        run_folder.save_checkpoint(self.accelerator, self.out, st.step, dataclasses.asdict(st),
                        keep_step=st.best_step if self.cfg.keep_best else None)

    def _load_checkpoint(self) -> None:
        """The newest intact checkpoint (a damaged one is skipped, saying so: ``run_folder.load_checkpoint``)."""
        found = run_folder.checkpoints(self.out)
        folder, self.state = run_folder.load_checkpoint(self.accelerator, self.out, TrainerState)
        if self.is_main:  # events after the checkpoint happen again: drop their old lines
            run_folder.drop_events_after(self.out, self.state.step)
        event = {"event": "resume", "step": self.state.step, "checkpoint": folder.name}
        if found and found[0] != folder:  # the newer ones were damaged: the record says which were passed over
            event["skipped_damaged"] = [p.name for p in found[:found.index(folder)]]
        self._event(event)

    def _config_document(self, resume: bool) -> dict:
        """What ``config.yaml`` records: the recipe; without one, the training section (a resumed run's other
        sections stay as the run's ``config.yaml`` has them)."""
        from hf_rnn.training.recipes import read_yaml

        if self.recipe is not None:
            return self.recipe
        saved = self.out / "config.yaml"
        document = read_yaml(saved) if resume and saved.exists() else {}
        return {**document, "training": dataclasses.asdict(self.cfg)}

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
        bad_steps = acc.gather(self._first_bad_step.reshape(1))  # the same on every process: all stop here
        bad_steps = bad_steps[bad_steps >= 0]
        if len(bad_steps) or not math.isfinite(st.last_loss):
            step = int(bad_steps.min()) if len(bad_steps) else st.step
            self._fail(f"the training loss at step {step} is {st.last_loss}, not a finite number"
                       if not math.isfinite(st.last_loss)
                       else f"the gradients at step {step} are not finite numbers (loss {st.last_loss:.4g})")
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

    def _finish(self) -> RunMetrics:
        acc, st, cfg = self.accelerator, self.state, self.cfg
        model_step = st.best_step if cfg.keep_best and st.best_step is not None else st.step
        if model_step != st.step:
            best = run_folder.checkpoint_dir(self.out, model_step)
            problem = run_folder.checkpoint_problem(best) if best.is_dir() else "it is missing"
            if problem is None:
                acc.load_state(str(best), load_kwargs={"weights_only": True})
            else:  # the last weights are a model too: better than no model after hours of training
                if self.is_main:
                    print(f"[hf_rnn] the best checkpoint {best.name} is unusable ({problem}); the saved model is the "
                          f"last one, step {st.step}", file=sys.stderr, flush=True)
                model_step = st.step
        self.test_records = None
        test = self.evaluate("test")
        broken = [k for k, v in test.items() if isinstance(v, float) and not math.isfinite(v)]
        if broken:
            self._fail(f"the test {broken[0]} is {test[broken[0]]}, not a finite number")
        if not self._weights_finite():
            self._fail(f"the model's weights after step {st.step} are not all finite numbers")
        if self.is_main and self.test_records is not None:  # each example once: gather_for_metrics dropped repeats
            write_predictions(self.out / PREDICTIONS, self.task, self.test_records, split="test")
        self._event({"event": "test", "split": "test", "step": st.step, "model_step": model_step, **test},
                    prefix="test/")
        run_folder.save_model(acc, self.model, self.tokenizer, self.out, cfg.save_adapter)
        metrics = metrics_document(
            accelerator=acc, model=self.model, task=self.task, tokenizer=self.tokenizer, family=self.family,
            recipe=self.recipe, cfg=cfg, state=st, test=test, model_step=model_step, epochs=self._epoch_float(),
            wall_start=self.wall_start, stopped_because=self.stopped_because, resumed=self.resume)
        if self.is_main:
            # what is written must read back (a plug-in task's metric of another type would hide the run later)
            document = RunMetrics.from_dict(metrics.to_dict()).to_dict()
            atomic_write_text(self.out / "metrics.json", json.dumps(document, indent=2))
            atomic_write_text(self.out / "README.md", model_card(metrics, self.cfg, self.out))
            if not cfg.keep_checkpoints:
                shutil.rmtree(self.out / run_folder.CHECKPOINTS, ignore_errors=True)
        acc.wait_for_everyone()
        return metrics

    def _weights_finite(self) -> bool:
        """Whether every parameter is finite, on every process (each checks its own shard)."""
        bad = torch.zeros((), device=self.accelerator.device)
        for p in self.model.parameters():
            if p.numel() and not bool(torch.isfinite(p.detach()).all()):
                bad += 1
                break
        return float(self.accelerator.reduce(bad, "sum")) == 0

    def _fail(self, what: str) -> None:
        """Stop a run whose numbers stopped being finite: one ``TrainingError`` that names the step and the
        likely causes, a ``failed`` event in ``metrics.jsonl``; no model and no ``metrics.json`` are written, the
        checkpoints of earlier evaluations stay for inspection."""
        cfg = self.cfg
        causes = [f"the learning rate ({cfg.learning_rate:g}) is too high", "the data's values are too large"]
        if self.accelerator.mixed_precision == "fp16":
            causes.insert(0, "fp16 mixed precision overflowed (try training.mixed_precision=bf16 or no)")
        kept = run_folder.latest_checkpoint(self.out)
        message = (f"training failed: {what}, so the model is broken; likely causes: "
                   f"{', or '.join(causes)}. No model was saved"
                   + (f" (the checkpoint {kept.name} in {self.out} is from before)" if kept is not None else ""))
        self._event({"event": "failed", "step": self.state.step, "error": message})
        raise TrainingError(message)

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
