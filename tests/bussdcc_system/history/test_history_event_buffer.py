"""The bounded buffer on the dispatch path: drops the oldest, counts, reports."""

from __future__ import annotations

from pathlib import Path

from bussdcc import EventBus, Severity
from bussdcc.testing import SimClock
from bussdcc_system.history.reader import read_records
from bussdcc_system.history.sink import HistorySink
from tests.bussdcc_system.history.history_helpers import T0, cpu, rig


def test_full_buffer_drops_oldest_counts_and_reports(tmp_path: Path) -> None:
    with rig(tmp_path, buffer_size=10, start=False) as r:
        for i in range(25):
            r.emit(cpu(float(i)))  # no writer yet: handle() must not wait for one
        assert r.sink.stats().dropped == 15
        r.sink.start()
        r.clock.advance(5)
        assert [x.data["percent"] for x in read_records(tmp_path)] == [
            float(i) for i in range(15, 25)
        ]
        dropped = [m for m in r.emitted if m.name == "history.dropped"]
        assert len(dropped) == 1
        assert dropped[0].severity == Severity.ERROR
        d = dropped[0].to_dict()
        assert d["dropped"] == 15 and d["total"] == 15
        assert "buffer of 10 events was full" in d["reason"]
        # more drops within a minute are reported together, later
        for i in range(25):
            r.emit(cpu(float(i)))
        r.clock.advance(5)
        assert len([m for m in r.emitted if m.name == "history.dropped"]) == 1
        r.clock.advance(60)
        later = [m.to_dict() for m in r.emitted if m.name == "history.dropped"]
        assert later[-1]["dropped"] == 15 and later[-1]["total"] == 30


def test_handle_is_bounded_without_a_writer(tmp_path: Path) -> None:
    clock = SimClock(T0)
    sink = HistorySink(tmp_path, clock=clock, boot_id="b", buffer_size=100)

    bus = EventBus(clock)
    sink.subscribe(bus)
    for i in range(20000):
        bus.emit(cpu(float(i % 100)))
    assert sink.stats().pending == 100
    assert sink.stats().dropped == 19900
    sink.close()  # never started: close writes what is buffered, synchronously
    assert len(list(read_records(tmp_path))) == 100
