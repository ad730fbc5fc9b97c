"""The import graph of ``src/``: cycles and layer violations, found by reading the code.

Every ``import`` statement counts: module level, inside functions and under
``if TYPE_CHECKING:`` alike, because a lazy or type-only import that closes a circle is
still a circle a reader has to untangle. ``from pkg import sub`` where ``sub`` is a
submodule is an edge to ``pkg.sub``; ``from pkg import name`` for anything else is an edge
to ``pkg`` itself (its ``__init__``).

Run it from the repository root; it prints what it finds and exits 1 if anything is wrong::

    .venv/bin/python tests/import_graph.py          # cycles + layer rules
    .venv/bin/python tests/import_graph.py --edges  # the whole graph, one edge a line

The layer map it enforces is ``LAYERS`` below and ``docs/architecture.md`` explains it.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

# Lowest first. A module may import modules of its own layer or of a lower one, never a
# higher one. A module belongs to the first layer with a prefix that matches it (the
# longest prefix wins when several match).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("kernel", ("bussdcc",)),
    (
        "vocabulary",
        (
            "bussdcc_system",  # the package itself (version)
            "bussdcc_system.messages",
            "bussdcc_system.throttling_flags",
            "bussdcc_system.formatting",
            "bussdcc_system.host",
            "bussdcc_system.notify",
            "bussdcc_system.console",
            "bussdcc_system.lazy_exports",
        ),
    ),
    ("config", ("bussdcc_system.config",)),
    (
        "appliance",
        (
            "bussdcc_system.devices",
            "bussdcc_system.telemetry",
            "bussdcc_system.health",
            "bussdcc_system.state",
            "bussdcc_system.metric_catalog",  # what the above put in the state tree
        ),
    ),
    ("history", ("bussdcc_system.history",)),
    (
        "web",
        (
            "bussdcc_system.web",
            "bussdcc_system.mqtt",  # the other ways out: a broker (Home Assistant) ...
            "bussdcc_system.notifications",  # ... and ntfy or a webhook
        ),
    ),
    ("wiring", ("bussdcc_system.components", "bussdcc_system.reload")),
    (
        "entry points",
        (
            "bussdcc_system.daemon",
            "bussdcc_system.late_imports",  # what the daemon loads right after READY=1
            "bussdcc_system.history.cli",
            "bussdcc_system.cli",
            "bussdcc_system.__main__",
        ),
    ),
)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int


def module_name(path: Path, root: Path = SRC) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path = SRC) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def _resolve_from(source: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = source.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def edges(root: Path = SRC) -> list[Edge]:
    """Every import of one of our own modules, as an edge between module names."""
    known = modules(root)
    ours = {name.split(".")[0] for name in known}
    out: list[Edge] = []
    for name, path in known.items():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve_from(name, is_package, node)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in known else base)
            for target in targets:
                if target.split(".")[0] not in ours:
                    continue
                while target not in known and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target != name:
                    out.append(Edge(name, target, getattr(node, "lineno", 0)))
    return out


def cycles(graph_edges: Iterable[Edge]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for e in graph_edges:
        graph.setdefault(e.source, set()).add(e.target)
        graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def layer_of(module: str) -> tuple[int, str] | None:
    best: tuple[int, int, str] | None = None
    for rank, (layer, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                best is None or len(prefix) > best[0]
            ):
                best = (len(prefix), rank, layer)
    return None if best is None else (best[1], best[2])


def layer_violations(graph_edges: Iterable[Edge]) -> list[str]:
    problems = []
    for e in graph_edges:
        src, dst = layer_of(e.source), layer_of(e.target)
        if src is None:
            problems.append(f"{e.source}: not in any layer of tests/import_graph.py LAYERS")
        elif dst is not None and dst[0] > src[0]:
            problems.append(
                f"{e.source}:{e.line} ({src[1]}) imports {e.target} ({dst[1]}), a higher layer"
            )
    return sorted(set(problems))


# The one kernel module that is not for run time: the pytest plugin of ``bussdcc.testing``.
STDLIB_EXCEPTIONS: dict[str, frozenset[str]] = {
    "bussdcc.testing.pytest_plugin": frozenset({"pytest"})
}


def stdlib_violations(package: str = "bussdcc", root: Path = SRC) -> list[str]:
    """Imports in ``package`` of anything but the standard library and itself."""
    problems = []
    for name, path in modules(root).items():
        if name != package and not name.startswith(package + "."):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            roots: list[str] = []
            if isinstance(node, ast.Import):
                roots = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots = [node.module.split(".")[0]]
            for r in roots:
                allowed = STDLIB_EXCEPTIONS.get(name, frozenset())
                if r != package and r not in sys.stdlib_module_names and r not in allowed:
                    problems.append(f"{name}:{node.lineno} imports {r}, not the standard library")
    return problems


def main(argv: list[str]) -> int:
    graph_edges = edges()
    if "--edges" in argv:
        for e in sorted(graph_edges, key=lambda e: (e.source, e.target)):
            print(f"{e.source} -> {e.target}")
        return 0
    found = cycles(graph_edges)
    for c in found:
        print("cycle:", " <-> ".join(c))
    problems = layer_violations(graph_edges) + stdlib_violations()
    for p in problems:
        print("layer:", p)
    names = modules()
    print(
        f"{len(names)} modules, {len(graph_edges)} imports between them: "
        f"{len(found)} cycles, {len(problems)} layer violations"
    )
    return 1 if found or problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
