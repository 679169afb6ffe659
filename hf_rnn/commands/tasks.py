"""``hf-rnn tasks``: the lecture's tasks with their real sizes, labels and metrics."""

from __future__ import annotations

import json

from hf_rnn.tasks.user_data import add_data_arguments


def register(sub) -> None:
    p = sub.add_parser("tasks", help="list the tasks with their sizes, label sets and metrics")
    p.add_argument("--source", help="the same as --data (its older name)")
    p.add_argument("--task", help="only this task")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_data_arguments(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import datasets

    from hf_rnn.errors import DataError
    from hf_rnn.tasks import TASKS, load_task
    from hf_rnn.tasks.user_data import data_overrides, flag_options

    datasets.disable_progress_bars()
    if args.source and args.data and args.source != args.data:
        raise DataError(f"--source {args.source} and --data {args.data} name two sources: keep one")
    source = args.data or args.source
    options = flag_options(args, args.task)
    if (source or options) and not args.task:
        raise DataError(f"{'--data' if source else 'a task option'} needs --task NAME")
    if args.task:
        data_overrides(args.task, source, options)  # the same checks as compare and train
    names = [args.task] if args.task else list(TASKS)
    rows = [load_task(n, source, **options).summary() for n in names]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        sizes = " / ".join(f"{r['sizes'][s]:,}" for s in ("train", "validation", "test"))
        sizes += f" (total {sum(r['sizes'].values()):,})"
        print(f"{r['task']:<12} {r['kind']}")
        print(f"  {r['description']}")
        print(f"  examples (train / validation / test): {sizes}")
        if "windows" in r:
            w = r["windows"]
            print(f"  series {r['series']}: windows {w['train']} / {w['validation']} / {w['test']}")
        if r["labels"]:
            print(f"  labels ({len(r['labels'])}): {', '.join(r['labels'])}")
        print(f"  metrics: {', '.join(r['metrics'])} (model selection on {r['primary_metric']})")
        print(f"  source: {r['source']}")
    return 0
