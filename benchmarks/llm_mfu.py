"""How close LLM fine-tuning comes to the machine's limit: model FLOPs utilization (MFU) of the built-in SmolLM2.

One process measures both sides of the fraction on the same device, in the same run:

* the peak: the best of a few square matrix products (``--matmul-size``, default 2048) in the training dtype,
  2 n^3 FLOPs each (on a GPU, a bigger size reaches nearer the datasheet peak: 8192 in ``gpu_check.sh``);
* the model: training tokens per second of forward + backward + AdamW on batches of ``--batch-size`` x
  ``--seq-len`` token ids, times 6 x the non-embedding parameters plus attention's 12 x layers x width x
  sequence length per token (the PaLM appendix's count; the tied embedding's output product is included,
  its lookup is not).

MFU = model FLOP/s / peak FLOP/s. ``--dtype bf16`` runs the forward and backward under bf16 autocast (the
parameters and the optimizer stay float32, as in ``hf-rnn train training.mixed_precision=bf16``).

    python benchmarks/llm_mfu.py                          # fp32 and bf16 on the CPU, a few minutes
    python benchmarks/llm_mfu.py --device cuda --dtypes bf16 --batch-size 16 --seq-len 512 --json mfu.json
"""

from __future__ import annotations

import argparse
import json
import time


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device, dtype, n: int, repeats: int = 5) -> float:
    """Best FLOP/s of an n x n matrix product in ``dtype`` on ``device``, through ``torch.nn.functional.linear``:
    the kernel a model's linear layers run (on a CPU without bf16 units a bare bf16 ``a @ b`` takes a far slower
    path than oneDNN's linear, so it would understate the peak the training competes with)."""
    import torch

    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    linear = torch.nn.functional.linear
    with torch.no_grad():
        linear(a, b)  # warm-up (kernel choice, allocation)
        sync(device)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            linear(a, b)
            sync(device)
            best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def training_flops_per_token(model, seq_len: int) -> float:
    config = model.config
    embedding = model.get_input_embeddings().weight.numel()
    non_embedding = sum(p.numel() for p in model.parameters()) - embedding
    # the output projection is tied to the embedding but still a matmul per token: count it once
    output = config.vocab_size * config.hidden_size
    return 6 * (non_embedding + output) + 12 * config.num_hidden_layers * config.hidden_size * seq_len


def tokens_per_second(model, device, dtype_name: str, batch_size: int, seq_len: int, steps: int, warmup: int) -> float:
    import torch

    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (batch_size, seq_len), generator=generator).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=device.type in ("cpu", "cuda"))
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype_name == "bf16")
    times = []
    for step in range(warmup + steps):
        sync(device)
        start = time.perf_counter()
        with autocast:
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sync(device)
        if step >= warmup:
            times.append(time.perf_counter() - start)
    times.sort()
    return batch_size * seq_len / times[len(times) // 2]  # the median step


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtypes", default="fp32,bf16", help="comma-separated: fp32, bf16")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--steps", type=int, default=4, help="timed steps (the median counts)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument("--model", default=None, help="LLM id or folder (default: the built-in SmolLM2)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--publish", action="store_true",
                        help="also write results/performance/llm_mfu.json (the README's performance block)")
    args = parser.parse_args(argv)

    import torch

    from hf_rnn.families.llm.llm import load_llm

    device = torch.device(args.device)
    model, _ = load_llm(args.model, "causal-lm")
    model.to(device).train()
    per_token = training_flops_per_token(model, args.seq_len)
    results = {"device": str(device), "device_name": torch.cuda.get_device_name(device) if device.type == "cuda"
               else "cpu", "threads": torch.get_num_threads(), "batch_size": args.batch_size,
               "seq_len": args.seq_len, "matmul_size": args.matmul_size, "flops_per_token": per_token, "dtypes": {}}
    for name in args.dtypes.split(","):
        peak = matmul_peak(device, torch.bfloat16 if name == "bf16" else torch.float32, args.matmul_size)
        rate = tokens_per_second(model, device, name, args.batch_size, args.seq_len, args.steps, args.warmup)
        mfu = rate * per_token / peak
        results["dtypes"][name] = {"tokens_per_second": rate, "model_flops_per_second": rate * per_token,
                                   "peak_flops_per_second": peak, "mfu": mfu}
        print(f"{name}: {rate:,.0f} training tokens/s x {per_token / 1e9:.2f} GFLOP/token = "
              f"{rate * per_token / 1e9:,.1f} GFLOP/s; {args.matmul_size}^2 matmul peak {peak / 1e9:,.1f} GFLOP/s; "
              f"MFU {100 * mfu:.1f}%")
    if {"fp32", "bf16"} <= set(results["dtypes"]):
        speedup = results["dtypes"]["bf16"]["tokens_per_second"] / results["dtypes"]["fp32"]["tokens_per_second"]
        results["bf16_over_fp32"] = speedup
        print(f"bf16 / fp32 training tokens/s: {speedup:.2f}x (goal >= 2x where the CPU has bf16 matrix units)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    if args.publish:
        from hf_rnn.report.performance import publish

        print(f"published: {publish('llm_mfu', results)}")
    return results


if __name__ == "__main__":
    main()
