"""Fixtures for the device tests: SimClock runtime, bus log, fake hosts, fake vcgencmd."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

HOSTS = Path(__file__).resolve().parents[2] / "fixtures" / "hosts"
VCGENCMD = HOSTS / "pi4" / "usr" / "bin" / "vcgencmd"


@pytest.fixture
def fake_host(tmp_path: Path) -> Callable[[str], Path]:
    """``fake_host("pi4")``: a writable copy of a fake host tree."""

    def make(name: str) -> Path:
        root = tmp_path / name
        shutil.copytree(HOSTS / name, root, symlinks=True)
        return root

    return make


class FakeVcgencmd:
    """The fixture vcgencmd script in a temp dir; ``set("0x50005")`` or ``set("novcio")``."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "vcgencmd"
        shutil.copy2(VCGENCMD, self.path)
        self.state = directory / "throttled"

    @property
    def command(self) -> tuple[str, str]:
        return (str(self.path), "get_throttled")

    def set(self, value: str) -> None:
        self.state.write_text(value)


@pytest.fixture
def vcgencmd(tmp_path: Path) -> FakeVcgencmd:
    return FakeVcgencmd(tmp_path / "bin")
