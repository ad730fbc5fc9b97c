"""The reader: torn and invalid lines, ranges and names across days, write order, headers."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bussdcc.testing import SimClock
from bussdcc_system.history.reader import list_segments, read_records
from tests.bussdcc_system.history.history_helpers import (
    cpu,
    cpu_rec,
    cpu_segment,
    rig,
    temp,
    write_segment,
)

DAY = datetime(2026, 3, 1, tzinfo=UTC).timestamp()


def test_torn_last_line_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cpu_segment(tmp_path, 3, tail=b'{"time":"2026-03-01T10:00:03.000Z","na')
    caplog.set_level(logging.WARNING, "bussdcc_system.history")
    got = [r.data["percent"] for r in read_records(tmp_path)]
    assert got == [0, 1, 2]
    assert any("torn last line" in r.getMessage() for r in caplog.records)


def test_invalid_lines_anywhere_are_skipped_never_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = cpu_segment(tmp_path, 4)
    lines = path.read_bytes().splitlines(keepends=True)
    lines.insert(2, b"not json at all\n")
    lines.insert(3, b'{"time": 5, "name": "x", "data": {}}\n')  # wrong types
    lines.insert(4, b"[1, 2, 3]\n")
    lines.append(b"\0" * 300)  # what a power cut can leave behind
    path.write_bytes(b"".join(lines))
    caplog.set_level(logging.WARNING, "bussdcc_system.history")
    assert [r.data["percent"] for r in read_records(tmp_path)] == [0, 1, 2, 3]
    assert sum("invalid line" in r.getMessage() for r in caplog.records) == 3


def test_range_and_names_across_days_in_order(tmp_path: Path) -> None:
    clock = SimClock(datetime(2026, 3, 1, 23, 0, tzinfo=UTC))
    with rig(tmp_path, clock=clock, rotate_interval=600.0) as r:
        for i in range(7200):  # two hours over midnight, 20 segments
            r.emit(cpu(float(i)) if i % 2 == 0 else temp(float(i)))
            clock.advance(1)
    start = datetime(2026, 3, 1, 23, 50, tzinfo=UTC)
    end = datetime(2026, 3, 2, 0, 10, tzinfo=UTC)
    got = list(read_records(tmp_path, start, end, ["system.temperature.updated"]))
    assert [g.data["celsius"] for g in got] == [float(i) for i in range(3001, 4200, 2)]
    assert all(g.name == "system.temperature.updated" for g in got)
    times = [g.time for g in got]
    assert times == sorted(times)
    assert times[0] >= start.timestamp() and times[-1] < end.timestamp()
    assert {g.recorded_time[:10] for g in got} == {"2026-03-01", "2026-03-02"}
    assert len(list(read_records(tmp_path))) == 7200


def test_missing_directory_and_vanished_segments(tmp_path: Path) -> None:
    assert list(read_records(tmp_path / "nope")) == []
    p = write_segment(tmp_path, "2026-03-01/10-00-00.jsonl", [cpu_rec(DAY, 1)], number=1)
    segs = list_segments(tmp_path)
    p.unlink()  # e.g. retention ran between listing and reading
    assert list(read_records(tmp_path, segments=segs)) == []


def test_include_meta_yields_segment_headers(tmp_path: Path) -> None:
    write_segment(tmp_path, "2026-03-01/10-00-00.jsonl", [cpu_rec(DAY, 1)], number=7)
    got = list(read_records(tmp_path, include_meta=True))
    assert [g.name for g in got] == ["history.segment", "system.cpu.usage.updated"]
    assert got[0].data["number"] == 7
