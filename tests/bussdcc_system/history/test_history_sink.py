"""HistorySink: batching, name and severity filters, shutdown and the next start, write counts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bussdcc import Message, Severity
from bussdcc.testing import SimClock
from bussdcc_system.history.reader import list_segments, read_records
from bussdcc_system.history.sink import HistorySink
from tests.bussdcc_system.history.history_helpers import T0, all_lines, cpu, rig, temp


@dataclass(slots=True, frozen=True)
class Loud(Message):
    name = "test.loud"
    severity = Severity.WARNING
    n: int


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
        assert stats.writes == 1  # header and 50 lines in one gzip member, one write()
        assert stats.fsyncs == 0  # routine telemetry: no fsync until rotation or shutdown
        assert stats.pending == 0
        assert stats.segment == "2026-03-01/10-00-00.jsonl.gz"


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


def test_close_flushes_fsyncs_and_next_start_finalises(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        for i in range(7):
            r.emit(cpu(float(i)))
    stats = r.sink.stats()
    assert stats.records == 7 and stats.fsyncs >= 1
    segs = list_segments(tmp_path)
    assert len(segs) == 1 and segs[0].indexed and segs[0].compressed
    # the next run (same boot: the monotonic clock goes on): numbers go on
    with rig(tmp_path, clock=r.clock) as r2:
        r2.emit(cpu(99.0))
        r2.clock.advance(5)
        segs = list_segments(tmp_path)
        assert [s.number for s in segs] == [1, 2]
        assert segs[0].compressed and segs[0].indexed
    assert [x.data["percent"] for x in read_records(tmp_path)] == [*map(float, range(7)), 99.0]
    headers = [x for x in all_lines(tmp_path) if x["name"] == "history.segment"]
    assert [h["data"]["reason"] for h in headers] == ["start", "start"]


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
