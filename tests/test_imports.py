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

Imports by string (``importlib.import_module``: ``hf_rnn._auto``'s post-import hook, ``hf_rnn``'s lazy
``__getattr__`` exports, ``hf_rnn.cli``'s command modules) are not statements and are not in the graph.
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


def imported_names(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules an import statement anywhere in ``path`` names explicitly (resolved, absolute)."""
    own_package = module if is_package(module, modules) else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
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


def test_hf_rnn_has_no_import_cycles():
    graph = build_graph()
    assert len(graph) > 40 and "hf_rnn.models.modeling_rnn" in graph  # the whole package was read
    cycles = find_cycles(graph)
    assert not cycles, "import cycles in hf_rnn (lazy imports included):\n" + "\n".join(
        "  " + " -> ".join(cycle) for cycle in cycles)


def test_graph_sees_function_level_and_relative_imports():
    graph = build_graph()
    # hf_rnn/_auto.py imports hf_rnn.models only by string: not an edge
    assert "hf_rnn.models" not in graph["hf_rnn._auto"]
    # models/__init__ re-exports its submodules
    assert {"hf_rnn.models.modeling_rnn", "hf_rnn.models.loading_rnn"} <= graph["hf_rnn.models"]
    # hf_rnn.app's lazy __getattr__ imports its service inside a function, ``from . import service``
    assert {"hf_rnn.app.service", "hf_rnn.app.ui"} <= graph["hf_rnn.app"]


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
