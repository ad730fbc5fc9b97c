"""Fixtures every tier shares: a SimClock and a runtime on it that is always shut down."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bussdcc import Runtime, SimClock


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


@pytest.fixture
def runtime(clock: SimClock) -> Iterator[Runtime]:
    """A SimClock runtime that is always shut down at the end of the test."""
    rt = Runtime(clock=clock, join_timeout=2.0)
    yield rt
    rt.shutdown()
