"""Clocks: what the kernel reads time from, and the host's clocks.

Every wait in the kernel goes through ``clock.sleep`` so that another clock can stand
in for real time: ``bussdcc.testing.SimClock`` runs services, supervision and stall
detection in virtual time, and no test needs to sleep for real.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol


class ClockProtocol(Protocol):
    def now_utc(self) -> datetime:
        """Wall-clock time, timezone-aware UTC (can jump when NTP syncs)."""
        ...

    def time(self) -> float:
        """Wall-clock time as POSIX seconds."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps; for intervals and deadlines."""
        ...

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> bool:
        """Wait ``seconds``; return True if ``cancel`` was set before they elapsed."""
        ...

    def adopt(self, thread: threading.Thread) -> None:
        """Note a thread that will wait on this clock (a no-op for real time)."""
        ...


class SystemClock:
    """The host's clocks."""

    def now_utc(self) -> datetime:
        return datetime.now(UTC)

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> bool:
        if cancel is None:
            if seconds > 0:
                time.sleep(seconds)
            return False
        return cancel.wait(max(0.0, seconds))

    def adopt(self, thread: threading.Thread) -> None:
        return None
