"""The package's import graph, read from the source with ``ast``: no import cycles among its modules.

Both kinds of import count: a module-level import (run when the module is
imported) and a function-level one (run when the function is first called).
A function-level cycle never fails at import time, but it still ties the two
modules together: neither can be understood, tested or moved without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sujian_router

PACKAGE_DIR = Path(sujian_router.__file__).resolve().parent
MODULE = "module-level"
FUNCTION = "function-level"

#: Cycles that remain in modules this test's author does not own, each named by its modules
#: (sorted). The test below fails on any cycle not listed here; each listed cycle is reported as an
#: expected failure, and its test fails once the cycle is broken, until its entry is removed.
KNOWN_CYCLES = {
    ("sujian_router._default_model", "sujian_router._router", "sujian_router._train"):
        "Router.load() builds the default with train(), and train() returns a Router",
}


def _module_names():
    """Dotted name of every module in the package, mapped to (file, is_package)."""
    names = {}
    for path in PACKAGE_DIR.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        names[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return names


def _targets(node, module, is_package, modules):
    """The package modules an ``import`` statement names (``from . import x`` names module ``x``)."""
    if isinstance(node, ast.Import):
        candidates = [alias.name for alias in node.names]
    else:
        stem = node.module or ""
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            stem = ".".join(base + ([node.module] if node.module else []))
        candidates = [f"{stem}.{alias.name}" for alias in node.names]
    found = set()
    for name in candidates:
        while name not in modules and "." in name:
            name = name.rsplit(".", 1)[0]
        if name in modules and name != module:
            found.add(name)
    return found


class _ImportCollector(ast.NodeVisitor):
    """Collects every import of a module with its kind: module-level, or inside a function."""

    def __init__(self):
        self.depth = 0
        self.imports = []

    def _function(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def _import(self, node):
        self.imports.append((node, FUNCTION if self.depth else MODULE))

    visit_Import = visit_ImportFrom = _import


def import_graph():
    """``{module: {imported module: {"module-level" and/or "function-level"}}}`` for the package."""
    modules = _module_names()
    graph = {name: {} for name in modules}
    for name, (path, is_package) in modules.items():
        collector = _ImportCollector()
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        for node, kind in collector.imports:
            for target in _targets(node, name, is_package, modules):
                graph[name].setdefault(target, set()).add(kind)
    return graph


def import_cycles(graph):
    """Every group of modules that import each other, directly or through others (Tarjan's components)."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while not group or group[-1] != v:
                group.append(stack.pop())
                on_stack.discard(group[-1])
            if len(group) > 1:
                cycles.append(tuple(sorted(group)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(cycles)


def describe(graph, cycle):
    """One line per import inside the cycle, with its kind."""
    return "\n".join(f"  {a} imports {b} ({', '.join(sorted(graph[a][b]))})"
                      for a in cycle for b in sorted(graph[a]) if b in cycle)


@pytest.fixture(scope="module")
def graph():
    return import_graph()


class TestGraphReader:
    """The reader sees both kinds of import and resolves relative names to modules."""

    def test_it_sees_module_level_imports(self, graph):
        assert MODULE in graph["sujian_router._router"]["sujian_router._decision"]

    def test_it_sees_function_level_imports(self, graph):
        assert graph["sujian_router._router"]["sujian_router._default_model"] == {FUNCTION}

    def test_it_resolves_parent_relative_imports(self, graph):
        assert "sujian_router._default_model" in graph["sujian_router._cli.build_default"]

    @pytest.mark.parametrize("edges,expected", [
        ({"a": {"b"}, "b": {"a"}}, [("a", "b")]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [("a", "b", "c")]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ])
    def test_cycle_finder(self, edges, expected):
        assert import_cycles({k: dict.fromkeys(v, {MODULE}) for k, v in edges.items()}) == expected


class TestNoImportCycles:
    def test_no_cycle_beyond_the_known_ones(self, graph):
        new = [c for c in import_cycles(graph) if c not in KNOWN_CYCLES]
        assert not new, "import cycles:\n" + "\n".join(describe(graph, c) for c in new)

    @pytest.mark.parametrize("cycle", sorted(KNOWN_CYCLES))
    def test_known_cycle_is_still_there(self, graph, cycle):
        """A listed cycle is an expected failure; once it is broken, this fails until it is unlisted."""
        if cycle not in import_cycles(graph):
            pytest.fail(f"{cycle} is no longer a cycle: remove it from KNOWN_CYCLES")
        pytest.xfail(f"known import cycle ({KNOWN_CYCLES[cycle]}):\n{describe(graph, cycle)}")

    def test_library_code_does_not_import_the_cli(self, graph):
        offenders = {m: sorted(t for t in graph[m] if t.startswith("sujian_router._cli"))
                     for m in graph if not m.startswith("sujian_router._cli")}
        assert not {m: t for m, t in offenders.items() if t}
