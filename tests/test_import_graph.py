"""``src/`` has no import circle and every import goes down the layer map."""

from __future__ import annotations

from pathlib import Path

import import_graph as ig


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_src_has_no_import_cycle() -> None:
    assert ig.cycles(ig.edges()) == []


def test_src_imports_only_go_down_the_layers() -> None:
    assert ig.layer_violations(ig.edges()) == []


def test_kernel_imports_only_the_standard_library() -> None:
    assert ig.stdlib_violations("bussdcc") == []


def test_every_module_is_in_a_layer() -> None:
    assert [m for m in ig.modules() if ig.layer_of(m) is None] == []


def test_type_only_and_lazy_imports_close_a_cycle(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n"
            ),
            "pkg/b.py": "def f():\n    from pkg import a\n",
            "pkg/c.py": "from . import a\n",
        },
    )
    assert ig.cycles(ig.edges(root)) == [["pkg.a", "pkg.b"]]


def test_name_from_a_package_init_is_an_edge_to_the_init(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import thing\n",
            "pkg/a.py": "thing = 1\n",
            "pkg/b.py": "from pkg import thing\nfrom pkg import a\n",
        },
    )
    got = {(e.source, e.target) for e in ig.edges(root)}
    assert got == {("pkg", "pkg.a"), ("pkg.b", "pkg"), ("pkg.b", "pkg.a")}
    assert ig.cycles(ig.edges(root)) == []


def test_a_layer_violation_is_reported_with_its_line() -> None:
    upward = ig.Edge("bussdcc_system.messages", "bussdcc_system.web.app", 7)
    downward = ig.Edge("bussdcc_system.web.app", "bussdcc_system.messages", 3)
    assert ig.layer_violations([downward]) == []
    (problem,) = ig.layer_violations([upward])
    assert problem.startswith("bussdcc_system.messages:7 (vocabulary) imports")


def test_third_party_import_in_the_kernel_is_reported(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"bussdcc/__init__.py": "import os\nimport yaml\n"})
    assert ig.stdlib_violations("bussdcc", root) == [
        "bussdcc:2 imports yaml, not the standard library"
    ]
