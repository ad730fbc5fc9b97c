"""pytest fixtures for code on the kernel: a SimClock, a runtime on it, a log of its bus.

Load it with ``pytest_plugins = ["bussdcc.testing.pytest_plugin"]`` in the top-level
``conftest.py``. This is the one module of ``bussdcc`` that needs pytest; nothing else
imports it (``import bussdcc.testing`` does not).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bussdcc.runtime import Runtime
from bussdcc.testing.message_log import MessageLog
from bussdcc.testing.simclock import SimClock


@pytest.fixture
def clock() -> SimClock:
    """A fresh SimClock (2026-01-01T00:00:00Z, monotonic 1000.0)."""
    return SimClock()


@pytest.fixture
def runtime(clock: SimClock) -> Iterator[Runtime]:
    """A runtime on ``clock``, not booted, always shut down at the end of the test."""
    rt = Runtime(clock=clock, join_timeout=2.0)
    yield rt
    rt.shutdown()


@pytest.fixture
def message_log(runtime: Runtime) -> MessageLog:
    """Everything ``runtime``'s bus delivers, from before boot to after shutdown."""
    log = MessageLog()
    runtime.events.subscribe(log, name="message-log")
    return log
