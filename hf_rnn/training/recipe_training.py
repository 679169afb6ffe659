"""Training from a recipe: ``train_recipe``, the one way a recipe becomes a trained run folder.

``train_recipe(recipe, output_dir)`` loads the recipe's task (and its subsets), builds the tokenizer and the
model through the recipe's family, calls ``hf_rnn.training.loop.train`` and returns the ``hf_rnn.runs.run.Run`` it
wrote. ``hf-rnn train`` is a command line over it; the comparison and the app's "train a quick one" run it in
a child process of their own (its peak memory is its own, and a crash does not take them down) through this
module's entry::

    python -m hf_rnn.training.recipe_training --config RECIPE.yaml --output-dir DIR [--resume | --overwrite] [KEY=VALUE ...]

It is ``hf-rnn train`` (``hf_rnn.cli``: the same parser, options and output; its errors are one line
``hf-rnn train: error: ...`` and exit status 2) in a process that ends with its parent
(``hf_rnn.training.child_process.watch_parent``).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hf_rnn.errors import ConfigError
from hf_rnn.runs.run import Run
from hf_rnn.training.recipes import Recipe, apply_overrides, build_recipe, load_recipe

__all__ = ["default_output_dir", "resolve_recipe", "train_recipe"]

RecipeLike = Recipe | Mapping[str, Any] | str | os.PathLike


def resolve_recipe(recipe: RecipeLike | None, overrides: Sequence[str] = (), *,
                   output_dir: str | os.PathLike | None = None, resume: bool = False) -> Recipe:
    """The checked ``Recipe`` of ``recipe``: a ``Recipe``, a recipe mapping or a YAML file, then ``overrides``.

    ``None`` continues a run: with ``resume`` the recipe is the one ``output_dir`` was started with (its
    ``config.yaml``). A ``Recipe`` passed without overrides is used as it is (never modified).
    """
    if recipe is None:
        saved = Path(output_dir).expanduser() / "config.yaml" if resume and output_dir is not None else None
        if saved is None or not saved.exists():
            raise ConfigError("say what to train: a recipe (a Recipe, a mapping or a YAML file), or resume=True "
                              "with an output_dir that holds a run's config.yaml")
        return load_recipe(overrides=list(overrides), saved=saved)
    if isinstance(recipe, Recipe):
        return build_recipe(apply_overrides(recipe.to_dict(), list(overrides))) if overrides else recipe
    if isinstance(recipe, Mapping):
        return build_recipe(apply_overrides(dict(recipe), list(overrides)))
    return load_recipe(config=recipe, overrides=list(overrides))


def default_output_dir(recipe: Recipe) -> str:
    """Where a run of ``recipe`` goes when no folder is given: its ``output_dir``, else ``runs/<task>-<model>``."""
    return recipe.output_dir or f"runs/{recipe.task.name}-{recipe.model.name}"


def train_recipe(recipe: RecipeLike | None, output_dir: str | os.PathLike | None = None,
                 overrides: Sequence[str] = (), *, resume: bool = False, overwrite: bool = False,
                 data: str | os.PathLike | None = None, **task_options: Any) -> Run:
    """Train the model of a recipe on its task and write the run folder; return the finished ``Run``.

    Args:
        recipe: a ``Recipe`` (``hf_rnn.training.recipes.load_recipe``), a recipe mapping or a YAML file (the built-in
            ones: ``hf_rnn/configs/<task>_<rnn|llm>.yaml``); ``None`` with ``resume``: the run's own recipe.
        output_dir: the run folder (default: the recipe's ``output_dir``, else ``runs/<task>-<model>``).
        overrides: ``section.key=value`` changes to the recipe, as on the command line.
        resume: continue the run in ``output_dir`` from its last checkpoint (the newest intact one). The recipe may
            differ from the run's ``config.yaml`` only in ``hf_rnn.training.resume_rules.RESUMABLE_KEYS`` (the budget,
            cadence, patience, runtime knobs); any other change is one ``ConfigError`` and changes nothing.
        overwrite: start again in a folder that holds a run (or holds other files: those of a
            run's names are replaced, the rest kept; never the asset cache).
        data: your own data, a local file or a Hub dataset id, instead of the recipe's (``hf-rnn train --data``).
        **task_options: how to read it: the task's ``load_task`` options (``text_column="review"``...).

    The folder is checked before anything is loaded, so a wrong folder fails in a second, not after the data
    and model are built. Run under ``accelerate launch``, every process calls it and trains its share.
    ``run.metrics`` is the typed ``metrics.json`` (``hf_rnn.runs.schema.RunMetrics``).
    """
    from hf_rnn.arguments import instance_argument, list_argument, path_argument

    instance_argument(recipe, (Recipe, Mapping, str, os.PathLike), "train_recipe: recipe",
                      "a Recipe, a mapping or a YAML file's path", optional=True)
    path_argument(output_dir, "train_recipe: output_dir", optional=True)
    overrides = list_argument(overrides, "train_recipe: overrides", "key=value overrides")
    if data is not None or task_options:
        if resume:
            raise ConfigError("resume=True continues a run on the data it started with: drop data= and the task "
                              "options")
        from hf_rnn.tasks import get_task_class
        from hf_rnn.tasks.user_data import data_overrides, unknown_keyword

        name = resolve_recipe(recipe, overrides).task.name
        for key in task_options:
            unknown_keyword("train_recipe", train_recipe, get_task_class(name), key)
        overrides = [*data_overrides(name, data, task_options, overrides), *overrides]
    recipe = resolve_recipe(recipe, overrides, output_dir=output_dir, resume=resume)
    output_dir = str(output_dir or default_output_dir(recipe))
    recipe = dataclasses.replace(recipe, output_dir=output_dir)  # config.yaml records where the run is

    from hf_rnn.runs.folder import check_output_dir
    from hf_rnn.training.resume_rules import check_resume

    check_output_dir(output_dir, resume=resume, overwrite=overwrite)  # fail before loading anything
    if resume:  # a change the checkpoint cannot take (model.hidden_size...) fails here, config.yaml untouched
        check_resume(output_dir, recipe.to_dict())
    task, tokenizer, model = _build(recipe)

    from hf_rnn.training.loop import train

    metrics = train(model, task, recipe.training, tokenizer, output_dir, resume=resume, overwrite=overwrite,
                    recipe=recipe.to_dict())
    return Run(Path(output_dir).expanduser(), metrics)


def _build(recipe: Recipe):
    """``(task, tokenizer, model)`` of a recipe: the task and its subsets, then the family's tokenizer and model.

    The seed is set before the model is built, so an RNN starts from the same weights on every run.
    """
    from accelerate.utils import set_seed

    from hf_rnn.families import build_model, build_tokenizer
    from hf_rnn.tasks import load_task

    t = recipe.task
    task = load_task(t.name, t.source, **t.options)
    sizes = {"train": t.max_train_examples, "validation": t.max_validation_examples, "test": t.max_test_examples}
    if any(sizes.values()):
        task = task.subset({k: v for k, v in sizes.items() if v})
    set_seed(recipe.training.seed)  # the RNN's initial weights
    tokenizer = build_tokenizer(task, recipe.model, recipe.tokenizer)
    model, tokenizer = build_model(task, recipe.model, tokenizer)
    return task, tokenizer, model


# =========================================================================== the child-process entry


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hf_rnn.training.recipe_training ARGS``: ``hf-rnn train ARGS`` in a process of its own.

    Started by a comparison or the app (``hf_rnn.training.child_process.start``), it ends when they do, however they
    end (``watch_parent``); its run stays resumable from the last checkpoint."""
    from hf_rnn.cli import main as cli_main
    from hf_rnn.training.child_process import watch_parent

    watch_parent()  # first: a parent killed while this one loads the data must not leave it training
    return cli_main(["train", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
