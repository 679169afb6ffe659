"""Training-step cost of the built-in LLM: full fine-tuning vs LoRA.

Each mode runs in its own subprocess so that its peak resident memory
(``ru_maxrss``, which counts torch's allocations, unlike tracemalloc) is its own.
A step is forward + backward + AdamW on a batch of 8 x 64 tokens of the causal-LM
objective (random token ids: the cost does not depend on the text) or, with
``--task sentiment``, the sequence-classification head on real sentences padded to 64.

    python benchmarks/llm_step.py                 # 5 timed steps per mode, after 1 warm-up
    python benchmarks/llm_step.py --steps 10 --modes lora
    python benchmarks/llm_step.py --lora-dropout 0.05 --mmap-threshold 65536   # dropout's cost; the mmap lever
    python benchmarks/llm_step.py --publish       # the README's numbers (results/performance/llm_step.json)

Goals on a 2-core CPU: full FT peak <= 4.5 GB; LoRA peak <= 2.5 GB and faster than full FT.

Two levers move the LoRA peak. peft's LoRA dropout keeps a dropped copy of each adapted
layer's input for backward (4 projections x 30 layers); ``--lora-dropout 0`` removes them.
glibc keeps freed tensor memory in its heap once its mmap threshold has grown, so the
high-water mark includes fragmentation; ``--mmap-threshold 65536`` (``MALLOC_MMAP_THRESHOLD_``)
makes large tensors go back to the system when freed, as jemalloc or tcmalloc would.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

GOALS_GB = {"full": 4.5, "lora": 2.5}


def _batch(task_name: str, tokenizer, batch_size: int, seq_len: int):
    """Inputs and labels: [B, T] token ids (causal LM) or [B, T] ids + [B] labels (sentiment)."""
    import torch

    if task_name == "causal-lm":
        generator = torch.Generator().manual_seed(0)
        ids = torch.randint(0, len(tokenizer), (batch_size, seq_len), generator=generator)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids.clone()}
    from hf_rnn.tasks import load_task

    train = load_task(task_name).dataset["train"]
    rows = train.select(range(batch_size))
    enc = tokenizer(list(rows["text"]), padding="max_length", truncation=True, max_length=seq_len,
                    return_tensors="pt")
    return {**enc, "labels": torch.tensor(list(rows["label"]))}


def run_mode(mode: str, steps: int, warmup: int, task_name: str, batch_size: int, seq_len: int,
             threads: int | None, lora_dropout: float = 0.0) -> dict:
    """Time ``steps`` training steps of one mode in this process; report speed and peak RSS."""
    import torch

    from hf_rnn.families.llm.llm import count_parameters, load_llm

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    model, tokenizer = load_llm(None, task_name, mode=mode, lora_dropout=lora_dropout)
    batch = _batch(task_name, tokenizer, batch_size, seq_len)
    total, trainable = count_parameters(model)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    model.train()
    times, losses = [], []
    for i in range(warmup + steps):
        start = time.perf_counter()
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)  # frees gradient memory between steps, as trainers do
        if i >= warmup:
            times.append(time.perf_counter() - start)
            losses.append(loss.item())
    step_s = sorted(times)[len(times) // 2]  # median: robust to a busy machine's hiccups
    tokens = batch_size * seq_len
    return {
        "mode": mode,
        "task": task_name,
        "params_total": total,
        "params_trainable": trainable,
        "step_s_median": step_s,
        "step_s_mean": sum(times) / len(times),
        "tokens_per_s": tokens / step_s,
        # Linux reports ru_maxrss in KiB (macOS in bytes)
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
        / 1e9,
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "threads": torch.get_num_threads(),
    }


def _child(args: argparse.Namespace, mode: str) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--steps", str(args.steps), "--warmup", str(args.warmup),
           "--task", args.task, "--batch-size", str(args.batch_size), "--seq-len", str(args.seq_len),
           "--lora-dropout", str(args.lora_dropout)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    env = {**os.environ, "TRANSFORMERS_VERBOSITY": "error"}  # keep the head's load report out of the table
    if args.mmap_threshold:
        env["MALLOC_MMAP_THRESHOLD_"] = str(args.mmap_threshold)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"mode {mode} failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per mode (after the warm-up)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--modes", default="full,lora", help="comma-separated: full, lora, freeze")
    parser.add_argument("--task", default="causal-lm", choices=["causal-lm", "sentiment"])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--lora-dropout", type=float, default=0.0, help="LoRA dropout (load_llm's default 0.0)")
    parser.add_argument("--mmap-threshold", type=int, default=None,
                        help="set MALLOC_MMAP_THRESHOLD_ (bytes) in the children, e.g. 65536")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--publish", action="store_true",
                        help="also write results/performance/llm_step.json (the README's Performance block)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(run_mode(args.child, args.steps, args.warmup, args.task, args.batch_size, args.seq_len,
                                  args.threads, args.lora_dropout)))
        return 0

    from hf_rnn.comparison.cpu_load import OtherLoad

    results = {}
    with OtherLoad() as other:  # other processes' work meanwhile (this one and its children left out)
        for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
            print(f"[llm_step] {mode}: {args.warmup} warm-up + {args.steps} timed steps ...", file=sys.stderr,
                  flush=True)
            results[mode] = _child(args, mode)
    if args.publish:
        from hf_rnn.report.performance import publish

        numbers = {"task": args.task, "batch_size": args.batch_size, "seq_len": args.seq_len, "steps": args.steps,
                   "threads": args.threads, "lora_dropout": args.lora_dropout, "goals_gb": GOALS_GB,
                   "mmap_threshold": args.mmap_threshold, "other_load_cores": round(other.cores, 2),
                   "modes": results}
        print(f"published: {publish('llm_step', numbers)}", file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"SmolLM2-135M-Instruct, {args.task}, batch {args.batch_size} x {args.seq_len} tokens, "
          f"{os.cpu_count()} CPUs, load average {load:.1f}, lora_dropout {args.lora_dropout}, "
          f"MALLOC_MMAP_THRESHOLD_ {args.mmap_threshold or os.environ.get('MALLOC_MMAP_THRESHOLD_', 'unset')}")
    print(f"{'mode':<7}{'trainable':>14}{'step s':>9}{'tokens/s':>10}{'peak GB':>9}{'goal GB':>9}  loss first→last")
    for mode, r in results.items():
        goal = GOALS_GB.get(mode)
        mark = "" if goal is None else ("  ok" if r["peak_rss_gb"] <= goal else "  OVER")
        print(f"{mode:<7}{r['params_trainable']:>14,}{r['step_s_median']:>9.2f}{r['tokens_per_s']:>10.0f}"
              f"{r['peak_rss_gb']:>9.2f}{goal if goal else '-':>9}{mark}  {r['loss_first']:.3f}→{r['loss_last']:.3f}")
    if "full" in results and "lora" in results:
        ratio = results["lora"]["tokens_per_s"] / results["full"]["tokens_per_s"]
        print(f"LoRA / full speed: {ratio:.2f}x" + ("" if ratio > 1 else "  (LoRA is not faster)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
