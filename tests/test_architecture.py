"""The import graph of scanner/ has no cycles (docs/architecture.md: stages import only stages
below them, and shared knowledge sits below all of them).

Read from the source with ast, not by importing: every ``import`` and ``from ... import`` in a
module counts, top-level or inside a function, since a deferred import that closes a circle is
still a circle (it only moves the failure to run time).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "scanner"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The scanner modules ``name`` imports (``from scanner.x import y`` names scanner.x.y when that
    is a module, else scanner.x)."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        for target in targets:
            while target and target not in known:  # import scanner.a.b.c: the deepest module that exists
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports_of(name, path, known) for name, path in found.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = import_graph()
    assert len(graph) > 50, "the walk found too few modules: is the source tree where the test expects it?"
    # A package's __init__ importing its own submodules is how packages are made, not a cycle.
    pruned = {
        name: {t for t in targets if not (name and t.startswith(name + ".") and PACKAGE.joinpath(*name.split(".")[1:], "__init__.py").exists())}
        for name, targets in graph.items()
    }
    assert cycles(pruned) == []


def test_the_check_sees_a_cycle() -> None:
    # The detector itself: a two-module circle and a three-module one are found, a chain is not.
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        ("scanner.detect.engine", "from scanner.knowledge.psl import registrable_domain", {"scanner.knowledge.psl"}),
        ("scanner.detect.engine", "from scanner.knowledge import psl", {"scanner.knowledge.psl"}),
        ("scanner.detect.engine", "from ..knowledge import psl", {"scanner.knowledge.psl"}),
        ("scanner.detect.engine", "def f():\n    import scanner.attribute.subjects", {"scanner.attribute.subjects"}),
    ],
)
def test_imports_are_resolved_to_modules(name: str, source: str, expected: set[str], tmp_path: Path) -> None:
    path = tmp_path / "engine.py"
    path.write_text(source, encoding="utf-8")
    assert imports_of(name, path, set(modules())) == expected


def test_no_two_parts_of_scanner_import_each_other() -> None:
    # One level up: the stages (detect, attribute, ...) and the top modules (cli, pipeline, ...)
    # as units. detect importing attribute while attribute imports detect is a circle between
    # stages even when no single module closes it.
    def unit(name: str) -> str:
        return ".".join(name.split(".")[:2])

    units: dict[str, set[str]] = {}
    for name, targets in import_graph().items():
        if name == "scanner":
            continue
        units.setdefault(unit(name), set()).update(unit(t) for t in targets if t != "scanner" and unit(t) != unit(name))
    assert cycles(units) == []
