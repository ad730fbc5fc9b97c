"""Retention by age and by total size, oldest first, never the open segment."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bussdcc.testing import SimClock
from bussdcc_system.history.reader import list_segments, read_records
from bussdcc_system.history.retention import plan_retention, segment_ages
from tests.bussdcc_system.history.history_helpers import cpu, rig


def test_age_retention_at_rotation_uses_monotonic_age(tmp_path: Path) -> None:
    with rig(tmp_path, rotate_interval=60.0, retention_days=600 / 86400) as r:
        r.sample_cpu(1800)
        now_mono = r.clock.monotonic()
        segs = list_segments(tmp_path)
        assert r.sink.stats().segments_deleted > 15
    for s in segs:
        assert s.last_mono is not None and now_mono - s.last_mono <= 600 + 60
    numbers = [s.number or 0 for s in segs]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # newest kept


def test_size_retention_deletes_oldest_first_and_never_the_open_segment(tmp_path: Path) -> None:
    with rig(tmp_path, rotate_interval=60.0, max_size_mb=None) as r:
        r.sample_cpu(600)
        segs = list_segments(tmp_path)
    closed_size = sum(s.total_size for s in segs[:-1])
    budget = sum(s.total_size for s in segs[-4:])  # room for the 4 newest

    def plan_for(max_bytes: int) -> list[int]:
        plan = plan_retention(
            segs, now_wall=0.0, now_mono=0.0, boot=None, retention_days=None,
            max_bytes=max_bytes, keep=[segs[-1].path],
        )  # fmt: skip
        assert {d.reason for d in plan} <= {"size"}
        return [d.segment.number for d in plan]

    assert plan_for(budget) == [s.number for s in segs[:-4]]
    # a budget smaller than the open segment alone still keeps it
    assert plan_for(1) == [s.number for s in segs[:-1]]
    assert closed_size > 0


def test_size_retention_in_the_running_sink(tmp_path: Path) -> None:
    with rig(
        tmp_path, rotate_interval=60.0, max_size_mb=6000 / 1024 / 1024, retention_days=None
    ) as r:
        r.sample_cpu(1230)
        segs = list_segments(tmp_path)
        open_seg = r.sink.stats().segment
    total = sum(s.total_size for s in segs)
    closed = [s for s in segs if s.name != open_seg]
    assert total - segs[-1].total_size <= 6000
    assert segs[-1].name == open_seg and closed
    got = [x.time for x in read_records(tmp_path)]
    assert got[-1] - got[0] < 1200  # the oldest went


def test_empty_day_directories_are_removed(tmp_path: Path) -> None:
    clock = SimClock(datetime(2026, 3, 1, 23, 50, tzinfo=UTC))
    with rig(tmp_path, clock=clock, rotate_interval=300.0, retention_days=900 / 86400) as r:
        r.sample_cpu(3600)
    assert not (tmp_path / "2026-03-01").exists()
    assert (tmp_path / "2026-03-02").is_dir()


def test_ages_are_unknown_without_any_plausible_later_data(tmp_path: Path) -> None:
    clock = SimClock(datetime(1970, 1, 2, tzinfo=UTC))
    with rig(tmp_path, clock=clock, boot_id="old") as r:
        r.emit(cpu(1.0))
    segs = list_segments(tmp_path, now=datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    ages = segment_ages(
        segs, now_wall=datetime(2026, 1, 1, tzinfo=UTC).timestamp(), now_mono=0.0, boot="new"
    )
    assert ages == [float("-inf")]
