"""``hf-rnn fetch``: download, verify and cache the built-in model and task data."""

from __future__ import annotations

import time


def register(sub) -> None:
    p = sub.add_parser("fetch", help="fetch, verify and cache the built-in model and data (offline sources)")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="what to fetch: 'model' and/or task names (default: everything)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--verify", action="store_true",
                   help="recompute the sha256 of every cached file and rebuild what does not match")
    p.set_defaults(func=run)


def run(args) -> int:
    from hf_rnn.assets.cache import home
    from hf_rnn.assets.fetching import cache_report, fetch

    if args.no_progress:
        import datasets

        datasets.disable_progress_bars()
    start = time.perf_counter()
    fetch(args.names or None, progress=not args.no_progress, verify=args.verify)
    print(f"cache: {home()}")
    wanted = set(args.names or [])
    for name, state, path in cache_report():
        if not wanted or name in wanted:
            print(f"  {name:<12} {state:<8} {path}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0
