"""The app under load: 10 gradio_client clients at once, 60 requests, no errors; p50/p95 latency reported.

The models are the app's real pair for sentiment: the built-in SmolLM2-135M-Instruct zero-shot and a BiLSTM
with additive attention of the recipe's sizes (untrained: the same work per request as a trained one). Each
client has its own session; requests for one model take turns on its lock, the two models run side by side.
"""

from __future__ import annotations

import os
import statistics
import threading
import time

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from hf_rnn.app.service import LECTURE_EXAMPLES, ZERO_SHOT, AppService  # noqa: E402
from hf_rnn.app.testing import make_tiny_run, serve  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting'"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

CLIENTS = 10
ROUNDS = 6  # per client: 4 comparisons, 1 attention view, 1 model list


def percentile(values, q):
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@pytest.fixture(scope="module")
def served(tmp_path_factory, tokenizer):
    import torch

    runs = tmp_path_factory.mktemp("load") / "runs"
    make_tiny_run(runs, "sentiment-bilstm-attention", "sentiment", "bilstm", ["model.attention=additive"],
                  tokenizer, tiny=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as `hf-rnn app` runs: one thread per request
    service = AppService(runs)
    service.warm_up("sentiment")
    try:
        with serve(service) as url:
            yield url, service
    finally:
        torch.set_num_threads(threads)
        service.close()


def test_ten_concurrent_clients(served, capsys):
    from gradio_client import Client

    url, service = served
    loads_before = service.cache.loads
    model_a = "run:sentiment-bilstm-attention"
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start_line = threading.Barrier(CLIENTS)

    def user(k: int) -> None:
        try:
            client = Client(url, verbose=False, analytics_enabled=False)
            start_line.wait(timeout=120)
            for i in range(ROUNDS):
                t0 = time.perf_counter()
                if i == 4:
                    heat_a, heat_b = client.predict("mean", "mean", str(k % 30), "mean", False,
                                                    api_name="/sentiment_attention")
                    ok = "<table>" in heat_a and f"layer {k % 30}" in heat_b
                elif i == 5:
                    listed = client.predict(model_a, ZERO_SHOT, api_name="/sentiment_models")
                    ok = listed[0]["value"] == model_a
                else:
                    text = LECTURE_EXAMPLES[(k + i) % len(LECTURE_EXAMPLES)]
                    out = client.predict(text, model_a, ZERO_SHOT, api_name="/sentiment")
                    ok = (out[0]["value"]["label"] in ("negative", "positive")
                          and out[1]["value"]["label"] in ("negative", "positive")
                          and "<table>" in out[2] and "<table>" in out[3] and "⚠️" not in out[8])
                    with lock:
                        latencies.append(time.perf_counter() - t0)
                if not ok:
                    with lock:
                        errors.append(f"client {k} request {i}: incomplete answer")
        except Exception as e:  # every failure is reported, none is raised in a thread
            with lock:
                errors.append(f"client {k}: {type(e).__name__}: {e}")

    began = time.perf_counter()
    users = [threading.Thread(target=user, args=(k,)) for k in range(CLIENTS)]
    for t in users:
        t.start()
    for t in users:
        t.join(timeout=170)
    seconds = time.perf_counter() - began

    assert not any(t.is_alive() for t in users), "some clients did not finish in time"
    assert not errors, errors[:5]
    assert len(latencies) == CLIENTS * 4
    assert service.cache.loads == loads_before  # both models were loaded once, at warm-up
    ms = [1000 * x for x in latencies]
    with capsys.disabled():
        print(f"\n[app load] {CLIENTS} clients x {ROUNDS} requests = {CLIENTS * ROUNDS} in {seconds:.1f} s, no errors; "
              f"/sentiment (BiLSTM+attention and SmolLM2 zero-shot, both maps) under load: "
              f"p50 {percentile(ms, 0.5):.0f} ms, p95 {percentile(ms, 0.95):.0f} ms, "
              f"mean {statistics.mean(ms):.0f} ms; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
