"""``hf-rnn compare``: both families on one task, matched budgets, one report."""

from __future__ import annotations

from hf_rnn.tasks.user_data import add_data_arguments


def register(sub) -> None:
    p = sub.add_parser("compare", help="train RNNs and the LLM on one task under a matched budget; write a report",
                       description="Train (or reuse) each model under the same budget, score all on the same "
                                   "test split, and write report.md, report.html, results.json and plots.")
    p.add_argument("--task", default="sentiment", help="task name (default: sentiment)")
    p.add_argument("--models", help="comma-separated recipe model names, e.g. bilstm,gru,smollm2 "
                                    "(default: the task's usual set)")
    p.add_argument("--profile", default="quick", choices=("quick", "full"),
                   help="quick: minutes per model on a laptop CPU; full: the README's numbers")
    p.add_argument("--output-dir", metavar="DIR", help="report folder (default: runs/compare-TASK-PROFILE)")
    p.add_argument("--runs", metavar="DIR", nargs="+", help="compare these finished run folders instead of training")
    p.add_argument("--no-zero-shot", action="store_true", help="leave out the zero-shot LLM reference row")
    p.add_argument("--retrain", action="store_true", help="train again even where a matching run exists")
    p.add_argument("--seeds", default="1", metavar="N",
                   help="train each model N times, training.seed varied; the report gives mean ± sd, the verdict "
                        "pair's test seed by seed and over every seed at once (default 1)")
    p.add_argument("--publish", nargs="?", const="results", metavar="DIR",
                   help="also copy the report files (no weights) into DIR/TASK-PROFILE (default DIR: results)")
    p.add_argument("--train-sizes", metavar="N,N,...", help="compare at each of these numbers of labelled training "
                   "examples (nested random subsets, e.g. 100,300,1000,all) and plot the metric against them")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="recipe overrides for every model")
    add_data_arguments(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import datasets
    from transformers.utils import logging as hf_logging

    from hf_rnn.comparison.compare import compare, compare_runs

    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()  # one "Loading weights" bar per model load would bury the progress lines
    from hf_rnn.errors import ConfigError
    from hf_rnn.tasks.user_data import flag_options

    options = flag_options(args, args.task)
    if args.publish:  # a folder that cannot be written fails now, not after the models have trained
        from hf_rnn.report.results import check_publish_root

        check_publish_root(args.publish)
    if args.runs:
        if args.data or options:
            raise ConfigError("--runs compares finished runs on the data they were trained on: drop --data and "
                              "the task-option flags")
        if args.train_sizes:
            raise ConfigError("--train-sizes trains at each size: it cannot be combined with --runs")
        result = compare_runs(args.runs, args.output_dir or "runs/compare-runs")
    elif args.train_sizes:
        return _run_sizes(args, options)
    else:
        models = [m.strip() for m in args.models.split(",")] if args.models is not None else None
        if models is not None:
            models = [m for m in models if m]
        result = compare(args.task, models, args.profile, args.output_dir, zero_shot=not args.no_zero_shot,
                         reuse=not args.retrain, overrides=args.overrides, seeds=_seeds(args.seeds),
                         data=args.data, **options)
    print(result.table_markdown())
    if args.publish:
        from hf_rnn.report.results import publish

        print(f"published: {publish(result.output_dir, args.publish)}")
    print(f"\nreport: {result.output_dir}/report.md (and report.html, results.json); {result.seconds:.0f} s")
    return 0


def _run_sizes(args, options) -> int:
    """``--train-sizes``: one comparison per size, then the curve (and its publication)."""
    from hf_rnn.comparison.learning_curve import compare_sizes, publish_curve

    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models is not None else None
    curve = compare_sizes(args.task, models, args.train_sizes, args.profile, args.output_dir,
                          overrides=args.overrides, zero_shot=not args.no_zero_shot, reuse=not args.retrain, seeds=_seeds(args.seeds),
                          data=args.data, **options)
    print("\n".join(curve.equivalence))
    if args.publish:
        print(f"published: {publish_curve(curve.output_dir, args.publish)}")
    print(f"\ncurve: {curve.output_dir}/curve.md (and curve.png, curve.json; one comparison per size beside them)")
    return 0


def _seeds(value: str) -> int:
    """``--seeds``' text as a number (the range is checked with the other arguments, by ``compare``)."""
    from hf_rnn.errors import ConfigError

    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"--seeds takes a whole number of runs per model, not {value!r}") from None
