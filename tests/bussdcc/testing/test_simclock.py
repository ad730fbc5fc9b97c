"""SimClock: threads run in virtual time, deterministically, and only when advanced."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from bussdcc.testing import SimClock, SimClockTimeout


def test_advance_wakes_sleepers_in_deadline_order_and_settles() -> None:
    clock = SimClock()
    woke: list[tuple[str, float]] = []
    lock = threading.Lock()

    def sleeper(name: str, period: float, times: int) -> None:
        for _ in range(times):
            clock.sleep(period)
            with lock:
                woke.append((name, clock.monotonic() - 1000.0))

    threads = [
        threading.Thread(target=sleeper, args=("fast", 1.0, 5), name="fast"),
        threading.Thread(target=sleeper, args=("slow", 2.5, 2), name="slow"),
    ]
    for t in threads:
        clock.adopt(t)
        t.start()
    clock.advance(5.0)  # returns only when both are asleep again or done
    assert woke == [
        ("fast", 1.0),
        ("fast", 2.0),
        ("slow", 2.5),
        ("fast", 3.0),
        ("fast", 4.0),
        ("fast", 5.0),
        ("slow", 5.0),
    ] or woke == [
        ("fast", 1.0),
        ("fast", 2.0),
        ("slow", 2.5),
        ("fast", 3.0),
        ("fast", 4.0),
        ("slow", 5.0),
        ("fast", 5.0),
    ]
    for t in threads:
        t.join(5)
    assert clock.monotonic() == 1005.0


def test_time_only_moves_when_advanced() -> None:
    clock = SimClock()
    start_wall, start_mono = clock.now_utc(), clock.monotonic()
    assert clock.monotonic() == start_mono and clock.now_utc() == start_wall
    clock.advance(90)
    assert clock.monotonic() == start_mono + 90
    assert clock.now_utc() == start_wall + timedelta(seconds=90)
    assert clock.time() == (start_wall + timedelta(seconds=90)).timestamp()
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_wall_clock_can_jump_without_moving_monotonic_time() -> None:
    clock = SimClock()
    mono = clock.monotonic()
    wall = clock.now_utc()
    clock.jump_wall(timedelta(days=365))
    assert clock.now_utc() == wall + timedelta(days=365)
    assert clock.monotonic() == mono


def test_cancel_wakes_a_sleeper_without_moving_time() -> None:
    clock = SimClock()
    cancel = threading.Event()
    result: list[bool] = []
    t = threading.Thread(target=lambda: result.append(clock.sleep(100, cancel)))
    clock.adopt(t)
    t.start()
    clock.settle()
    assert clock.sleeping() == 1
    cancel.set()
    t.join(5)
    assert result == [True]
    assert clock.monotonic() == 1000.0


def test_settle_reports_threads_blocked_outside_the_clock() -> None:
    clock = SimClock()
    release = threading.Event()
    t = threading.Thread(target=release.wait, name="blocked-elsewhere")
    clock.adopt(t)
    t.start()
    try:
        with pytest.raises(SimClockTimeout, match="blocked-elsewhere"):
            clock.settle(timeout=0.1)
    finally:
        release.set()
        t.join(5)
    clock.settle()  # the thread ended: nothing to wait for
