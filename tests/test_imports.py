"""The ``hf_rnn`` package has no import cycles, lazy imports included.

The import graph is built from the source with ``ast``, without importing anything: every ``import`` and
``from ... import`` anywhere in a module counts, at module level or inside a function, a class or an
``if TYPE_CHECKING:`` block. An import inside a function is still a dependency: a cycle through one is a cycle
that only happens to work because of when the function runs.

Edges:

* ``import a.b.c`` and ``from a.b.c import name`` are edges to ``a.b.c``; ``from a.b import name`` is an edge
  to the module ``a.b.name`` when there is one, else to ``a.b`` (the name is an attribute of the package).
  Relative imports are resolved against the importing module's package.
* Importing ``a.b.c`` also executes the packages ``a`` and ``a.b`` (their ``__init__``), so it is an edge to
  them as well, except to the importing module's own enclosing packages. Python has already imported those
  before the module itself, so ``pkg/__init__.py`` importing ``pkg/sub.py`` while ``pkg/sub.py`` imports
  ``pkg.other`` is not a cycle: a subpackage's ``__init__`` re-exporting its submodules is fine.
* An explicit import of a name from an enclosing package (``from . import name`` in ``pkg/sub.py``, where
  ``name`` is not a module) is an edge to that package's ``__init__``: if that ``__init__`` imports
  ``pkg/sub.py`` in turn, it is a real cycle (it works only while ``name`` is defined before the import).

Imports by string count too, where the string is written out:

* ``importlib.import_module("hf_rnn.x")`` (or ``import_module(".x", __package__)``) with a literal name, anywhere
  (``hf_rnn._auto``'s post-import hook);
* a module's lazy ``__getattr__`` look-ups: in a module that defines a module-level ``__getattr__``, every string
  constant that names one of the package's modules (``hf_rnn``'s ``_EXPORTS`` table of lazy public names) is an
  edge, as an import statement inside that ``__getattr__`` is.

A name built at run time (``hf_rnn.cli``'s ``f".commands.{name}"``, the plug-in modules named in an environment
variable) cannot be read from the source and is not in the graph.

``ALLOWED_CYCLES`` lists the cycles the package keeps on purpose, each with its reason; it is empty.
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

import pytest

PACKAGE = "hf_rnn"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / PACKAGE


def discover_modules(package_dir: Path, package: str) -> dict[str, Path]:
    """Every module of the package, by dotted name (a package by its own name, for its ``__init__.py``)."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join([package, *parts])] = path
    return modules


def is_package(module: str, modules: dict[str, Path]) -> bool:
    return modules[module].name == "__init__.py"


def _absolute(name: str, own_package: str) -> str:
    """A module name as ``importlib.import_module(name, own_package)`` resolves it."""
    if not name.startswith("."):
        return name
    level = len(name) - len(name.lstrip("."))
    base_parts = own_package.split(".")
    if level > 1:
        base_parts = base_parts[: -(level - 1)]
    rest = name[level:]
    return ".".join([*base_parts, rest] if rest else base_parts)


def _is_import_module_call(node: ast.AST) -> bool:
    """``importlib.import_module(...)`` or ``import_module(...)``."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id == "import_module")


def _docstrings(tree: ast.Module) -> set[int]:
    """``id()`` of every docstring's constant node (a docstring names modules in prose, not as look-ups)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def string_imports(module: str, tree: ast.Module, modules: dict[str, Path]) -> set[str]:
    """The modules ``tree`` imports by a string written in its source: a literal ``import_module`` argument
    anywhere, and, in a module with a module-level ``__getattr__``, any string constant naming a module."""
    own_package = module if is_package(module, modules) else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(tree):
        if _is_import_module_call(node) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(_absolute(first.value, own_package))
    if any(isinstance(node, ast.FunctionDef) and node.name == "__getattr__" for node in tree.body):
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                    and node.value in modules):
                names.add(node.value)
    return names


def imported_names(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules an import statement anywhere in ``path`` names explicitly (resolved, absolute), and those it
    imports by a literal string (``string_imports``)."""
    own_package = module if is_package(module, modules) else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = string_imports(module, tree, modules)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = own_package.split(".")
                if node.level > 1:
                    base_parts = base_parts[: -(node.level - 1)]
                base = ".".join([*base_parts, node.module] if node.module else base_parts)
            else:
                base = node.module
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                names.add(submodule if submodule in modules else base)
    return names


def build_graph(package_dir: Path = PACKAGE_DIR, package: str = PACKAGE) -> dict[str, set[str]]:
    """module -> the package's modules it imports (see the module docstring for the edges)."""
    modules = discover_modules(package_dir, package)
    graph = {}
    for module, path in modules.items():
        parts = module.split(".")
        own_ancestors = {".".join(parts[:i]) for i in range(1, len(parts))}
        edges = set()
        for name in imported_names(module, path, modules):
            if name != package and not name.startswith(package + "."):
                continue
            target = name.split(".")
            for i in range(1, len(target)):  # the enclosing packages the import executes first
                ancestor = ".".join(target[:i])
                if ancestor not in own_ancestors and ancestor in modules:
                    edges.add(ancestor)
            if name in modules:
                edges.add(name)
        edges.discard(module)
        graph[module] = edges
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(start: str) -> None:
        # iterative DFS: (node, iterator over its successors)
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph[succ]))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in graph[node]:
                        components.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return components


def shortest_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest cycle through the component's first module: [m, ..., m]."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for succ in sorted(graph[node] & members):
            if succ == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [start, *reversed(path[:-1]), start] if node != start else [start, start]
            if succ not in previous:
                previous[succ] = node
                queue.append(succ)
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover - a component always has one


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    return [shortest_cycle(graph, component) for component in strongly_connected(graph)]


# --- the package itself ---------------------------------------------------------------------------------


# cycles kept on purpose: (the modules of the cycle, sorted) -> why it cannot be broken. Empty: none is.
ALLOWED_CYCLES: dict[tuple[str, ...], str] = {}


def test_hf_rnn_has_no_import_cycles():
    graph = build_graph()
    assert len(graph) > 40 and "hf_rnn.families.rnn.modeling_rnn" in graph  # the whole package was read
    cycles = [c for c in find_cycles(graph) if tuple(sorted(set(c))) not in ALLOWED_CYCLES]
    assert not cycles, "import cycles in hf_rnn (lazy imports and __getattr__ look-ups included):\n" + "\n".join(
        "  " + " -> ".join(cycle) for cycle in cycles)


def test_graph_sees_function_level_relative_and_string_imports():
    graph = build_graph()
    # hf_rnn/_auto.py imports hf_rnn.models by a literal string (its post-import hook)
    assert "hf_rnn.models" in graph["hf_rnn._auto"]
    # hf_rnn's lazy exports (its __getattr__'s table of module names) are edges
    assert {"hf_rnn.families", "hf_rnn.comparison.compare", "hf_rnn.runs.run"} <= graph["hf_rnn"]
    # models/__init__ re-exports the family packages' models
    assert {"hf_rnn.families.rnn.modeling_rnn", "hf_rnn.families.rnn.loading_rnn"} <= graph["hf_rnn.models"]
    # hf_rnn.app's lazy __getattr__ imports its service inside a function, ``from . import service``
    assert {"hf_rnn.app.service", "hf_rnn.app.ui"} <= graph["hf_rnn.app"]


def test_the_layers_depend_one_way():
    """tasks know no family and no model; the families know no caller (models, attention's callers, the app)."""
    graph = build_graph()

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for succ in graph[todo.pop()] - seen:
                seen.add(succ)
                todo.append(succ)
        return seen

    tasks = reach("hf_rnn.tasks")
    assert not {m for m in tasks if m.startswith(("hf_rnn.families", "hf_rnn.models"))}, sorted(tasks)
    families = reach("hf_rnn.families")
    callers = ("hf_rnn.models", "hf_rnn.app", "hf_rnn.training.recipes", "hf_rnn.training.loop", "hf_rnn.comparison.compare",
               "hf_rnn.report.cards", "hf_rnn.runs.run")
    assert not {m for m in families if m.startswith(callers)}, sorted(families)


# --- the graph builder, on small packages written here ------------------------------------------------------


def write_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    package_dir = write_package(tmp_path, {
        "__init__.py": "",
        "a.py": "from .b import B\nA = 1\n",
        "b.py": "B = 2\ndef f():\n    from .a import A\n    return A\n",
        "c.py": "from . import a\n",
    })
    graph = build_graph(package_dir, "pkg")
    assert graph["pkg.c"] == {"pkg.a"}  # ``from . import a``: the module pkg.a
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.a"]]


def test_relative_imports_and_from_package_import_name(tmp_path):
    package_dir = write_package(tmp_path, {
        "__init__.py": "",
        "top.py": "X = 1\n",
        "sub/__init__.py": "from .inner import Y\n",
        "sub/inner.py": "from ..top import X\nY = X\n",
        "sub/deep/__init__.py": "",
        "sub/deep/leaf.py": "from ... import top\nfrom ...sub import Y\nimport pkg.top\nimport os\n",
        "user.py": "from pkg.sub.deep.leaf import top\n",
    })
    graph = build_graph(package_dir, "pkg")
    assert graph["pkg.sub"] == {"pkg.sub.inner"}
    assert graph["pkg.sub.inner"] == {"pkg.top"}
    # ``from ...sub import Y``: Y is no module, so an edge to the package pkg.sub, named explicitly although it
    # encloses leaf; ``import pkg.top`` adds no edge to pkg, which encloses leaf
    assert graph["pkg.sub.deep.leaf"] == {"pkg.top", "pkg.sub"}
    # importing pkg.sub.deep.leaf executes pkg.sub and pkg.sub.deep first
    assert graph["pkg.user"] == {"pkg.sub", "pkg.sub.deep", "pkg.sub.deep.leaf"}
    assert find_cycles(graph) == []


def test_a_submodule_importing_a_name_from_its_own_package_init_that_imports_it_is_a_cycle(tmp_path):
    package_dir = write_package(tmp_path, {
        "__init__.py": "",
        "sub/__init__.py": "HELPER = 1\nfrom .leaf import L\n",
        "sub/leaf.py": "def f():\n    from . import HELPER\n    return HELPER\nL = 2\n",
    })
    assert find_cycles(build_graph(package_dir, "pkg")) == [["pkg.sub", "pkg.sub.leaf", "pkg.sub"]]


def test_an_init_reexporting_its_submodules_is_no_cycle(tmp_path):
    package_dir = write_package(tmp_path, {
        "__init__.py": "",
        "errors.py": "class E(Exception): pass\n",
        "sub/__init__.py": "from .one import f\nfrom .two import g\n",
        "sub/one.py": "from .two import g\nfrom ..errors import E\ndef f(): return g()\n",
        "sub/two.py": "import pkg.errors\ndef g(): return 1\n",
    })
    graph = build_graph(package_dir, "pkg")
    assert graph["pkg.sub.one"] == {"pkg.sub.two", "pkg.errors"}
    assert graph["pkg.sub.two"] == {"pkg.errors"}
    assert find_cycles(graph) == []


def test_importing_a_submodule_runs_its_package_init(tmp_path):
    # low imports pkg.sub.leaf, which first executes pkg/sub/__init__.py, which imports mid, which imports low
    package_dir = write_package(tmp_path, {
        "__init__.py": "",
        "low.py": "def f():\n    from .sub.leaf import L\n    return L\n",
        "sub/__init__.py": "from .mid import M\n",
        "sub/mid.py": "from ..low import f\nM = 1\n",
        "sub/leaf.py": "L = 1\n",
    })
    cycles = find_cycles(build_graph(package_dir, "pkg"))
    assert cycles == [["pkg.low", "pkg.sub", "pkg.sub.mid", "pkg.low"]]


@pytest.mark.parametrize("statement", ["import pkg.a", "from pkg import a", "from . import a",
                                       "from .a import x"])
def test_every_spelling_of_an_import_is_an_edge(tmp_path, statement):
    package_dir = write_package(tmp_path, {"__init__.py": "", "a.py": "x = 1\nimport pkg.b\n",
                                           "b.py": f"class C:\n    def m(self):\n        {statement}\n"})
    assert find_cycles(build_graph(package_dir, "pkg")) == [["pkg.a", "pkg.b", "pkg.a"]]


def test_lazy_getattr_look_ups_and_import_module_literals_are_edges(tmp_path):
    # a lazy ``__getattr__`` look-up by a table of module names, and ``import_module`` with a literal name
    package_dir = write_package(tmp_path, {
        "__init__.py": "",
        "a.py": ("import importlib\n_EXPORTS = {'f': 'pkg.b'}\n"
                 "def __getattr__(name):\n    return getattr(importlib.import_module(_EXPORTS[name]), name)\n"),
        "b.py": "import importlib\ndef g():\n    return importlib.import_module('.c', __package__)\n",
        "c.py": "from importlib import import_module\ndef h():\n    return import_module('pkg.a').f\n",
        "d.py": '"""pkg.a is named in this docstring only."""\nX = "pkg.a"\n',  # no __getattr__: a plain string
    })
    graph = build_graph(package_dir, "pkg")
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.c"} and graph["pkg.c"] == {"pkg.a"}
    assert graph["pkg.d"] == set()
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]
