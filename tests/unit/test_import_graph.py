"""The layers, read from the imports of every module under app/ (function-level and TYPE_CHECKING imports included).

- app.core is the ground floor: it imports no domain package.
- The domain packages (every package directly under app/ but core) import each other in one direction only: their
  graph has no cycle, so in particular no two of them import each other.
- The pure cores, the pathway engines (the whole app.pathway package) and the Match engine (what importing
  app.matching loads), import no web framework, ORM, settings or any other part of the service; what importing either
  package loads needs no pydantic either (the pathway's HTTP response models are a module of their own), but for the
  validation of the rule files.

The rules are checked on the graph the files actually make, not on a list of file names: a module added anywhere is
held to them. The analyser is itself tested on a small tree with known violations.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"
WEB_ORM_SETTINGS = ("fastapi", "starlette", "sqlalchemy", "sqlmodel", "pydantic_settings", "alembic", "psycopg")
PURE_CORES = ("pathway", "matching")


@dataclass(frozen=True)
class Graph:
    root: str  # the top package's name ("app")
    modules: dict[str, Path]
    imports: dict[str, set[str]]  # module -> every module or name it imports (absolute, dotted)
    packages: frozenset[str]  # the packages directly under the root

    def area(self, name: str) -> str | None:
        """The package directly under the root that `name` belongs to (None: outside the root, or a top module)."""
        parts = name.split(".")
        if parts[0] != self.root or len(parts) < 2 or parts[1] not in self.packages:
            return None
        return parts[1]

    def internal(self, module: str) -> set[str]:
        """The root's modules `module` imports (a `from pkg import name` counts pkg.name when it is a module)."""
        found = set()
        for name in self.imports[module]:
            while name and name not in self.modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
        return found

    def closure(self, start: str) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            for dep in self.internal(todo.pop()):
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return seen


def build_graph(root_dir: Path) -> Graph:
    root = root_dir.name
    modules: dict[str, Path] = {}
    for path in sorted(root_dir.rglob("*.py")):
        parts = path.relative_to(root_dir.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    imports: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join([*base, node.module] if node.module else base)
                else:
                    target = node.module or ""
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)
        imports[name] = found
    packages = frozenset(p.name for p in root_dir.iterdir() if (p / "__init__.py").is_file())
    return Graph(root, modules, imports, packages)


def core_violations(graph: Graph, core: str = "core") -> list[str]:
    return sorted(f"{m} imports {dep}" for m in graph.modules if graph.area(m) == core
                  for dep in graph.internal(m) if graph.area(dep) not in (core, None))


def domain_edges(graph: Graph, core: str = "core") -> dict[tuple[str, str], list[str]]:
    edges: dict[tuple[str, str], list[str]] = {}
    for m in graph.modules:
        a = graph.area(m)
        for dep in graph.internal(m):
            b = graph.area(dep)
            if a and b and a != b and core not in (a, b):
                edges.setdefault((a, b), []).append(f"{m} -> {dep}")
    return edges


def domain_cycle(graph: Graph) -> list[str] | None:
    """A cycle among the domain packages, as the list of packages around it, or None."""
    edges = domain_edges(graph)
    succ: dict[str, set[str]] = {}
    for a, b in edges:
        succ.setdefault(a, set()).add(b)
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(succ.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := walk(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(succ):
        if start not in state and (cycle := walk(start)):
            return cycle
    return None


def impure(graph: Graph, modules: Iterable[str], package: str, banned: tuple[str, ...]) -> list[str]:
    """Imports of `modules` that leave `package` for another part of the root, or reach a banned library."""
    found = []
    for m in sorted(modules):
        for name in sorted(graph.imports[m]):
            top = name.split(".")[0]
            if top in banned or (top == graph.root and graph.area(name) != package):
                found.append(f"{m} imports {name}")
    return found


def package_modules(graph: Graph, package: str) -> set[str]:
    return {m for m in graph.modules if graph.area(m) == package}


GRAPH = build_graph(APP)


def test_the_analyser_reads_the_service() -> None:
    # Sanity of the inputs, so the rules below cannot pass on an empty graph.
    assert {"core", "accounts", "candidates", "pathway", "matching", "guidance"} <= GRAPH.packages
    assert "app.core.db" in GRAPH.internal("app.accounts.models")
    assert "app.pathway.rules" in GRAPH.closure("app.pathway")


def test_core_imports_no_domain() -> None:
    assert core_violations(GRAPH) == []


def test_no_two_domains_depend_on_each_other() -> None:
    edges = domain_edges(GRAPH)
    assert edges, "the domains import one another somewhere; the analyser found no edge"
    mutual = {f"{a} <-> {b}": edges[(a, b)] + edges[(b, a)] for a, b in edges if a < b and (b, a) in edges}
    assert mutual == {}
    assert domain_cycle(GRAPH) is None


@pytest.mark.parametrize("package", PURE_CORES)
def test_pure_cores_import_no_framework_orm_or_settings(package: str) -> None:
    entry = f"{GRAPH.root}.{package}"
    loaded = GRAPH.closure(entry)
    # The one place pydantic may enter: the rule files' reader, which validates the data the engines run on
    # (issue: the road as data asks for Pydantic rule models); the engines themselves take plain values.
    allowed = {f"{GRAPH.root}.pathway.rule_files"}
    assert [v for v in impure(GRAPH, loaded, package, (*WEB_ORM_SETTINGS, "pydantic"))
            if not (v.split(" imports ")[0] in allowed and v.split(" imports ")[1].startswith("pydantic"))] == []
    if package == "pathway":  # the package holds nothing but the engines and their response models
        assert impure(GRAPH, package_modules(GRAPH, package), package, WEB_ORM_SETTINGS) == []


# ---- the analyser on a tree with known violations -------------------------------------------------------------

def _tree(tmp_path: Path, files: dict[str, str]) -> Graph:
    root = tmp_path / "svc"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for directory in {root, *(p.parent for p in root.rglob("*.py"))}:
        (directory / "__init__.py").touch()
    return build_graph(root)


def test_the_analyser_finds_each_kind_of_violation(tmp_path: Path) -> None:
    graph = _tree(tmp_path, {
        "core/security.py": "def load():\n    from svc.accounts.models import User\n",  # inside a function
        "accounts/models.py": "from ..candidates import models\n",  # relative, two levels
        "candidates/models.py": "from svc.core import security\n",
        "candidates/service.py": "import svc.accounts.models\n",
        "pathway/rules.py": "from . import dates\nimport sqlalchemy\n",
        "pathway/dates.py": "from svc.core.config import get_settings\n",
        "pathway/__init__.py": "from .rules import *\n",
        "billing/service.py": "from svc.pathway import rules\n",
    })
    assert core_violations(graph) == ["svc.core.security imports svc.accounts.models"]
    assert set(domain_edges(graph)) == {("accounts", "candidates"), ("candidates", "accounts"),
                                        ("billing", "pathway")}
    assert domain_cycle(graph) in (["accounts", "candidates", "accounts"], ["candidates", "accounts", "candidates"])
    assert impure(graph, graph.closure("svc.pathway"), "pathway", WEB_ORM_SETTINGS) == [
        "svc.pathway.dates imports svc.core.config", "svc.pathway.dates imports svc.core.config.get_settings",
        "svc.pathway.rules imports sqlalchemy"]


def test_the_analyser_finds_a_longer_cycle(tmp_path: Path) -> None:
    graph = _tree(tmp_path, {"a/m.py": "from svc.b import m\n", "b/m.py": "from svc.c.m import x\n",
                             "c/m.py": "x = 1\nimport svc.a.m\n"})
    assert domain_cycle(graph) == ["a", "b", "c", "a"]
    assert not any((b, a) in domain_edges(graph) for a, b in domain_edges(graph))  # no pair: only the cycle says
