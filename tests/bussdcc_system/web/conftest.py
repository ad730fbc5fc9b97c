"""Fixtures for the web tests (helpers live in web_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_helpers import WebRig, make_rig

from tests.prerequisites import chromium_context


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[WebRig]:
    r = make_rig(tmp_path)
    r.feed()
    yield r
    r.rt.stop(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium, one per test module that asks for it."""
    with chromium_context() as context:
        yield context
