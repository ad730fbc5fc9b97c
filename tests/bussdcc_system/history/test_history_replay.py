"""Replay through a real Runtime on a ReplayClock driven by a SimClock."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bussdcc import Event, Message, Runtime, Severity
from bussdcc.testing import SimClock
from bussdcc_system import messages as m
from bussdcc_system.history.reader import read_records
from bussdcc_system.history.replay import (
    RecordedMessage,
    ReplayClock,
    ReplayResult,
    rebuild_message,
    replay,
)
from tests.bussdcc_system.history.history_helpers import T0, cpu, rig, temp, throttling


@dataclass(slots=True, frozen=True)
class Custom(Message):
    name = "test.custom_not_importable_later"
    value: int


def _record(directory: Path) -> list[tuple[float, str]]:
    clock = SimClock(T0)
    net = m.NetworkUsageUpdated(
        (m.InterfaceUsage("eth0", 1, 2, 3, 4, 0, 0, 0, 0, 5.5, None),), 5.5, None
    )
    script = [
        cpu(1.0),
        temp(45.0),
        throttling(0x50005),
        net,
        Custom(3),
        cpu(2.0),
        m.health_changed("critical", "ok", ("too hot",)),
    ]
    gaps = [1, 2, 0.5, 3, 600, 1, 1]  # one long gap (the Pi was off for 10 minutes)
    with rig(directory, clock=clock) as r:
        for msg, gap in zip(script, gaps, strict=True):
            r.emit(msg)
            clock.advance(gap)
    return [(x.time, x.name) for x in read_records(directory)]


def _start_replay(
    directory: Path, base: SimClock, speed: float, **kw: object
) -> tuple[Runtime, list[Event[Message]], threading.Thread, list[ReplayResult], ReplayClock]:
    records = list(read_records(directory))
    clock = ReplayClock(records[0].time, speed=speed, base=base)
    rt = Runtime(clock=clock)
    seen: list[Event[Message]] = []
    rt.events.subscribe(seen.append, name="test")
    rt.boot()
    result: list[ReplayResult] = []
    t = threading.Thread(
        target=lambda: result.append(replay(rt.emit, clock, records, **kw)),  # type: ignore[arg-type]
        name="replay",
    )
    clock.adopt(t)
    t.start()
    base.settle()
    return rt, seen, t, result, clock


def test_replay_emits_in_order_at_recorded_times_and_speed(tmp_path: Path) -> None:
    recorded = _record(tmp_path)
    base = SimClock(datetime(2030, 1, 1, tzinfo=UTC))
    rt, seen, t, result, clock = _start_replay(tmp_path, base, speed=2.0)

    def replayed() -> list[Event[Message]]:
        return [e for e in seen if not e.name.startswith("runtime.")]

    assert [e.name for e in replayed()] == [recorded[0][1]]
    base.advance(1.5)  # 3 s of recorded time: the events at 0, 1 and 3 s
    assert [e.time.timestamp() for e in replayed()] == [r[0] for r in recorded[:3]]
    base.advance(310)
    t.join(5)
    assert not t.is_alive()
    got = replayed()
    assert [(e.time.timestamp(), e.name) for e in got] == recorded
    assert result[0].events == 7 and not result[0].cancelled
    rt.shutdown()
    # typed messages come back as their classes (severity included)
    assert isinstance(got[0].payload, m.CpuUsageUpdated)
    assert isinstance(got[2].payload, m.ThrottlingUnderVoltage)
    assert got[2].severity == Severity.WARNING
    assert isinstance(got[3].payload, m.NetworkUsageUpdated)
    assert got[3].payload.interfaces[0].rx_bytes_per_s == 5.5
    assert isinstance(got[6].payload, m.HealthCritical)
    assert clock.now_utc() >= datetime.fromtimestamp(recorded[-1][0], UTC)


def test_long_gaps_are_skipped(tmp_path: Path) -> None:
    recorded = _record(tmp_path)
    base = SimClock(datetime(2030, 1, 1, tzinfo=UTC))
    rt, seen, t, result, _ = _start_replay(tmp_path, base, speed=1.0, max_gap=60.0)
    base.advance(8)  # without the 600 s gap, 7.5 s of replay cover everything
    t.join(5)
    rt.shutdown()
    assert result[0].events == 7 and result[0].gaps_skipped == 1
    times = [e.time.timestamp() for e in seen if not e.name.startswith("runtime.")]
    assert times == [r[0] for r in recorded]


def test_replay_can_be_cancelled(tmp_path: Path) -> None:
    _record(tmp_path)
    base = SimClock(datetime(2030, 1, 1, tzinfo=UTC))
    cancel = threading.Event()
    rt, _seen, t, result, _ = _start_replay(tmp_path, base, speed=1.0, cancel=cancel)
    cancel.set()
    base.advance(0.01)
    t.join(5)
    rt.shutdown()
    assert result[0].cancelled and result[0].events == 1


def test_unknown_or_mismatched_records_replay_as_recorded_data() -> None:
    msg = rebuild_message("no.such.message", {"a": [1, 2], "b": {"c": None}})
    assert isinstance(msg, RecordedMessage) and msg.name == "no.such.message"
    assert msg.to_dict() == {"a": [1, 2], "b": {"c": None}}
    # a known name whose data does not fit the class (an older format) is kept as is
    odd = rebuild_message("system.cpu.usage.updated", {"user": 12.4, "idle": 84.5})
    assert isinstance(odd, RecordedMessage) and odd.to_dict()["user"] == 12.4
    assert type(odd) is type(rebuild_message("system.cpu.usage.updated", {}))


def test_replay_clock_follows_its_base_at_speed() -> None:
    base = SimClock(datetime(2030, 1, 1, tzinfo=UTC))
    clock = ReplayClock(T0, speed=10.0, base=base)
    assert clock.now_utc() == T0 and clock.monotonic() == 0.0
    base.advance(3)
    assert clock.now_utc() == T0 + timedelta(seconds=30)
    clock.seek(T0.timestamp() + 100)
    assert clock.now_utc() == T0 + timedelta(seconds=100) and clock.monotonic() == 100.0
    clock.seek(T0.timestamp())  # never backwards
    assert clock.monotonic() == 100.0
    with pytest.raises(ValueError):
        ReplayClock(T0, speed=0)
