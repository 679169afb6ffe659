"""``pip install .`` (not editable) ships the built-in recipes and accelerate configs, and they are found there.

The wheel is built offline (``--no-index --no-build-isolation``: the build backend named in pyproject.toml,
setuptools, comes from this environment) from a copy of the sources, so the repository's own ``build/`` is not
touched; it is then unpacked into a folder and imported from there, away from the repository.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import hf_rnn
from hf_rnn.training.recipes import ACCELERATE_CONFIG_DIR, CONFIG_DIR, FAMILIES

REPO = Path(__file__).resolve().parents[1]
ACCELERATE_CONFIGS = ("cpu_2proc.yaml", "ddp_multi_gpu.yaml", "fsdp_multi_gpu.yaml")
BUILTIN_TASKS = ("sentiment", "pos", "textgen", "translation", "timeseries")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "hf_rnn", source / "hf_rnn", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                           "-q", "-w", str(out), str(source)], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.glob("hf_rnn-*.whl")
    return built


def test_the_build_backend_is_setuptools_with_the_configs_as_package_data():
    pyproject = (REPO / "pyproject.toml").read_text()  # (tomllib is Python 3.11+; the project runs on 3.10)
    assert 'build-backend = "setuptools.build_meta"' in pyproject
    assert "[tool.setuptools.package-data]" in pyproject and '"configs/*.yaml"' in pyproject


def test_the_wheel_holds_every_recipe_and_accelerate_config(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    recipes = {f"hf_rnn/configs/{task}_{family}.yaml" for task in BUILTIN_TASKS for family in FAMILIES}
    accelerate = {f"hf_rnn/configs/accelerate/{name}" for name in ACCELERATE_CONFIGS}
    assert recipes | accelerate <= names, sorted((recipes | accelerate) - names)
    # and whatever else lies in the package's configs folder
    in_repo = {p.relative_to(REPO).as_posix() for p in (REPO / "hf_rnn" / "configs").rglob("*.yaml")}
    assert in_repo == {n for n in names if n.startswith("hf_rnn/configs/")}
    assert {"hf_rnn/training/recipes.py", "hf_rnn/families/rnn/modeling_rnn.py", "hf_rnn/commands/train.py"} <= names


def test_an_unpacked_wheel_loads_its_recipes_from_itself(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"  # no configs/ nor hf_rnn/ here: the recipes can only come from site
    elsewhere.mkdir()
    code = """
import json, sys
import hf_rnn
from hf_rnn.training.recipes import ACCELERATE_CONFIG_DIR, CONFIG_DIR, load_recipe, recipe_path
recipes = {f"{task}/{model}": load_recipe(task, model).model.name
           for task in sys.argv[1].split(",") for model in ("rnn", "llm")}
print(json.dumps({"package": hf_rnn.__file__, "config_dir": str(CONFIG_DIR), "recipe": str(recipe_path("pos", "rnn")),
                  "accelerate": sorted(p.name for p in ACCELERATE_CONFIG_DIR.glob("*.yaml")), "recipes": recipes}))
"""
    env = {**os.environ, "PYTHONPATH": str(site), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code, ",".join(BUILTIN_TASKS)], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(found["package"]).is_relative_to(site)  # the unpacked copy, not the repository's
    assert Path(found["config_dir"]) == site / "hf_rnn" / "configs"
    assert Path(found["recipe"]) == site / "hf_rnn" / "configs" / "pos_rnn.yaml"
    assert found["accelerate"] == sorted(ACCELERATE_CONFIGS)
    assert len(found["recipes"]) == 2 * len(BUILTIN_TASKS)


def test_recipes_are_found_through_the_package_not_the_repository():
    assert CONFIG_DIR == Path(str(importlib.resources.files("hf_rnn") / "configs"))
    assert CONFIG_DIR.parent == Path(hf_rnn.__file__).resolve().parent
    assert ACCELERATE_CONFIG_DIR == CONFIG_DIR / "accelerate"
    for task in BUILTIN_TASKS:
        for family in FAMILIES:
            assert (CONFIG_DIR / f"{task}_{family}.yaml").is_file()
    for name in ACCELERATE_CONFIGS:
        assert (ACCELERATE_CONFIG_DIR / name).is_file()
    assert not (REPO / "configs").exists()  # one copy, the package's
