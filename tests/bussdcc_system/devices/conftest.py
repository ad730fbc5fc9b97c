"""Fixtures for the device tests: fake hosts and a fake vcgencmd (from appliance_helpers)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.bussdcc_system.appliance_helpers import FakeVcgencmd, copy_host


@pytest.fixture
def fake_host(tmp_path: Path) -> Callable[[str], Path]:
    """``fake_host("pi4")``: a writable copy of a fake host tree."""
    return lambda name: copy_host(name, tmp_path)


@pytest.fixture
def vcgencmd(tmp_path: Path) -> FakeVcgencmd:
    return FakeVcgencmd(tmp_path / "bin")
