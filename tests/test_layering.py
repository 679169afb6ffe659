"""The app and the report (the comparison, its references, verdict and paired tests, the model cards) ask a task's
kind (``hf_rnn.tasks``) and a model's family and never branch on a kind's, a task's or a family's name: a new kind, task or family then needs no edit there (``tests/test_toy_kind.py``
adds a kind in one module).

The modules are read with ``ast``, nothing imported from them: a comparison (``==``, ``!=``, ``in``, ``not in``)
with such a name as a string constant (alone, or in a tuple, list or set), a ``startswith`` / ``endswith`` of one,
or a dict literal keyed by them (a table that switches on the name) is a branch on the name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hf_rnn.families import FAMILIES
from hf_rnn.tasks import KINDS, TASKS

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "hf_rnn"
# the app and the report (performance.py names the benchmarks' own models, labels in their files, not families)
CHECKED = [p for sub in ("app", "comparison", "report") for p in sorted((PACKAGE_DIR / sub).glob("*.py"))
           if p.name != "performance.py"]
# the built-in kinds', tasks' and families' names (``TASKS`` as the package defines it: its five tasks)
NAMES = frozenset({k.kind for k in KINDS} | set(TASKS) | set(FAMILIES))


def _constants(node: ast.AST) -> list[str]:
    """The string constants ``node`` is, or holds as a tuple, list or set display."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [v for e in node.elts for v in _constants(e)]
    return []


def branches_on_names(source: str, names: frozenset[str] = NAMES) -> list[tuple[int, str]]:
    """``(line, name)`` of each comparison, prefix test or dict-literal key that is one of ``names``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            found += [(node.lineno, v) for o in operands for v in _constants(o) if v in names]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("startswith", "endswith"):
            found += [(node.lineno, v) for a in node.args for v in _constants(a) if v in names]
        elif isinstance(node, ast.Dict):
            found += [(node.lineno, v) for k in node.keys if k is not None for v in _constants(k) if v in names]
    return found


def test_the_names_are_the_built_in_ones():
    assert {"sequence-classification", "forecasting", "sentiment", "timeseries", "rnn", "llm"} <= NAMES


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: p.relative_to(PACKAGE_DIR).as_posix())
def test_no_branch_on_a_kind_task_or_family_name(path):
    found = branches_on_names(path.read_text(encoding="utf-8"))
    assert not found, f"{path.name} branches on names (line, name): {found}; ask the task's kind instead"


@pytest.mark.parametrize("source", [
    'if task.kind == "forecasting": pass',
    'x = kind in ("sequence-classification", "token-classification")',
    'ok = "sentiment" != name',
    'y = family.startswith("llm")',
    'TABLE = {"causal-lm": "AutoModelForCausalLM"}',
])
def test_each_spelling_of_a_branch_is_found(source):
    assert branches_on_names(source)


def test_other_strings_and_attributes_are_no_branch():
    assert not branches_on_names('if cls.app_input == "window" and lm.kind != "causal": x = {"label": 1}')
