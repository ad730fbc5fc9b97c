"""HistorySink: format, batching, filters, rotation, bounded buffer, shutdown, recovery."""

from __future__ import annotations

import gzip
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bussdcc import Message, Severity, SimClock
from bussdcc_system.history.reader import list_segments, read_records
from bussdcc_system.history.sink import HistorySink
from tests.bussdcc_system.history.history_helpers import (
    T0,
    all_lines,
    cpu,
    rig,
    segment_files,
    temp,
)


@dataclass(slots=True, frozen=True)
class Loud(Message):
    name = "test.loud"
    severity = Severity.WARNING
    n: int


@dataclass(slots=True, frozen=True)
class Odd(Message):
    name = "test.odd"
    value: float


def test_one_line_per_event_in_the_documented_format(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.emit(cpu(12.5))
        r.clock.advance(5)
        path = tmp_path / "2026-03-01" / "10-00-00.jsonl"
        lines = path.read_bytes().splitlines()
    header, line = (json.loads(x) for x in lines)
    assert header["name"] == "history.segment"
    assert header["data"]["number"] == 1
    assert list(line) == ["time", "name", "data", "boot", "mono", "seq"]
    assert line["time"] == "2026-03-01T10:00:00.000Z"
    assert line["name"] == "system.cpu.usage.updated"
    assert line["data"]["percent"] == 12.5
    assert line["data"]["per_core"] == [12.5, None]
    assert line["boot"] == "boot-a"
    assert line["mono"] == 1000.0
    assert line["seq"] == 1


def test_events_are_batched_into_one_write_per_flush(tmp_path: Path) -> None:
    with rig(tmp_path, flush_interval=5.0) as r:
        for i in range(50):
            r.emit(cpu(float(i)))
        r.clock.advance(4.9)
        assert r.sink.stats().records == 0
        assert r.sink.stats().writes == 0
        r.clock.advance(0.1)
        stats = r.sink.stats()
        assert stats.records == 50
        assert stats.writes == 1  # header and 50 lines in one write()
        assert stats.fsyncs == 0  # no fsync until rotation or shutdown
        assert stats.pending == 0
        assert stats.segment == "2026-03-01/10-00-00.jsonl"


def test_filters_by_severity_and_name_globs(tmp_path: Path) -> None:
    with rig(
        tmp_path,
        min_severity="warning",
        include=("test.*", "system.*"),
        exclude=("system.temperature.*",),
    ) as r:
        r.emit(cpu(1.0))  # info: below the minimum
        r.emit(Loud(1))
        r.emit(temp(50.0))
        r.clock.advance(5)
    with rig(tmp_path / "b", include=("system.*",), exclude=("system.temperature.*",)) as r2:
        r2.emit(cpu(1.0))
        r2.emit(temp(50.0))
        r2.emit(Loud(2))
        r2.clock.advance(5)
    assert [x.name for x in read_records(tmp_path)] == ["test.loud"]
    assert [x.name for x in read_records(tmp_path / "b")] == ["system.cpu.usage.updated"]


def test_rotation_by_monotonic_interval_closes_indexes_and_compresses(tmp_path: Path) -> None:
    with rig(tmp_path, rotate_interval=60.0) as r:
        for i in range(150):
            r.emit(cpu(float(i % 100)))
            r.clock.advance(1)
        stats = r.sink.stats()
        segs = list_segments(tmp_path)
        assert [s.number for s in segs] == [1, 2, 3]
        assert [s.compressed for s in segs] == [True, True, False]
        assert [s.indexed for s in segs] == [True, True, False]
        assert segs[0].records == 60 and segs[1].records == 60
        assert stats.rotations == 2
        assert (tmp_path / "2026-03-01" / "10-00-00.idx").exists()
        # rotation fsyncs the segment, its directory once, and the compressed copy
        assert stats.fsyncs <= 2 * 5
    headers = [x for x in all_lines(tmp_path) if x["name"] == "history.segment"]
    assert [h["data"]["reason"] for h in headers] == ["start", "interval", "interval"]
    assert [x.data["percent"] for x in read_records(tmp_path)] == [
        float(i % 100) for i in range(150)
    ]


def test_rotation_at_utc_day_change(tmp_path: Path) -> None:
    clock = SimClock(datetime(2026, 3, 1, 23, 59, 50, tzinfo=UTC))
    with rig(tmp_path, clock=clock) as r:
        r.sample_cpu(20)
    files = segment_files(tmp_path)
    assert files[0].startswith("2026-03-01/23-59-50.jsonl")
    assert files[1] == "2026-03-02/00-00-00.jsonl"
    days = {x.recorded_time[:10] for x in read_records(tmp_path / "")}
    assert days == {"2026-03-01", "2026-03-02"}
    for seg in list_segments(tmp_path):
        times = {x.recorded_time[:10] for x in read_records(tmp_path, segments=[seg])}
        assert len(times) == 1  # a segment never spans two days


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
    from bussdcc import EventBus

    bus = EventBus(clock)
    sink.subscribe(bus)
    for i in range(20000):
        bus.emit(cpu(float(i % 100)))
    assert sink.stats().pending == 100
    assert sink.stats().dropped == 19900
    sink.close()  # never started: close writes what is buffered, synchronously
    assert len(list(read_records(tmp_path))) == 100


def test_close_flushes_fsyncs_and_next_start_finalises(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        for i in range(7):
            r.emit(cpu(float(i)))
    stats = r.sink.stats()
    assert stats.records == 7 and stats.fsyncs >= 1
    segs = list_segments(tmp_path)
    assert len(segs) == 1 and segs[0].indexed and not segs[0].compressed
    # the next run (same boot: the monotonic clock goes on) compresses it, numbers go on
    with rig(tmp_path, clock=r.clock) as r2:
        r2.emit(cpu(99.0))
        r2.clock.advance(5)
        segs = list_segments(tmp_path)
        assert [s.number for s in segs] == [1, 2]
        assert segs[0].compressed and segs[0].indexed
    assert [x.data["percent"] for x in read_records(tmp_path)] == [*map(float, range(7)), 99.0]
    headers = [x for x in all_lines(tmp_path) if x["name"] == "history.segment"]
    assert [h["data"]["reason"] for h in headers] == ["start", "start"]


def test_recovery_cuts_a_torn_last_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with rig(tmp_path) as r:
        for i in range(5):
            r.emit(cpu(float(i)))
    seg = tmp_path / "2026-03-01" / "10-00-00.jsonl"
    (tmp_path / "2026-03-01" / "10-00-00.idx").unlink()  # as after a crash
    with seg.open("ab") as f:
        f.write(b'{"time":"2026-03-01T10:00:05.000Z","name":"system.cpu.us')
    caplog.set_level(logging.WARNING, "bussdcc_system.history")
    with rig(tmp_path, clock=r.clock):
        pass
    assert any("torn last line" in rec.getMessage() for rec in caplog.records)
    gz = seg.with_name("10-00-00.jsonl.gz")
    assert not seg.exists() and gz.exists()
    assert gzip.decompress(gz.read_bytes()).endswith(b"}\n")
    assert [x.data["percent"] for x in read_records(tmp_path)] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_non_finite_numbers_are_written_as_null(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.emit(Odd(float("nan")))
        r.emit(Odd(float("inf")))
        r.emit(Odd(1.5))
        r.clock.advance(5)
    assert [x.data["value"] for x in read_records(tmp_path)] == [None, None, 1.5]


def test_one_hour_at_twelve_events_per_second_costs_few_writes(tmp_path: Path) -> None:
    with rig(tmp_path, rotate_interval=3600.0) as r:
        for _ in range(600):  # 10 minutes, 12 events a second
            for _ in range(12):
                r.emit(cpu(5.0))
            r.clock.advance(1)
        stats = r.sink.stats()
    assert stats.records == 7200
    assert stats.writes <= 600 / 5 + 2  # one write per 5 s flush
    assert stats.fsyncs == 0  # nothing was closed yet in those 10 minutes


def test_from_config_reads_the_history_section(tmp_path: Path) -> None:
    from bussdcc_system.config import HistoryConfig

    cfg = HistoryConfig(
        directory=str(tmp_path),
        flush_interval=2.0,
        rotate_interval=600.0,
        retention_days=3.0,
        max_size_mb=1.0,
        compress=False,
        min_severity="warning",
        include=("a.*",),
        exclude=("a.b",),
    )
    sink = HistorySink.from_config(cfg, clock=SimClock(T0), boot_id="x")
    assert sink.directory == tmp_path
    assert sink.flush_interval == 2.0 and sink.rotate_interval == 600.0
    assert sink.retention_days == 3.0 and sink.max_bytes == 1024 * 1024
    assert sink.compress is False and sink.min_severity == Severity.WARNING
    assert sink.wants("a.c") and not sink.wants("a.b") and not sink.wants("b")
    sink.close()


def test_close_is_idempotent_and_stops_taking_events(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.emit(cpu(1.0))
    r.sink.close()
    r.emit(cpu(2.0))  # the subscription was cancelled
    r.sink.close()
    assert [x.data["percent"] for x in read_records(tmp_path)] == [1.0]
