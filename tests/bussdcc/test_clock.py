"""SystemClock: the host's clocks (SimClock, for tests, is in tests/bussdcc/testing)."""

from __future__ import annotations

import threading

from bussdcc import SystemClock


def test_system_clock_sleep_and_cancel() -> None:
    clock = SystemClock()
    cancel = threading.Event()
    cancel.set()
    assert clock.sleep(30, cancel) is True  # returns at once when cancelled
    assert clock.sleep(0) is False
    assert clock.sleep(0, threading.Event()) is False
    assert clock.now_utc().tzinfo is not None
    assert clock.monotonic() <= clock.monotonic()
