"""SystemClock: the host's clocks (SimClock, for tests, is in tests/bussdcc/testing)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from bussdcc import SystemClock


def test_system_clock_reads_the_hosts_clocks() -> None:
    clock = SystemClock()
    before = time.monotonic()
    mono = clock.monotonic()
    after = time.monotonic()
    assert before <= mono <= after  # the host's monotonic clock, not another one
    wall, posix = clock.now_utc(), clock.time()
    assert wall.utcoffset() == timedelta(0)  # aware, in UTC
    host = datetime.now(UTC)
    assert abs(wall - host) < timedelta(minutes=1)
    assert abs(posix - host.timestamp()) < 60


def test_system_clock_sleep_and_cancel() -> None:
    clock = SystemClock()
    cancel = threading.Event()
    cancel.set()
    assert clock.sleep(30, cancel) is True  # returns at once when cancelled
    assert clock.sleep(0) is False
    assert clock.sleep(0, threading.Event()) is False
