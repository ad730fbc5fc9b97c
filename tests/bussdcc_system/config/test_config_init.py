"""The package's surface: every name the rest of the code imports from it, and modules
inside it that import one way only."""

from __future__ import annotations

import ast
from pathlib import Path

import bussdcc_system.config as config
from tests.bussdcc_system.config.config_helpers import REPO

PACKAGE = REPO / "src" / "bussdcc_system" / "config"


def _imported_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "bussdcc_system.config"
        for alias in node.names
    }


def test_every_name_imported_from_the_package_exists() -> None:
    users = [
        path
        for top in ("src", "tests", "bench")
        for path in (REPO / top).rglob("*.py")
        if PACKAGE not in path.parents
    ]
    wanted = {name: path for path in users for name in _imported_names(path)}
    assert "Config" in wanted  # the scan found the callers
    missing = {name: str(path) for name, path in wanted.items() if not hasattr(config, name)}
    assert missing == {}
    assert sorted(config.__all__) == sorted(set(config.__all__))
    assert all(hasattr(config, name) for name in config.__all__)


def test_exit_statuses_are_the_systems_not_a_copy() -> None:
    assert not hasattr(config, "EX_CONFIG")  # callers use os.EX_CONFIG


def _edges() -> dict[str, set[str]]:
    """Module -> the modules of the package it imports (anywhere, TYPE_CHECKING included)."""
    edges: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        name = path.stem
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{name}: use absolute imports"
                modules = [node.module or ""]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                if module == "bussdcc_system.config" or module.startswith("bussdcc_system.config."):
                    imported.add(
                        module.removeprefix("bussdcc_system.config").lstrip(".") or "__init__"
                    )
        edges[name] = imported
    return edges


def test_modules_import_one_way() -> None:
    edges = _edges()
    assert set(edges) >= {"__init__", "schema", "validators", "walker", "loader", "diff", "docs"}
    for name, imported in edges.items():
        assert "__init__" not in imported, f"{name} imports the package, not a module"
    order: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        assert name not in visiting, "import cycle: " + " -> ".join([*visiting, name])
        visiting.append(name)
        for other in sorted(edges[name]):
            visit(other)
        visiting.pop()
        order.append(name)

    for name in edges:
        visit(name)
    assert len(order) == len(edges)
    assert "docs" not in edges["__init__"]  # so `python -m ...config.docs` runs it once
