"""Training throughput of the hf_rnn BiLSTM classifier vs. the same network written in bare PyTorch.

Both models have the same shape (embedding 128, 2-layer bidirectional LSTM with 256 units, linear layer on the
concatenated final states), the same initial weights, the same Adam optimizer and see the same batches of
variable-length, right-padded sequences (packed by both). They are timed in the same process after a warm-up,
alternating one step each on the same batch, so that CPU frequency, caches and background load affect both
alike; the ratio is the median over these pairs (robust to load spikes on a shared machine).

Usage::

    python benchmarks/rnn_throughput.py            # defaults: batch 32, seq len <= 64, vocab 49152
    python benchmarks/rnn_throughput.py --steps 40 --threads 2
    python benchmarks/rnn_throughput.py --clock cpu --threads 1   # steadier on a busy shared machine
    python benchmarks/rnn_throughput.py --device cuda --json out.json   # cuDNN on a GPU (both models alike)
    python benchmarks/rnn_throughput.py --clock cpu --threads 1 --steps 40 --publish   # the README's numbers

The ratio printed last is hf_rnn tokens/s divided by bare tokens/s (goal: >= 0.95). Tokens are real
(non-padding) tokens.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from hf_rnn.models import RNNConfig, RNNForSequenceClassification


class BareBiLSTMClassifier(nn.Module):
    """The reference: what one would write by hand with nn.Embedding + packed nn.LSTM + nn.Linear."""

    def __init__(
        self, vocab_size: int, embedding_size: int, hidden_size: int, num_layers: int, num_labels: int
    ):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.lstm = nn.LSTM(embedding_size, hidden_size, num_layers, batch_first=True, bidirectional=True)
        self.output = nn.Linear(2 * hidden_size, num_labels)

    def forward(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(
            self.embedding(input_ids), lengths, batch_first=True, enforce_sorted=False
        )
        _, (hidden, _) = self.lstm(packed)
        return self.output(torch.cat([hidden[-2], hidden[-1]], dim=1))


def copy_weights(source: RNNForSequenceClassification, target: BareBiLSTMClassifier) -> None:
    """Start both models from identical weights (the work per step is the same either way)."""
    with torch.no_grad():
        target.embedding.weight.copy_(source.rnn.embeddings.weight)
        for name, parameter in target.lstm.named_parameters():
            parameter.copy_(getattr(source.rnn.layers, name))
        final = source.classifier.layers[-1]
        target.output.weight.copy_(final.weight)
        target.output.bias.copy_(final.bias)


def make_batches(args) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(args.seed)
    batches = []
    for _ in range(args.num_batches):
        lengths = torch.randint(args.seq_len // 2, args.seq_len + 1, (args.batch_size,), generator=generator)
        ids = torch.randint(1, args.vocab_size, (args.batch_size, args.seq_len), generator=generator)
        mask = (torch.arange(args.seq_len)[None, :] < lengths[:, None]).long()
        batches.append(
            dict(
                input_ids=ids * mask,  # pad id 0 on the right
                attention_mask=mask,
                lengths=lengths,
                labels=torch.randint(0, 2, (args.batch_size,), generator=generator),
            )
        )
    return batches


def hf_rnn_step(model, optimizer, batch) -> None:
    loss = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]
    ).loss
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def bare_step(model, optimizer, batch) -> None:
    loss = F.cross_entropy(model(batch["input_ids"], batch["lengths"]), batch["labels"])
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def timed_step(step, model, optimizer, batch, clock=time.perf_counter) -> float:
    if batch["input_ids"].is_cuda:
        torch.cuda.synchronize()  # kernels are asynchronous: time the work, not its launch
    began = clock()
    step(model, optimizer, batch)
    if batch["input_ids"].is_cuda:
        torch.cuda.synchronize()
    return clock() - began


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=16, help="timed training steps per model (default 16)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per model first (default 3)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--seq-len", type=int, default=64, help="max length; lengths are uniform in [len/2, len]"
    )
    parser.add_argument("--vocab-size", type=int, default=49152)
    parser.add_argument("--embedding-size", type=int, default=128)
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--num-batches", type=int, default=8, help="distinct batches, cycled")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall time (default) or this process's CPU time, steadier when other jobs share the CPUs",
    )
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    parser.add_argument("--publish", action="store_true",
                        help="also write results/performance/rnn_throughput.json (the README's performance block)")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device here")
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(args.seed)
    config = RNNConfig(
        vocab_size=args.vocab_size,
        embedding_size=args.embedding_size,
        hidden_size=args.hidden_size,
        num_layers=args.num_layers,
        cell="lstm",
        bidirectional=True,
        num_labels=2,
    )
    hf_model = RNNForSequenceClassification(config).train()
    bare_model = BareBiLSTMClassifier(
        args.vocab_size, args.embedding_size, args.hidden_size, args.num_layers, num_labels=2
    ).train()
    copy_weights(hf_model, bare_model)
    hf_model.to(args.device)
    bare_model.to(args.device)
    count = sum(p.numel() for p in hf_model.parameters())
    assert count == sum(p.numel() for p in bare_model.parameters()), "the two models must have the same shape"

    runners = {
        "hf_rnn": (hf_rnn_step, hf_model, torch.optim.Adam(hf_model.parameters(), lr=1e-3)),
        "bare": (bare_step, bare_model, torch.optim.Adam(bare_model.parameters(), lr=1e-3)),
    }
    # lengths stay on the CPU: pack_padded_sequence wants them there
    batches = [{k: (v if k == "lengths" else v.to(args.device)) for k, v in b.items()} for b in make_batches(args)]
    print(
        f"BiLSTM classifier: vocab {args.vocab_size}, embedding {args.embedding_size}, hidden {args.hidden_size} x "
        f"{args.num_layers} layers x 2 directions, {count:,} parameters; batch {args.batch_size}, lengths "
        f"{args.seq_len // 2}-{args.seq_len}; torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {args.clock} clock"
    )

    for step, model, optimizer in runners.values():
        for index in range(args.warmup):
            step(model, optimizer, batches[index % len(batches)])

    # Strict alternation, one step each, on the same batch, swapping who goes first every step. A shared machine
    # has load spikes; pairing adjacent steps and taking medians keeps a spike from deciding the comparison.
    from hf_rnn.comparison.cpu_load import OtherLoad

    clock = time.perf_counter if args.clock == "wall" else time.process_time
    step_seconds = {name: [] for name in runners}
    step_tokens = []
    with OtherLoad() as other:  # other processes' work meanwhile, for the published numbers
        for index in range(args.steps):
            batch = batches[(args.warmup + index) % len(batches)]
            order = list(runners) if index % 2 == 0 else list(reversed(runners))
            for name in order:
                step, model, optimizer = runners[name]
                step_seconds[name].append(timed_step(step, model, optimizer, batch, clock))
            step_tokens.append(int(batch["lengths"].sum()))

    for name in runners:
        total = sum(step_seconds[name])
        median_rate = statistics.median(t / s for t, s in zip(step_tokens, step_seconds[name]))
        print(
            f"{name:>7}: {median_rate:7.0f} tokens/s median step, {sum(step_tokens) / total:7.0f} tokens/s overall "
            f"({args.steps} steps in {total:.1f} s, median {1000 * statistics.median(step_seconds[name]):.0f} ms/step)"
        )
    pair_ratios = [bare / hf for hf, bare in zip(step_seconds["hf_rnn"], step_seconds["bare"])]
    overall = sum(step_seconds["bare"]) / sum(step_seconds["hf_rnn"])
    print(
        f"  ratio hf_rnn / bare tokens/s: {statistics.median(pair_ratios):.3f} (median of {args.steps} paired "
        f"steps; overall {overall:.3f}); goal >= 0.95"
    )
    print(f"  load average at the end: {os.getloadavg()[0]:.1f} (other processes slow both models alike)")
    results = {"device": args.device, "clock": args.clock, "threads": torch.get_num_threads(),
               "ratio_median": statistics.median(pair_ratios), "ratio_overall": overall,
               "tokens_per_second": {n: sum(step_tokens) / sum(step_seconds[n]) for n in runners},
               "steps": args.steps, "batch_size": args.batch_size, "seq_len": args.seq_len,
               "hidden_size": args.hidden_size, "num_layers": args.num_layers, "parameters": count,
               "torch": torch.__version__, "other_load_cores": round(other.cores, 2)}
    if args.json:
        import json

        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    if args.publish:
        from hf_rnn.report.performance import publish

        print(f"published: {publish('rnn_throughput', results)}")

if __name__ == "__main__":
    main()
