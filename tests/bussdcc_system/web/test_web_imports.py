"""The web package is a one-way graph: no module imports one that imports it back, not
even inside a function or under ``TYPE_CHECKING``."""

from __future__ import annotations

import ast
from pathlib import Path

import bussdcc_system.web

PACKAGE = Path(bussdcc_system.web.__file__).resolve().parent
PREFIX = "bussdcc_system.web."


def imports_of(path: Path) -> set[str]:
    """The web modules ``path`` imports, wherever the import statement is."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith(PREFIX):
                out.add(node.module[len(PREFIX) :].split(".")[0])
            elif node.module == "bussdcc_system.web":
                out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PREFIX):
                    out.add(alias.name[len(PREFIX) :].split(".")[0])
    return out


def test_no_web_module_imports_one_that_imports_it_back() -> None:
    graph = {p.stem: imports_of(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert {"app", "core", "api", "prometheus", "pages"} <= graph.keys()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    circles = sorted(m for m in graph if reaches(m, m, {m}))
    assert circles == [], f"import circle through {circles}: {graph}"
    assert "app" not in set().union(*(graph[m] for m in graph if m != "interface"))
