"""The open segment: rotation by monotonic interval and at a UTC day change."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bussdcc.testing import SimClock
from bussdcc_system.history.reader import list_segments, read_records
from tests.bussdcc_system.history.history_helpers import all_lines, cpu, rig, segment_files


def test_rotation_by_monotonic_interval_closes_and_indexes(tmp_path: Path) -> None:
    with rig(tmp_path, rotate_interval=60.0) as r:
        for i in range(150):
            r.emit(cpu(float(i % 100)))
            r.clock.advance(1)
        stats = r.sink.stats()
        segs = list_segments(tmp_path)
        assert [s.number for s in segs] == [1, 2, 3]
        assert [s.compressed for s in segs] == [True, True, True]  # gzip as written
        assert [s.indexed for s in segs] == [True, True, False]  # the open one has no index
        assert segs[0].records == 60 and segs[1].records == 60
        assert stats.rotations == 2
        assert (tmp_path / "2026-03-01" / "10-00-00.idx").exists()
        # rotation syncs the segment (and its directory once): no compressed copy to write
        assert stats.fsyncs <= 2 * 2 + 1
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
    assert files[1] == "2026-03-02/00-00-00.jsonl.gz"
    days = {x.recorded_time[:10] for x in read_records(tmp_path / "")}
    assert days == {"2026-03-01", "2026-03-02"}
    for seg in list_segments(tmp_path):
        times = {x.recorded_time[:10] for x in read_records(tmp_path, segments=[seg])}
        assert len(times) == 1  # a segment never spans two days
