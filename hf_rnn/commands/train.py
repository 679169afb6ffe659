"""``hf-rnn train``: train one model on one task from a YAML recipe, with the Accelerate loop.

The command line over ``hf_rnn.train_recipe`` (``hf_rnn.training.recipe_training``): it resolves the recipe its options
name (``--task``/``--model``, ``--config``, the run's own ``config.yaml`` with ``--resume``), and prints a summary.

    hf-rnn train --task sentiment --model bilstm training.max_steps=200
    hf-rnn train --config my_recipe.yaml --output-dir runs/x
    hf-rnn train --output-dir runs/x --resume            # after a crash or kill -9
    accelerate launch --num_processes 2 -m hf_rnn.cli train --task pos --model bilstm

The training children of ``compare`` and the app read this same command line: ``python -m hf_rnn.training.recipe_training
ARGS`` is ``hf-rnn train ARGS`` in a process that ends with its parent.
"""

from __future__ import annotations

import argparse
import json
import sys

from hf_rnn.tasks.user_data import add_data_arguments

EPILOG = """\
models: rnn (the task's recipe RNN), lstm, bilstm, gru, bigru, simplernn, bisimplernn,
        llm / smollm2 (the built-in SmolLM2-135M-Instruct), or an LLM Hub id / folder.
overrides: section.key=value, e.g. training.max_steps=100 model.hidden_size=64
           task.max_train_examples=500 training.mixed_precision=bf16 (YAML values).
recipes: hf_rnn/configs/<task>_<rnn|llm>.yaml; --print-config shows the resolved one.
"""


class _TrainParser(argparse.ArgumentParser):
    """Lets ``key=value`` overrides come before, between or after the options.

    (argparse fills a ``nargs="*"`` positional once, so ``a=1 --resume b=2`` would reject ``b=2``.)
    """

    def parse_known_args(self, args=None, namespace=None):
        args = list(sys.argv[1:] if args is None else args)
        takes_value = {o for a in self._actions if a.option_strings and a.nargs is None for o in a.option_strings}
        options, overrides, i = [], [], 0
        while i < len(args):
            if args[i] in takes_value and i + 1 < len(args):
                options += args[i:i + 2]
                i += 2
                continue
            (overrides if "=" in args[i] and not args[i].startswith("-") else options).append(args[i])
            i += 1
        return super().parse_known_args(options + overrides, namespace)


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model on a task (one Accelerate loop for RNNs and LLMs)",
                       description="Train a model on a task from a YAML recipe (see hf_rnn/configs/).", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.__class__ = _TrainParser
    p.add_argument("--task", help="task name (sentiment, pos, textgen, translation, timeseries)")
    p.add_argument("--model", help="recipe model name, or an LLM Hub id / folder")
    p.add_argument("--config", metavar="FILE.yaml", help="a recipe file: the single source of truth of the run")
    p.add_argument("--output-dir", metavar="DIR", help="the run folder (default: the recipe's output_dir)")
    p.add_argument("--resume", action="store_true", help="continue the run in --output-dir from its last checkpoint")
    p.add_argument("--overwrite", action="store_true",
                   help="start again in a folder that holds a run, or write the run into a folder that holds other "
                        "files (those of a run's names are replaced, the rest kept)")
    p.add_argument("--print-config", action="store_true", help="print the resolved recipe and exit")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="recipe overrides (section.key=value)")
    add_data_arguments(p)
    p.set_defaults(func=run)


def run(args) -> int:
    """Resolve the recipe the options name, then ``hf_rnn.train_recipe`` it and print the run's summary."""
    from pathlib import Path

    from hf_rnn.errors import ConfigError
    from hf_rnn.tasks.user_data import data_overrides, flag_options
    from hf_rnn.training.recipe_training import default_output_dir, train_recipe
    from hf_rnn.training.recipes import dump_yaml, load_recipe

    saved = None
    if args.resume:
        if not args.output_dir:
            raise ConfigError("--resume needs --output-dir (the run folder to continue)")
        saved_path = Path(args.output_dir).expanduser() / "config.yaml"
        saved = saved_path if saved_path.exists() else None  # a resumed run keeps the recipe it started with
    overrides = list(args.overrides)
    options = flag_options(args, args.task)
    if args.data is not None or options:
        if args.resume:
            raise ConfigError("--resume continues a run on the data it started with: drop --data and the "
                              "task-option flags")
        task = args.task or load_recipe(args.task, args.model, args.config, overrides).task.name
        overrides = [*data_overrides(task, args.data, options, overrides), *overrides]
    recipe = load_recipe(args.task, args.model, args.config, overrides, saved=saved)
    if saved is not None or args.config is not None:
        _check_same_model(recipe, args.model)
    output_dir = args.output_dir or default_output_dir(recipe)
    if args.print_config:
        recipe.output_dir = str(output_dir)
        print(dump_yaml(recipe.to_dict()), end="")
        return 0
    run = train_recipe(recipe, output_dir, resume=args.resume, overwrite=args.overwrite)
    from accelerate import PartialState  # set up by train(): the process group of this launch

    if PartialState().is_main_process:
        _print_summary(run)
    return 0


def _print_summary(run) -> None:
    """Where the run is, its test metrics, and how training went, in three lines."""
    tr = run.metrics.training
    print(f"run folder: {run.path.resolve()}")
    print("test: " + json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in run.metrics.test.items()}))
    print(f"{tr.steps} steps in {tr.train_seconds:.1f} s of training, {tr.tokens_per_second:,.0f} tokens/s, "
          f"{100 * tr.padding_share:.1f}% padding, stopped by {tr.stopped_because}")


def _check_same_model(recipe, model: str | None) -> None:
    """With --config or --resume the recipe file rules; a --model that names another model is a mistake."""
    from hf_rnn.errors import ConfigError
    from hf_rnn.families import family_named

    same = family_named(recipe.model.family).recipe_aliases(recipe.model)
    if model and model.lower() not in same:
        raise ConfigError(f"--model {model} does not match the recipe's model {recipe.model.name!r}; "
                          "drop --model or change model.name in the recipe")
