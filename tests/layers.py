"""The broker's import graph and its layers: who may import whom.

A helper of tests/test_layers.py, also runnable on its own to print the graph between
top-level packages (``python -m tests.layers``) or between modules (``--modules``).
Only imports that run when a module is loaded count, wherever they sit in the file; imports
under ``if TYPE_CHECKING:`` are listed too, since they still express a dependency.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "broker"


@dataclass(frozen=True)
class Import:
    """One import statement: the importing module, the imported module, and where."""

    source: str
    target: str
    line: int


def module_name(path: Path) -> str:
    """Dotted module name of a file under the repository root."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """Every module of the broker package, by dotted name."""
    return {module_name(p): p for p in sorted((ROOT / PACKAGE).rglob("*.py"))}


def _resolve(source: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = source.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(name: str, path: Path, known: set[str]) -> Iterator[Import]:
    """The broker modules a module imports (``from pkg import mod`` counts as importing ``pkg.mod``)."""
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    yield Import(name, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(name, is_package, node)
            if target.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield Import(name, sub if sub in known else target, node.lineno)


def all_imports() -> list[Import]:
    """Every broker-internal import in the broker package."""
    found = modules()
    known = set(found)
    unique = {imp: None for name, path in found.items() for imp in imports_of(name, path, known)}
    return list(unique)


@dataclass(frozen=True)
class Component:
    """A part of the broker (a package, or a few top-level modules) and the layer it sits in."""

    name: str
    rank: int  # higher imports lower; never the reverse, never sideways to another component


# Top to bottom, as /work/shared/DESIGN.md draws the request flow. `leaves` are cross-cutting:
# configuration, logging, version and observability import only the vocabulary, and every layer
# above the vocabulary may import them.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("runtime", ("broker.runtime", "broker.__main__")),
    ("http", ("broker.http",)),
    ("core", ("broker.core",)),
    ("side flows", ("broker.subscriptions", "broker.registrations")),
    ("personal policy", ("broker.personal",)),
    ("storage", ("broker.storage",)),
    ("leaves", ("broker.config", "broker.logs", "broker.version", "broker.observability")),
    ("vocabulary", ("broker.ngsi", "broker")),
)
# The backends and their factory: only the runtime (which builds the engine) and storage itself
# may name them; everything else speaks the port.
BACKENDS = ("broker.storage.sqlite", "broker.storage.mongo", "broker.storage.factory")


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def component_of(module: str) -> Component | None:
    """The component a module belongs to (longest prefix wins), or None if no layer names it."""
    best: tuple[int, Component] | None = None
    for index, (_, prefixes) in enumerate(LAYERS):
        rank = len(LAYERS) - 1 - index
        for prefix in prefixes:
            if _under(module, prefix) and (best is None or len(prefix) > best[0]):
                name = "runtime" if rank == len(LAYERS) - 1 else prefix.removeprefix("broker.")
                best = (len(prefix), Component(name, rank))
    return best[1] if best else None


def layer_name(rank: int) -> str:
    return LAYERS[len(LAYERS) - 1 - rank][0]


def violation(imp: Import) -> str | None:
    """Why an import breaks the layering, or None if it points down (or stays in its component)."""
    src, dst = component_of(imp.source), component_of(imp.target)
    if src is None or dst is None:
        return f"{imp.source if src is None else imp.target} is in no layer"
    if any(_under(imp.target, b) for b in BACKENDS) and src.name not in ("runtime", "storage"):
        return f"{src.name} names a storage backend ({imp.target}); only the runtime may"
    if imp.target == "broker" or src.name == dst.name:
        return None
    if dst.rank > src.rank:
        return f"upward: {src.name} ({layer_name(src.rank)}) imports {dst.name} ({layer_name(dst.rank)})"
    if dst.rank == src.rank:
        return f"sideways: {src.name} imports {dst.name}, both in {layer_name(src.rank)}"
    return None


def cycles(imports: list[Import] | None = None) -> list[list[str]]:
    """Groups of modules that import each other, directly or through others (Tarjan's algorithm)."""
    graph: dict[str, set[str]] = {}
    for imp in imports if imports is not None else all_imports():
        graph.setdefault(imp.source, set()).add(imp.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def top_package(module: str) -> str:
    """``broker.http.routes.entities`` -> ``http``; ``broker.config`` -> ``config``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def package_graph(imports: list[Import] | None = None) -> dict[str, set[str]]:
    """Top-level package -> the other top-level packages it imports."""
    graph: dict[str, set[str]] = {top_package(m): set() for m in modules() if m != PACKAGE}
    for imp in imports if imports is not None else all_imports():
        src, dst = top_package(imp.source), top_package(imp.target)
        if src != dst and dst != PACKAGE:
            graph.setdefault(src, set()).add(dst)
    return graph


def main(argv: list[str]) -> None:
    if "--violations" in argv:
        for imp in sorted(all_imports(), key=lambda i: (i.source, i.line)):
            why = violation(imp)
            if why:
                print(f"{imp.source}:{imp.line} -> {imp.target}: {why}")
        return
    if "--modules" in argv:
        for imp in sorted(all_imports(), key=lambda i: (i.source, i.line)):
            print(f"{imp.source}:{imp.line} -> {imp.target}")
        return
    for package, targets in sorted(package_graph().items()):
        print(f"{package} -> {', '.join(sorted(targets)) or '-'}")


if __name__ == "__main__":
    main(sys.argv[1:])
