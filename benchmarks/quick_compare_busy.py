"""The quick comparison's wall time on a machine that is busy with something else.

Runs ``hf-rnn compare --task sentiment --profile quick`` in a fresh folder (nothing reused: every model
trains, the zero-shot row is scored) while one low-priority process (``nice 19``) keeps one core busy, as a
user's machine with a build or a browser running would; ``--background none`` starts none (for a machine that
is busy already). Either way the other processes' work during the run is measured and reported. Prints the wall time against the goal (600 s on a
2-core machine), each model's optimizer steps and score, and which latencies the report flagged as measured
on a busy machine.

    python benchmarks/quick_compare_busy.py                  # ~10-15 min on 2 CPU cores
    python benchmarks/quick_compare_busy.py --background none --publish
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hf_rnn.cpu_load import OtherLoad

GOAL_SECONDS = 600.0
SPIN = "while True:\n    pass\n"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", default="sentiment")
    p.add_argument("--profile", default="quick", choices=("quick", "full"))
    p.add_argument("--background", choices=("spin", "none"), default="spin",
                   help="spin: one nice-19 process busy on one core for the whole comparison (default); none: quiet")
    p.add_argument("--background-note", metavar="TEXT",
                   help="with --background none: what else runs on the machine (e.g. another job at nice 19), "
                        "for the printed and published line")
    p.add_argument("--keep", type=Path, help="keep the comparison folder here instead of a temporary one")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--publish", action="store_true",
                   help="also write results/performance/quick_compare.json (the README's performance block)")
    return p.parse_args(argv)


def start_background(kind: str) -> int | None:
    """The process id of one low-priority busy process, or ``None``.

    It is started detached (through a shell that exits), so it is not this process's child: the load measured
    over the comparison (``cpu_load.OtherLoad``, which leaves out this process and its children, and counts
    niced work like any other) includes it.
    """
    if kind == "none":
        return None
    shell = f"nohup nice -n 19 {sys.executable} -c {SPIN!r} >/dev/null 2>&1 & echo $!"
    return int(subprocess.check_output(["sh", "-c", shell], text=True).strip())


def stop_background(pid: int | None) -> None:
    if pid is not None:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def main(argv=None) -> dict:
    args = parse_args(argv)
    compare = ["hf-rnn", "compare", "--task", args.task, "--profile", args.profile]
    with tempfile.TemporaryDirectory(prefix="quick_compare-") as tmp:
        out = args.keep or Path(tmp) / "compare"
        background = start_background(args.background)
        started = time.perf_counter()
        try:
            cmd = [sys.executable, "-m", "hf_rnn.cli", *compare[1:], "--output-dir", str(out)]
            with OtherLoad() as load:
                returncode = subprocess.call(cmd)
        finally:
            seconds = time.perf_counter() - started
            stop_background(background)
        if returncode != 0:
            raise SystemExit(f"the comparison failed (exit {returncode})")
        doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    metric = doc["primary_metric"]
    rows = [{"name": r["name"], "metric": r["metrics"].get(metric), "steps": r.get("steps"),
             "latency_ms_p50": r.get("latency_ms_p50"), "latency_other_load": r.get("latency_other_load")}
            for r in doc["rows"] if r["family"] != "reference"]
    background_words = ("one nice-19 Python process spun on a core" if args.background == "spin"
                        else args.background_note or "no process of this benchmark's ran beside it")
    background_words += f" (other processes' work during the run, measured: {load.cores:.2f} cores on average)"
    numbers = {"compare": " ".join(compare), "background": background_words, "seconds": round(seconds, 1),
               "other_cores": round(load.cores, 2),
               "goal_seconds": GOAL_SECONDS, "primary_metric": metric, "rows": rows,
               "hardware": doc.get("hardware", {})}
    print(f"\n{' '.join(compare)} with {background_words}: {seconds:,.0f} s "
          f"[goal <= {GOAL_SECONDS:.0f} s: {'met' if seconds <= GOAL_SECONDS else 'not met'}]")
    for r in rows:
        busy = " (busy machine)" if (r["latency_other_load"] or 0) >= 0.25 else ""
        print(f"  {r['name']}: {metric} {r['metric']:.4f}, {r['steps'] or 'no'} steps, latency p50 "
              f"{r['latency_ms_p50']} ms{busy}")
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=2))
    if args.publish:
        from hf_rnn.performance import publish

        print(f"published: {publish('quick_compare', numbers)}")
    return numbers


if __name__ == "__main__":
    main()
