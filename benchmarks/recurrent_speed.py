"""Training and generation speed of Mamba-2, an LSTM and a Llama of the same width, measured in one run.

Three causal language models of the same width (`--width`, default 256), depth (`--layers`, default 2) and
vocabulary (`--vocab-size`, default 4096), about 2-3M parameters each, tied input and output embeddings:

- **Mamba-2**: this project's `HfMamba2ForCausalLM` (transformers' `Mamba2Model`); without the `mamba_ssm` /
  `causal_conv1d` kernels (a CPU) it runs transformers' chunked PyTorch path (state-space duality) in training
  and its one-step recurrence in generation;
- **LSTM**: this project's `RNNForCausalLM` (`cell="lstm"`, PyTorch's fused `nn.LSTM`); generation carries the
  `(h, c)` state in an `RNNStateCache`;
- **Llama**: transformers' `LlamaForCausalLM` built from a small config (`attn_implementation="sdpa"`, rotary
  positions, SwiGLU MLP), generation with its growing key/value cache (`DynamicCache`).

(a) **Training**: forward + backward + AdamW on batches of `--batch-size` × `--seq-len` random tokens (default
16 × 128), one step per model in turn on the same batch, the order rotated every round, after a warm-up; each
model's tokens/s and the median over rounds of its speed relative to the LSTM's in the same round.
(b) **Generation**: greedy decoding of `--new-tokens` tokens after a random prompt of each `--contexts` length
(default 64, 256, 1024, 2048), batch 1, each model with its own cache; the time per new token is measured
between successive decoding steps (a logits processor records the clock at each), so the prompt's one-off
forward pass is left out. A recurrent model's step costs the same at any context, a transformer's grows with
its cache. The models take turns within each round too.

The clock is this process's CPU time with one thread (steadier when other jobs share the machine: the
default on a busy shared CPU) and wall time otherwise (`--clock`). Paired measurements put load spikes on all
three alike, and the ratios use medians.

Usage::

    python benchmarks/recurrent_speed.py                       # defaults: 1 thread, under a minute
    python benchmarks/recurrent_speed.py --rounds 4 --gen-rounds 2 --contexts 64 256 1024 2048 --publish
    python benchmarks/recurrent_speed.py --threads 2 --clock wall
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM, LogitsProcessor, LogitsProcessorList

from hf_rnn.models import HfMamba2Config, HfMamba2ForCausalLM, RNNConfig, RNNForCausalLM

MODELS = ("mamba2", "lstm", "llama")
REFERENCE = "lstm"  # ratios are against this model, measured in the same run


def build_models(args) -> dict[str, torch.nn.Module]:
    """The three language models, same width, depth and vocabulary (`[B, T]` ids -> `[B, T, vocab]` logits)."""
    width, layers, vocab = args.width, args.layers, args.vocab_size
    torch.manual_seed(args.seed)
    mamba2 = HfMamba2ForCausalLM(HfMamba2Config(
        vocab_size=vocab, hidden_size=width, num_hidden_layers=layers, expand=2, num_heads=2 * width // 64,
        head_dim=64, state_size=64, chunk_size=64, tie_word_embeddings=True, pad_token_id=0, eos_token_id=None))
    lstm = RNNForCausalLM(RNNConfig(
        vocab_size=vocab, embedding_size=width, hidden_size=width, num_layers=layers, cell="lstm",
        tie_word_embeddings=True, pad_token_id=0, eos_token_id=None))
    llama = LlamaForCausalLM(LlamaConfig(
        vocab_size=vocab, hidden_size=width, intermediate_size=8 * width // 3, num_hidden_layers=layers,
        num_attention_heads=width // 64, num_key_value_heads=width // 64,
        max_position_embeddings=max(args.contexts) + args.new_tokens, tie_word_embeddings=True,
        pad_token_id=0, bos_token_id=None, eos_token_id=None, attn_implementation="sdpa"))
    return {"mamba2": mamba2, "lstm": lstm, "llama": llama}


def settings_of(models: dict[str, torch.nn.Module]) -> dict[str, str]:
    """In words, the setting each model ran at."""
    kernels = all(importlib.util.find_spec(m) for m in ("mamba_ssm", "causal_conv1d"))
    m, lstm, llama = models["mamba2"].config, models["lstm"].config, models["llama"].config
    return {
        "mamba2": (f"hf_rnn HfMamba2ForCausalLM, {m.num_heads} heads × {m.head_dim}, state {m.state_size}, "
                   f"chunk {m.chunk_size}; " + ("mamba_ssm kernels" if kernels else
                                                "transformers' chunked PyTorch path (no mamba_ssm kernels)")
                   + ", recurrent cache in generation"),
        "lstm": f"hf_rnn RNNForCausalLM, fused nn.LSTM {lstm.hidden_size} × {lstm.num_layers}, RNNStateCache",
        "llama": (f"transformers LlamaForCausalLM, {llama.num_attention_heads} heads, MLP "
                  f"{llama.intermediate_size}, {llama._attn_implementation} attention, DynamicCache (keys and "
                  "values grow with the context)"),
    }


def train_step(model, optimizer, ids: torch.Tensor) -> None:
    loss = model(input_ids=ids, labels=ids).loss
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


class StepClock(LogitsProcessor):
    """Records the clock each time `generate()` scores a new token: once per decoding step."""

    def __init__(self, clock):
        self.clock = clock
        self.times: list[float] = []

    def __call__(self, input_ids, scores):
        self.times.append(self.clock())
        return scores


@torch.no_grad()
def seconds_per_token(model, prompt: torch.Tensor, new_tokens: int, clock) -> float:
    """Mean time of one greedy decoding step with the model's cache, after `prompt` `[1, T]` (prefill left out:
    the time between the first and the last step's scores, over the steps in between)."""
    stamps = StepClock(clock)
    out = model.generate(prompt, max_new_tokens=new_tokens, do_sample=False, pad_token_id=0,
                         logits_processor=LogitsProcessorList([stamps]))
    if out.shape[1] != prompt.shape[1] + new_tokens or len(stamps.times) != new_tokens:
        raise RuntimeError(f"{type(model).__name__} generated {out.shape[1] - prompt.shape[1]} of {new_tokens} tokens")
    return (stamps.times[-1] - stamps.times[0]) / (new_tokens - 1)


def measure_training(models, args, clock) -> dict:
    batches = [torch.randint(1, args.vocab_size, (args.batch_size, args.seq_len),
                             generator=torch.Generator().manual_seed(args.seed + i)) for i in range(4)]
    optimizers = {n: torch.optim.AdamW(m.parameters(), lr=1e-3) for n, m in models.items()}
    for name, model in models.items():
        model.train()
        for index in range(args.warmup):
            train_step(model, optimizers[name], batches[index % len(batches)])
    seconds = {name: [] for name in models}
    names = list(models)
    for index in range(args.rounds):
        batch = batches[index % len(batches)]
        for name in names[index % len(names):] + names[:index % len(names)]:  # rotate who goes first
            began = clock()
            train_step(models[name], optimizers[name], batch)
            seconds[name].append(clock() - began)
    tokens = args.batch_size * args.seq_len
    return {name: {"tokens_per_second": tokens * args.rounds / sum(s),
                   "step_seconds_median": statistics.median(s),
                   "speed_ratio_to_lstm": statistics.median(r / s_ for r, s_ in zip(seconds[REFERENCE], s))}
            for name, s in seconds.items()}


def measure_generation(models, args, clock) -> dict:
    for model in models.values():
        model.eval()
    generator = torch.Generator().manual_seed(args.seed)
    out = {name: {} for name in models}
    names = list(models)
    for length in args.contexts:
        prompt = torch.randint(1, args.vocab_size, (1, length), generator=generator)
        for model in models.values():  # warm-up at this length (allocations, first-call paths)
            seconds_per_token(model, prompt, min(4, args.new_tokens), clock)
        times = {name: [] for name in models}
        for index in range(args.gen_rounds):
            for name in names[index % len(names):] + names[:index % len(names)]:
                times[name].append(seconds_per_token(models[name], prompt, args.new_tokens, clock))
        for name, t in times.items():
            out[name][str(length)] = {"ms_per_token": 1000 * statistics.median(t),
                                      "time_ratio_to_lstm": statistics.median(
                                          a / b for a, b in zip(t, times[REFERENCE]))}
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=256, help="hidden size of all three (default 256)")
    parser.add_argument("--layers", type=int, default=2, help="layers of all three (default 2)")
    parser.add_argument("--vocab-size", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=1, help="untimed training steps per model (default 1)")
    parser.add_argument("--rounds", type=int, default=8, help="timed training steps per model (default 8)")
    parser.add_argument("--contexts", type=int, nargs="+", default=[64, 256, 1024, 2048],
                        help="prompt lengths before generation (default 64 256 1024 2048)")
    parser.add_argument("--new-tokens", type=int, default=32, help="tokens generated per measurement (default 32)")
    parser.add_argument("--gen-rounds", type=int, default=3, help="measurements per model and length (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--clock", choices=["auto", "wall", "cpu"], default="auto",
                        help="auto (default): this process's CPU time with one thread, else wall time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    parser.add_argument("--publish", action="store_true",
                        help="also write results/performance/recurrent_speed.json (the docs' performance block)")
    args = parser.parse_args(argv)
    for name in ("width", "layers", "vocab_size", "batch_size", "seq_len", "rounds", "gen_rounds", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.width % 64:
        parser.error("--width must be a multiple of 64 (Mamba-2 and Llama heads of 64 channels)")
    if args.new_tokens < 2 or min(args.contexts) < 1:
        parser.error("--new-tokens must be at least 2 (a time between two steps) and every context at least 1")
    torch.set_num_threads(args.threads)
    clock_name = args.clock if args.clock != "auto" else ("cpu" if args.threads == 1 else "wall")
    clock = time.process_time if clock_name == "cpu" else time.perf_counter

    models = build_models(args)
    parameters = {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()}
    print(f"width {args.width}, {args.layers} layers, vocabulary {args.vocab_size}: "
          + ", ".join(f"{n} {p:,} parameters" for n, p in parameters.items())
          + f"; torch {torch.__version__}, {torch.get_num_threads()} thread(s), {clock_name} clock, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    from hf_rnn.comparison.cpu_load import OtherLoad

    with OtherLoad() as other:  # other processes' work meanwhile, for the published numbers
        training = measure_training(models, args, clock)
        generation = measure_generation(models, args, clock)

    print(f"training, batch {args.batch_size} × {args.seq_len} tokens, {args.rounds} rounds:")
    for name, r in training.items():
        print(f"  {name:>7}: {r['tokens_per_second']:8,.0f} tokens/s  ({r['speed_ratio_to_lstm']:.2f}× the LSTM's, "
              f"median step {1000 * r['step_seconds_median']:.0f} ms)")
    print(f"generation, ms per new token (× the LSTM's) after a context of N tokens ({args.new_tokens} new tokens, "
          f"{args.gen_rounds} rounds):")
    print("  " + " " * 9 + "".join(f"{length:>18}" for length in args.contexts))
    for name, per_length in generation.items():
        print(f"  {name:>7}: " + "".join(f"{r['ms_per_token']:9.2f} ({r['time_ratio_to_lstm']:5.2f}×)"
                                         for r in per_length.values()))
    print(f"  other processes kept {other.cores:.2f} cores busy meanwhile (they slow all three alike)")

    results = {"threads": torch.get_num_threads(), "clock": clock_name, "width": args.width, "layers": args.layers,
               "vocab_size": args.vocab_size, "batch_size": args.batch_size, "seq_len": args.seq_len,
               "rounds": args.rounds, "contexts": args.contexts, "new_tokens": args.new_tokens,
               "gen_rounds": args.gen_rounds, "parameters": parameters, "settings": settings_of(models),
               "training": training, "generation": generation, "torch": torch.__version__,
               "other_load_cores": round(other.cores, 2)}
    if args.json:
        import json

        from hf_rnn.assets.cache import atomic_write_text

        atomic_write_text(args.json, json.dumps(results, indent=1))
    if args.publish:
        from hf_rnn.report.performance import publish

        print(f"published: {publish('recurrent_speed', results)}")
    return results


if __name__ == "__main__":
    main()
