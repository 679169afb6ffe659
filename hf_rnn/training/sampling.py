"""Which rows make a training batch: length-grouped, seeded, the same after a resume.

``LengthGroupedSampler`` orders the training rows of an epoch so that a batch holds rows of similar length
(little padding once the task's collator pads each batch to its own longest row); ``row_length`` is the
length it sorts by, which also orders the evaluation rows longest first. ``training_loader`` and
``evaluation_loader`` are the ``DataLoader``s the training loop prepares.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader, Sampler

__all__ = ["LengthGroupedSampler", "evaluation_loader", "row_length", "training_loader"]


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


def row_length(row: Mapping[str, Any]) -> int:
    """The tokens of an encoded row (a seq2seq row's source and target); 1 for a numeric window."""
    if "input_ids" in row:
        return len(row["input_ids"]) + (len(row["labels"]) if _is_seq2seq_row(row) else 0)
    return 1  # numeric windows all have the same length


def _is_seq2seq_row(row) -> bool:
    labels = row.get("labels")
    return isinstance(labels, list) and len(labels) != len(row["input_ids"])


def training_loader(rows: list, collate_fn, cfg, num_processes: int, pin_memory: bool) -> DataLoader:
    """The training rows in batches of ``cfg.batch_size`` (a ``TrainConfig``) per process, length-grouped."""
    # grouped by optimizer step: N processes x A accumulation steps see what one process with a
    # batch N x A times larger would see
    step_batch = cfg.batch_size * num_processes * cfg.gradient_accumulation_steps
    sampler = LengthGroupedSampler([row_length(r) for r in rows], step_batch,
                                   cfg.mega_batch_mult, cfg.seed, cfg.group_by_length)
    return DataLoader(rows, batch_size=cfg.batch_size, sampler=sampler, collate_fn=collate_fn,
                      num_workers=cfg.num_workers, pin_memory=pin_memory, generator=torch.Generator())


def evaluation_loader(rows: list, collate_fn, batch_size: int, num_workers: int, pin_memory: bool) -> DataLoader:
    """The rows of an evaluation split, longest first: the least padding."""
    by_length = sorted(range(len(rows)), key=lambda i: -row_length(rows[i]))
    return DataLoader(rows, batch_size=batch_size, sampler=by_length, collate_fn=collate_fn,
                      num_workers=num_workers, pin_memory=pin_memory, generator=torch.Generator())
