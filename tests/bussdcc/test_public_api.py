"""The public surface of bussdcc and bussdcc.testing: exactly these names, stdlib only.

A name added to or dropped from ``__all__`` is an API change: it fails here first, and
the list below (and docs/kernel.md) is where it is decided.
"""

from __future__ import annotations

import importlib
import importlib.resources
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import bussdcc
import bussdcc.testing

# The names a user of the kernel may rely on, written as prose so that the list cannot be
# copied from ``__all__`` by accident.
BUSSDCC = set(
    """
    BootCancelled BootError ClockProtocol Context Device DeviceError DeviceStatus Event
    EventBus Interface Liveness Message Process Runtime Service ServiceLiveness ServiceState
    Severity SignalRuntime StateStore Subscription Supervisor SystemClock ThreadedRuntime
    __version__ message
    """.split()  # noqa: SIM905 (prose, not a copy of __all__'s layout)
)
TESTING = {"MessageLog", "SimClock", "SimClockTimeout"}


@pytest.mark.parametrize(("module", "names"), [("bussdcc", BUSSDCC), ("bussdcc.testing", TESTING)])
def test_all_is_exactly_the_public_surface_and_each_name_imports(
    module: str, names: set[str]
) -> None:
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(names)
    assert len(mod.__all__) == len(set(mod.__all__))
    for name in mod.__all__:
        assert getattr(mod, name) is not None, name
        exec(f"from {module} import {name}", {})  # as a user would write it


def test_the_package_is_typed() -> None:
    assert importlib.resources.files("bussdcc").joinpath("py.typed").is_file()
    assert isinstance(bussdcc.__version__, str)
    assert bussdcc.message.SystemSignal(signal=1, action="x").name == "system.signal"


def test_simclock_is_not_part_of_the_runtime_surface() -> None:
    """Test support lives in bussdcc.testing only: the kernel's namespace has no SimClock."""
    assert not hasattr(bussdcc, "SimClock")
    with pytest.raises(ImportError):
        exec("from bussdcc import SimClock", {})


def _imported_by(statement: str) -> list[str]:
    """The modules a fresh interpreter loads for ``statement`` (beyond its own start)."""
    code = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        f"{statement}\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    src = str(Path(bussdcc.__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    modules: list[str] = json.loads(out.stdout)
    return modules


def _outside_stdlib(modules: list[str]) -> list[str]:
    return [
        m
        for m in modules
        if m.split(".")[0] not in sys.stdlib_module_names and m.split(".")[0] != "bussdcc"
    ]


def test_import_bussdcc_loads_only_the_standard_library() -> None:
    modules = _imported_by("import bussdcc")
    assert "bussdcc.runtime" in modules  # it did import the kernel
    assert _outside_stdlib(modules) == []
    assert not any(m.startswith("bussdcc.testing") for m in modules)  # not test support


def test_import_bussdcc_testing_loads_only_the_standard_library() -> None:
    modules = _imported_by("import bussdcc.testing")
    assert "bussdcc.testing.simclock" in modules
    assert _outside_stdlib(modules) == []
    assert "bussdcc.testing.pytest_plugin" not in modules and "pytest" not in modules
