"""How fast the app answers: start-up until ready, and a side-by-side sentiment comparison's latency.

    python benchmarks/app_latency.py                      # an untrained BiLSTM+attention of the recipe's size
    python benchmarks/app_latency.py --run runs/sentiment-bilstm --requests 50 --json out.json
    python benchmarks/app_latency.py --llm-dtype float32,bfloat16 --publish   # the README's numbers

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


def measure(args, dtype: str, runs: Path, model_a: str) -> dict:
    """Start ``hf-rnn app`` with the LLM in ``dtype``, wait until it answers, time ``args.requests`` comparisons."""
    from gradio_client import Client

    from hf_rnn.app.testing import free_port, wait_for_http

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = open(runs.parent / f"app-{dtype}.log", "w")
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "hf_rnn.cli", "app", "--runs", str(runs), "--port", str(port),
                             "--threads", str(args.threads), "--llm-dtype", dtype], stdout=log,
                            stderr=subprocess.STDOUT, env=dict(os.environ, GRADIO_ANALYTICS_ENABLED="False"))
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
    return {"ready": {"page_seconds": round(page_up, 2), "first_comparison_seconds": round(first_answer, 2)},
            "latency_ms": {"requests": len(ms), "p50": round(percentile(ms, 0.5), 1),
                           "p95": round(percentile(ms, 0.95), 1), "mean": round(statistics.mean(ms), 1),
                           "min": round(min(ms), 1)},
            "model_ms_p50": {"rnn": percentile(model_a_ms, 0.5), "llm": percentile(model_b_ms, 0.5)}}


def probability_difference(runs: Path, model_a: str, dtypes: list[str]) -> float:
    """The largest difference between the zero-shot LLM's label probabilities in the first dtype and in each
    other, over the examples (in this process, through the app's service)."""
    from hf_rnn.app.service import ZERO_SHOT, AppService

    answers = {}
    for dtype in dtypes:
        service = AppService(runs, llm_dtype=dtype)
        try:
            answers[dtype] = [service.compare("sentiment", model_a, ZERO_SHOT, text).b.output for text in EXAMPLES]
        finally:
            service.close()
    first = answers[dtypes[0]]
    return max(abs(a[k] - b[k]) for dtype in dtypes[1:] for a, b in zip(first, answers[dtype]) for k in a)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", help="a sentiment run folder (BiLSTM with attention); default: an untrained one")
    parser.add_argument("--requests", type=int, default=40, help="timed requests (default 40)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests first (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="hf-rnn app --threads (default 1)")
    parser.add_argument("--llm-dtype", default="float32",
                        help="hf-rnn app --llm-dtype, or several comma-separated (float32,bfloat16): one start "
                             "each (default float32)")
    parser.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    parser.add_argument("--publish", action="store_true",
                        help="also write results/performance/app_latency.json (the README's Performance block)")
    args = parser.parse_args(argv)
    dtypes = [d.strip() for d in args.llm_dtype.split(",") if d.strip()]
    unknown = [d for d in dtypes if d not in ("float32", "bfloat16")]
    if unknown or not dtypes:
        parser.error(f"--llm-dtype takes float32 and/or bfloat16, not {', '.join(unknown) or 'nothing'}")

    from hf_rnn.assets.cache import ensure_builtin_llm
    from hf_rnn.comparison.cpu_load import OtherLoad

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

    with OtherLoad() as load:  # other processes' work meanwhile (this one and the app it starts left out)
        measured = {dtype: measure(args, dtype, runs, model_a) for dtype in dtypes}
    result = {"run": run_note, "llm": "SmolLM2-135M-Instruct zero-shot (built-in, dequantized from Q4_1)",
              "requests": args.requests, "threads": args.threads, "cpus": os.cpu_count(),
              "other_load_cores": round(load.cores, 2), "dtypes": measured}
    if len(dtypes) > 1:
        result["max_probability_difference"] = round(probability_difference(runs, model_a, dtypes), 5)
    for dtype, r in measured.items():
        print(f"{dtype}: app ready: page after {r['ready']['page_seconds']:.1f} s, first comparison answered after "
              f"{r['ready']['first_comparison_seconds']:.1f} s (goal: 20 s)")
        print(f"  /sentiment, {run_note} + SmolLM2 zero-shot, both attention maps, {args.requests} requests: "
              f"p50 {r['latency_ms']['p50']:.0f} ms, p95 {r['latency_ms']['p95']:.0f} ms, "
              f"mean {r['latency_ms']['mean']:.0f} ms (goal: p50 <= 300 ms)")
        print(f"  the models' own time (p50): RNN {r['model_ms_p50']['rnn']:.0f} ms, "
              f"LLM {r['model_ms_p50']['llm']:.0f} ms")
    print(f"{os.cpu_count()} CPUs; other processes kept {load.cores:.2f} cores busy meanwhile")
    if "max_probability_difference" in result:
        print(f"zero-shot probabilities: largest difference between dtypes {result['max_probability_difference']}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1), encoding="utf-8")
    if args.publish:
        from hf_rnn.report.performance import publish

        print(f"published: {publish('app_latency', result)}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
