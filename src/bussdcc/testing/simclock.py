"""SimClock: virtual time for deterministic tests of code that runs on the kernel.

A ``ClockProtocol`` whose time only moves when a test calls ``advance``: every thread
that was due wakes, runs and goes back to sleep before ``advance`` returns, so services,
supervision, backoff and stall detection run in virtual time, the same on every run.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class SimClockTimeout(AssertionError):
    """Threads on a SimClock did not go back to sleep in time (likely blocked elsewhere)."""


class SimClock:
    """Virtual time that only moves when a test calls ``advance``.

    Threads that wait on it must block only in ``sleep`` (which is how kernel services
    wait). ``advance`` wakes sleepers one deadline at a time, in order, and waits
    (in real time, bounded by ``settle_timeout``) until every thread that uses the
    clock is asleep again or has ended: the result is the same on every run.
    """

    _POLL = 0.005  # real seconds between checks of a ``cancel`` event

    def __init__(
        self,
        start: datetime | None = None,
        *,
        monotonic_start: float = 1000.0,
        settle_timeout: float = 10.0,
    ) -> None:
        self._wall = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._mono = monotonic_start
        self.settle_timeout = settle_timeout
        self._cond = threading.Condition()
        self._sleepers: dict[int, float] = {}
        self._threads: dict[int, threading.Thread] = {}

    # -- ClockProtocol ------------------------------------------------------------------

    def now_utc(self) -> datetime:
        with self._cond:
            return self._wall

    def time(self) -> float:
        return self.now_utc().timestamp()

    def monotonic(self) -> float:
        with self._cond:
            return self._mono

    def adopt(self, thread: threading.Thread) -> None:
        with self._cond:
            if thread.ident is not None:
                self._threads[thread.ident] = thread
            else:
                self._threads[id(thread)] = thread

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> bool:
        me = threading.current_thread()
        ident = threading.get_ident()
        with self._cond:
            self._forget_placeholder(me)
            self._threads.setdefault(ident, me)
            deadline = self._mono + max(0.0, seconds)
            cancelled = False
            self._sleepers[ident] = deadline
            self._cond.notify_all()
            try:
                while self._mono < deadline:
                    if cancel is not None and cancel.is_set():
                        cancelled = True
                        break
                    self._cond.wait(self._POLL if cancel is not None else None)
            finally:
                self._sleepers.pop(ident, None)
                self._cond.notify_all()
            return cancelled

    # -- test controls ------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move time forward, waking each due sleeper in deadline order, then settle."""
        if seconds < 0:
            raise ValueError("time only moves forward; use jump_wall() for wall-clock jumps")
        with self._cond:
            target = self._mono + seconds
        self.settle()
        while True:
            with self._cond:
                due = [d for d in self._sleepers.values() if d <= target]
                step_to = min(due) if due else target
                delta = step_to - self._mono
                if delta > 0:
                    self._mono = step_to
                    self._wall += timedelta(seconds=delta)
                self._cond.notify_all()
            self.settle()
            if step_to >= target:
                return

    def jump_wall(self, delta: timedelta) -> None:
        """Jump the wall clock (as NTP does at boot on a Pi) without moving monotonic time."""
        with self._cond:
            self._wall += delta

    def settle(self, timeout: float | None = None) -> None:
        """Wait until every thread using the clock sleeps past ``now`` or has ended."""
        limit = self.settle_timeout if timeout is None else timeout
        end = time.monotonic() + limit
        with self._cond:
            while True:
                busy = self._busy_threads()
                if not busy:
                    return
                remaining = end - time.monotonic()
                if remaining <= 0:
                    names = ", ".join(sorted(t.name for t in busy))
                    raise SimClockTimeout(
                        f"threads still running after {limit}s of real time: {names}"
                    )
                self._cond.wait(min(remaining, 0.05))

    def sleeping(self) -> int:
        """How many threads are asleep on the clock right now."""
        with self._cond:
            return len(self._sleepers)

    def _busy_threads(self) -> list[threading.Thread]:
        busy = []
        for key, thread in list(self._threads.items()):
            if not thread.is_alive():
                if thread.ident is not None or key != id(thread):
                    del self._threads[key]
                    continue
                busy.append(thread)  # adopted but not yet started
                continue
            ident = thread.ident
            deadline = self._sleepers.get(ident) if ident is not None else None
            if deadline is None or deadline <= self._mono:
                busy.append(thread)
        return busy

    def _forget_placeholder(self, me: threading.Thread) -> None:
        self._threads.pop(id(me), None)
