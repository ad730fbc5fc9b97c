"""Durability by importance: warnings and lifecycle at once and synced, telemetry later."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bussdcc import Event, Message, Severity, message
from bussdcc_system.history.durability import LIFECYCLE_NAMES, Importance
from bussdcc_system.history.reader import read_records
from tests.bussdcc_system.history.history_helpers import T0, cpu, rig, throttling, until


@dataclass(slots=True, frozen=True)
class Loud(Message):
    name = "test.loud"
    severity = Severity.WARNING
    n: int


def _event(msg: Message) -> Event[Message]:
    return Event(msg, datetime(2026, 3, 1, tzinfo=UTC), 1.0, 1)


def test_warnings_lifecycle_and_the_all_clear_are_urgent_telemetry_is_not() -> None:
    importance = Importance()
    assert not importance.urgent(_event(cpu(1.0)))
    assert importance.urgent(_event(Loud(1)))
    assert importance.urgent(_event(message.ServiceStarted("telemetry.cpu")))
    assert importance.urgent(_event(message.RuntimeBooted("1")))
    assert importance.urgent(_event(message.DeviceAttached("fan", "gpio")))
    assert not importance.urgent(_event(message.RuntimeHeartbeat(1)))  # DEBUG: not lifecycle
    assert importance.urgent(_event(throttling(0x50005)))  # under-voltage: WARNING
    assert importance.urgent(_event(throttling(0x50000)))  # its end: the all-clear
    assert not importance.urgent(_event(throttling(0x50000)))  # nothing ended this time
    assert {"runtime.booted", "service.failure", "device.failed"} <= LIFECYCLE_NAMES
    assert "runtime.heartbeat" not in LIFECYCLE_NAMES


def test_a_warning_is_written_and_synced_at_once_telemetry_waits(tmp_path: Path) -> None:
    with rig(tmp_path, flush_interval=300.0) as r:
        for i in range(10):
            r.emit(cpu(float(i)))
        r.emit(Loud(1))  # the clock does not move: nothing but urgency writes it
        until(lambda: r.sink.stats().records == 11, "the warning's flush")
        # the sync: the segment, its directory and the day's parent the first time
        until(lambda: r.sink.stats().fsyncs == 3, "the warning's sync")
        synced = r.sink.stats().fsyncs
        for i in range(10, 15):
            r.emit(cpu(float(i)))
        r.clock.advance(299)
        assert r.sink.stats().records == 11  # routine telemetry waits in memory...
        r.clock.advance(1)
        stats = r.sink.stats()
        assert stats.records == 16  # ...for the flush interval
        assert stats.fsyncs == synced  # and is not synced
    names = [x.name for x in read_records(tmp_path)]
    assert names == ["system.cpu.usage.updated"] * 10 + ["test.loud"] + [names[-1]] * 5


def test_a_burst_of_lifecycle_messages_shares_a_few_syncs(tmp_path: Path) -> None:
    with rig(tmp_path, flush_interval=300.0) as r:
        r.emit(message.RuntimeBooting("1"))
        # the segment, its directory and the day's parent: three fsyncs the first time
        until(lambda: r.sink.stats().fsyncs == 3, "the first lifecycle message's sync")
        for i in range(20):
            r.emit(message.ServiceStarted(f"s{i}"))
        r.clock.advance(1)  # URGENT_GAP after the first sync
        until(lambda: r.sink.stats().records == 21, "the burst's flush")
        assert r.sink.stats().fsyncs <= 3 + 2


def test_many_events_are_flushed_before_the_interval_is_over(tmp_path: Path) -> None:
    from bussdcc_system.history.sink import FLUSH_EVENTS

    with rig(tmp_path, flush_interval=300.0, buffer_size=2 * FLUSH_EVENTS) as r:
        for i in range(FLUSH_EVENTS):
            r.emit(cpu(float(i % 100)))
        until(lambda: r.sink.stats().records == FLUSH_EVENTS, "the flush of a full batch")
        assert r.sink.stats().fsyncs == 0


def test_a_flood_of_telemetry_never_pushes_a_warning_out(tmp_path: Path) -> None:
    with rig(tmp_path, buffer_size=10, start=False) as r:
        r.emit(Loud(1))
        for i in range(25):
            r.emit(cpu(float(i)))
        assert r.sink.stats().dropped == 15
        r.sink.start()
        until(lambda: r.sink.stats().records == 11, "the urgent flush")
    got = [(x.name, x.data.get("percent")) for x in read_records(tmp_path)]
    assert got == [("test.loud", None)] + [
        ("system.cpu.usage.updated", float(i)) for i in range(15, 25)
    ]


def test_shutdown_writes_and_syncs_what_waits(tmp_path: Path) -> None:
    with rig(tmp_path, flush_interval=300.0) as r:
        for i in range(7):
            r.emit(cpu(float(i)))
        r.clock.advance(60)
        assert r.sink.stats().records == 0
    assert r.sink.stats().records == 7 and r.sink.stats().fsyncs >= 1
    assert T0.year == 2026 and len(list(read_records(tmp_path))) == 7
