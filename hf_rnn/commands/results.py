"""``hf-rnn results``: rewrite the generated blocks (the verdict, the results, performance) of the README and the
``docs/`` pages from the committed ``results/`` folders."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("results", help="regenerate the README's and docs' results from results/ (or --check them)",
                       description="Rewrite the blocks between the verdict, results and performance markers of "
                                   "the README and docs/*.md from every results/<task>-<profile>/results.json and "
                                   "results/performance/; --check only compares.")
    p.add_argument("--check", action="store_true", help="exit 2 when the README does not match results/")
    p.add_argument("--results-dir", default="results", metavar="DIR", help="the committed results (default: results)")
    p.add_argument("--readme", default="README.md", metavar="FILE", help="the README to update (default: README.md)")
    p.add_argument("--docs", metavar="DIR", help="the documentation pages to update (default: docs/ beside the README)")
    p.set_defaults(func=run)


def run(args) -> int:
    from hf_rnn.report.results import update_readme

    changed = update_readme(args.readme, args.results_dir, check=args.check, docs=args.docs)
    if args.check:
        print(f"{args.readme} and the docs match {args.results_dir}/")
    else:
        print(f"{args.readme} and the docs: generated blocks {'rewritten' if changed else 'already up to date'}")
    return 0
