"""The package's import graph follows docs/ARCHITECTURE.md ("Rooms and what each may import").

Every ``import`` and ``from ... import`` of every module is read with :mod:`ast`, top-level
and inside functions alike (a lazy import still couples two rooms), and resolved to the
modules of ``separate`` it names: ``from separate.x import y`` is an edge to ``separate.x.y``
when that is a module, else to ``separate.x``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "separate"


def _modules() -> dict[str, tuple[Path, bool]]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        mods[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return mods


def _resolve(name: str, mods: dict) -> str | None:
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """``{module: {modules of separate it imports}}``."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, (path, is_package) in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if is_package else mod.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                names = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in mods else prefix
                         for a in node.names]
            for name in names:
                target = _resolve(name, mods) if name.startswith("separate") else None
                if target and target != mod:
                    graph[mod].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        found.append(sorted(comp))
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def _room(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_graph_sees_lazy_and_relative_imports(graph):
    # the walker itself: an in-function import (track -> salience) and a package import
    assert "separate.f0.salience" in graph["separate.f0.track"]
    assert "separate.errors" in graph["separate.audio.io"]


def test_no_import_cycles(graph):
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("room, allowed", [
    ("nets", {"nets", "errors", "audio.stft"}),
    ("audio", {"audio", "errors"}),
    ("engine", {"engine", "audio", "nets.contract", "errors"}),
    ("activations", {"activations", "audio", "errors"}),
])
def test_lower_rooms_import_only_what_they_may(graph, room, allowed):
    def ok(target: str) -> bool:
        rest = target.removeprefix("separate.")
        return any(rest == a or rest.startswith(a + ".") for a in allowed)

    bad = {m: sorted(t for t in ts if not ok(t))
           for m, ts in graph.items() if _room(m) == room}
    assert {m: t for m, t in bad.items() if t} == {}


def test_nothing_imports_the_facade_or_the_cli(graph):
    for mod, targets in graph.items():
        if mod in ("separate", "separate.__main__") or _room(mod) == "cli":
            continue
        assert "separate.api" not in targets, mod
        assert not any(_room(t) == "cli" for t in targets), mod
