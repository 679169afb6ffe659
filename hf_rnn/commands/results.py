"""``hf-rnn results``: rewrite the README's results block from the committed ``results/`` folders."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("results", help="regenerate the README's results from results/ (or --check it)",
                       description="Rewrite the README block between the results markers from every "
                                   "results/<task>-<profile>/results.json; --check only compares.")
    p.add_argument("--check", action="store_true", help="exit 2 when the README does not match results/")
    p.add_argument("--results-dir", default="results", metavar="DIR", help="the committed results (default: results)")
    p.add_argument("--readme", default="README.md", metavar="FILE", help="the README to update (default: README.md)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..results import update_readme

    changed = update_readme(args.readme, args.results_dir, check=args.check)
    if args.check:
        print(f"{args.readme} matches {args.results_dir}/")
    else:
        print(f"{args.readme}: results block {'rewritten' if changed else 'already up to date'}")
    return 0
