"""Fixtures for the web tests (helpers live in web_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from web_helpers import WebRig, make_rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[WebRig]:
    r = make_rig(tmp_path)
    r.feed()
    yield r
    r.rt.stop(timeout=10)
