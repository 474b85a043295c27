"""The layering holds: no import cycle between coco_pipe modules, small modules, layers point down.

The graph is built from the source (``ast``), counting every import of a coco_pipe module,
at module level or inside a function, and the package ``__init__`` that importing a
submodule runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "coco_pipe"
#: Pure data tables allowed to be long (no logic to split).
DATA_TABLES = {"foundation/specs.py"}
MAX_LINES = 600

#: Layers from the top; a module may import its own layer or any layer below it.
LAYERS = [
    {"cli", "__main__", "__init__"},
    {"registry"},
    {"decoding"},
    {"foundation"},
    {"tracking", "data", "datasets", "reporting"},
]
#: Pure pydantic configs: any layer may read them (they validate names against the leaf
#: tables foundation.specs and decoding.registry).
CONFIGS = "coco_pipe.decoding.configs"


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in SRC.rglob("*.py")}


def _resolve(current: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = current.split(".") if is_pkg else current.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph(explicit_only: bool = False) -> dict[str, set[str]]:
    """Module -> the coco_pipe modules it imports. With ``explicit_only=False`` an import of
    ``a.b.c`` also counts ``a`` and ``a.b``, whose ``__init__`` it runs."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}

    def add(src: str, target: str) -> None:
        parts = target.split(".")
        for i in range(len(parts), 0, -1):
            name = ".".join(parts[:i])
            if name in mods and name != src:
                graph[src].add(name)
                if explicit_only:
                    return

    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("coco_pipe"):
                        add(name, alias.name)
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(name, is_pkg, node)
                if not target.startswith("coco_pipe"):
                    continue
                add(name, target)
                for alias in node.names:  # `from pkg import sub` imports the module pkg.sub
                    if f"{target}.{alias.name}" in mods:
                        add(name, f"{target}.{alias.name}")
    # a package's __init__ importing its own submodules is not a cycle with them: a
    # submodule importing a sibling runs the __init__, which then finds it half-made only
    # if the __init__ imports back; drop the implicit submodule -> own-ancestor edges
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(t + ".")}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if state.get(m) is None:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if state.get(n) is None:
            found = visit(n)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_between_coco_pipe_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    for i, layer in enumerate(LAYERS):
        if top in layer:
            return i
    raise AssertionError(f"module {module} is in no layer of tests/test_architecture.py")


def test_imports_only_point_down_the_layers():
    graph = import_graph(explicit_only=True)
    upward = sorted(
        f"{src} -> {dst}"
        for src, targets in graph.items()
        for dst in targets
        if src != "coco_pipe" and _layer(dst) < _layer(src) and not dst.startswith(CONFIGS)
    )
    assert not upward, "imports that point up a layer:\n  " + "\n  ".join(upward)


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_over_600_lines_except_data_tables(path):
    rel = str(path.relative_to(SRC))
    n = len(path.read_text().splitlines())
    if rel in DATA_TABLES:
        return
    assert n <= MAX_LINES, f"{rel} has {n} lines (> {MAX_LINES}): split it by responsibility"
