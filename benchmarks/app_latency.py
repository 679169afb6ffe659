"""How fast the app answers: start-up until ready, and a side-by-side sentiment comparison's latency.

    python benchmarks/app_latency.py                      # an untrained BiLSTM+attention of the recipe's size
    python benchmarks/app_latency.py --run runs/sentiment-bilstm --requests 50 --json out.json

The app is started as ``hf-rnn app`` would start it (a separate process, the built-in SmolLM2 from the asset
cache, one torch thread per request). Measured:

- **ready**: seconds from starting the process until the page answers HTTP 200, and until the first
  comparison has answered (the models load in the background from the start);
- **latency**: ``/sentiment`` through ``gradio_client`` (HTTP, queue, both models, both attention maps as
  HTML), sequential requests over the lecture's examples after a warm-up; p50, p95 and mean, plus the models'
  own times as the app reports them.

Without ``--run``, a BiLSTM with additive attention of the sentiment recipe's sizes is built untrained in a
temporary folder: its latency is that of a trained one (same shapes), so the benchmark needs no training.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

EXAMPLES = ("I like red apples", "Good, cheap food!", "Neat plot. Great acting.", "Pass me the orange",
            "Pass me the orange marker", "Do you have a pet?", "Roses are red")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def untrained_run(root: Path) -> Path:
    """A BiLSTM + additive attention sentiment run folder of the recipe's sizes (untrained)."""
    from hf_rnn.app.testing import make_tiny_run
    from hf_rnn.tokenization import load_tokenizer

    return make_tiny_run(root, "sentiment-bilstm-attention", "sentiment", "bilstm", ["model.attention=additive"],
                         load_tokenizer(), tiny=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", help="a sentiment run folder (BiLSTM with attention); default: an untrained one")
    parser.add_argument("--requests", type=int, default=40, help="timed requests (default 40)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests first (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="hf-rnn app --threads (default 1)")
    parser.add_argument("--llm-dtype", choices=("float32", "bfloat16"), default="float32",
                        help="hf-rnn app --llm-dtype (default float32)")
    parser.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    args = parser.parse_args(argv)

    from gradio_client import Client

    from hf_rnn.app.testing import free_port, wait_for_http
    from hf_rnn.assets import ensure_builtin_llm

    ensure_builtin_llm()  # "with assets cached": fetch/convert outside the timed start
    tmp = Path(tempfile.mkdtemp(prefix="hf_rnn_app_bench_"))
    runs = tmp / "runs"
    if args.run:
        src = Path(args.run)
        shutil.copytree(src, runs / src.name)
        run_name = src.name
        run_note = str(src)
    else:
        run_name = untrained_run(runs).name
        run_note = "untrained BiLSTM + additive attention, sentiment recipe sizes"
    model_a = f"run:{run_name}"

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = open(tmp / "app.log", "w")
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "hf_rnn.cli", "app", "--runs", str(runs), "--port", str(port),
                             "--threads", str(args.threads), "--llm-dtype", args.llm_dtype], stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, GRADIO_ANALYTICS_ENABLED="False"))
    try:
        wait_for_http(url, timeout=180)
        page_up = time.monotonic() - start
        client = Client(url, verbose=False, analytics_enabled=False)
        client.predict(EXAMPLES[1], model_a, "zero-shot", api_name="/sentiment")
        first_answer = time.monotonic() - start

        for i in range(args.warmup):
            client.predict(EXAMPLES[i % len(EXAMPLES)], model_a, "zero-shot", api_name="/sentiment")
        latencies, model_a_ms, model_b_ms = [], [], []
        for i in range(args.requests):
            t0 = time.perf_counter()
            out = client.predict(EXAMPLES[i % len(EXAMPLES)], model_a, "zero-shot", api_name="/sentiment")
            latencies.append(time.perf_counter() - t0)
            status = out[8]
            times = [float(x) for x in re.findall(r": (\d+) ms", status)]
            if len(times) != 2 or "<table>" not in out[2] or "<table>" not in out[3]:
                raise RuntimeError(f"unexpected answer: {status!r}")
            model_a_ms.append(times[0])
            model_b_ms.append(times[1])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()

    ms = [1000 * x for x in latencies]
    result = {
        "run": run_note,
        "llm": f"SmolLM2-135M-Instruct zero-shot (built-in), {args.llm_dtype}",
        "threads": args.threads,
        "cpus": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "ready": {"page_seconds": round(page_up, 2), "first_comparison_seconds": round(first_answer, 2)},
        "latency_ms": {"requests": len(ms), "p50": round(percentile(ms, 0.5), 1),
                       "p95": round(percentile(ms, 0.95), 1), "mean": round(statistics.mean(ms), 1),
                       "min": round(min(ms), 1)},
        "model_ms_p50": {"rnn": percentile(model_a_ms, 0.5), "llm": percentile(model_b_ms, 0.5)},
    }
    print(f"app ready: page after {page_up:.1f} s, first comparison answered after {first_answer:.1f} s "
          "(goal: 20 s)")
    print(f"/sentiment, {run_note} + SmolLM2 zero-shot ({args.llm_dtype}), both attention maps, "
          f"{len(ms)} requests:")
    print(f"  p50 {result['latency_ms']['p50']:.0f} ms, p95 {result['latency_ms']['p95']:.0f} ms, "
          f"mean {result['latency_ms']['mean']:.0f} ms (goal: p50 <= 300 ms)")
    print(f"  the models' own time (p50): RNN {result['model_ms_p50']['rnn']:.0f} ms, "
          f"LLM {result['model_ms_p50']['llm']:.0f} ms; {os.cpu_count()} CPUs, load average "
          f"{result['load_average_1min']:.1f} at the end")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1), encoding="utf-8")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
