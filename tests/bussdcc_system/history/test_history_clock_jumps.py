"""Clock jumps: a Pi without RTC boots in the past and NTP steps the clock forward.

Simulated with ``SimClock.jump_wall`` (wall time moves, monotonic time does not).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bussdcc.testing import SimClock
from bussdcc_system.history.query import query_series
from bussdcc_system.history.reader import list_segments, read_records
from bussdcc_system.history.retention import plan_retention
from tests.bussdcc_system.history.history_helpers import all_lines, cpu_rec, rig, write_segment


def test_boot_in_1970_then_ntp_jump_corrects_times_and_keeps_data(tmp_path: Path) -> None:
    clock = SimClock(datetime(1970, 1, 1, 0, 0, 5, tzinfo=UTC), monotonic_start=5.0)
    synced = datetime(2026, 3, 1, 10, 10, 5, tzinfo=UTC)
    with rig(tmp_path, clock=clock, retention_days=30.0) as r:
        r.sample_cpu(600)
        clock.jump_wall(synced - clock.now_utc())
        r.sample_cpu(600)
        segs = list_segments(tmp_path)
        # the jump closed the 1970 segment (and retention at that rotation kept it)
        assert [s.name for s in segs] == [
            "1970-01-01/00-00-05.jsonl.gz",
            "2026-03-01/10-10-05.jsonl.gz",
        ]
        assert (
            segs[0].shift == (synced - datetime(1970, 1, 1, 0, 10, 5, tzinfo=UTC)).total_seconds()
        )
        assert segs[0].plausible and segs[1].plausible and segs[1].shift == 0
    headers = [x for x in all_lines(tmp_path) if x["name"] == "history.segment"]
    assert [h["data"]["reason"] for h in headers] == ["start", "clock_jump"]
    got = list(read_records(tmp_path))
    assert len(got) == 1200
    # corrected time = synced offset + monotonic time: one second apart, no hole, no 1970
    expect_first = synced.timestamp() - 600
    assert [g.time for g in got] == [expect_first + i for i in range(1200)]
    assert got[0].recorded_time.startswith("1970-01-01T00:00:05")
    # a chart of the morning shows the samples taken before the clock was set
    series = query_series(
        tmp_path,
        "system.cpu.usage.updated:percent",
        synced - timedelta(minutes=10),
        synced + timedelta(minutes=10),
        20,
    )
    assert sum(b.count for b in series) == 1200


def test_stale_fake_hwclock_boot_is_ordered_after_the_previous_boot(tmp_path: Path) -> None:
    a = SimClock(datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    with rig(tmp_path, clock=a, boot_id="boot-a") as r:
        r.sample_cpu(3600, 10)
    # boot B starts with the clock restored to an older saved time, NTP 5 minutes later
    b = SimClock(datetime(2026, 3, 1, 10, 30, tzinfo=UTC), monotonic_start=20.0)
    with rig(tmp_path, clock=b, boot_id="boot-b") as r:
        r.sample_cpu(300, 10)
        b.jump_wall(timedelta(days=4))
        r.sample_cpu(300, 10)
    got = list(read_records(tmp_path))
    assert [g.boot for g in got] == ["boot-a"] * 360 + ["boot-b"] * 60
    times = [g.time for g in got]
    assert times == sorted(times)
    assert times[360] == datetime(2026, 3, 5, 10, 30, tzinfo=UTC).timestamp()
    assert all(s.plausible for s in list_segments(tmp_path))


def test_previous_boot_that_never_synced_is_not_deleted_for_its_1970_name(tmp_path: Path) -> None:
    a = SimClock(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    with rig(tmp_path, clock=a, boot_id="boot-a") as r:
        r.sample_cpu(600, 10)
    b = SimClock(datetime(1970, 1, 1, 0, 0, 10, tzinfo=UTC), monotonic_start=10.0)
    with rig(tmp_path, clock=b, boot_id="boot-b") as r:
        r.sample_cpu(600, 10)
    c = SimClock(datetime(2026, 3, 10, 8, 0, tzinfo=UTC), monotonic_start=30.0)
    with rig(tmp_path, clock=c, boot_id="boot-c", retention_days=30.0, rotate_interval=60.0) as r:
        r.sample_cpu(180, 10)
        segs = list_segments(tmp_path)
        boots = [s.boot for s in segs]
        # boot A (68 days old) went, boot B (named 1970) stays: it was written after A
        # and before C, so it is at most as old as C's first record
        assert "boot-a" not in boots
        assert boots.count("boot-b") == 1 and boots.count("boot-c") >= 3
        (seg_b,) = [s for s in segs if s.boot == "boot-b"]
        assert seg_b.name.startswith("1970-01-01/") and not seg_b.plausible
    segs = list_segments(tmp_path)

    def plan(now: datetime) -> list[str | None]:
        return [
            d.segment.boot
            for d in plan_retention(
                segs,
                now_wall=now.timestamp(),
                now_mono=0.0,
                boot="later-boot",
                retention_days=30.0,
                max_bytes=None,
            )
        ]

    assert plan(datetime(2026, 3, 30, tzinfo=UTC)) == []
    gone = plan(datetime(2026, 4, 30, tzinfo=UTC))
    assert "boot-b" in gone and "boot-c" in gone


def test_segment_named_in_the_future_neither_blocks_nor_causes_deletion(tmp_path: Path) -> None:
    a = SimClock(datetime(2030, 6, 1, tzinfo=UTC))  # an RTC set years ahead
    with rig(tmp_path, clock=a, boot_id="boot-a") as r:
        r.sample_cpu(300, 10)
    b = SimClock(datetime(2026, 3, 1, 10, 0, tzinfo=UTC), monotonic_start=50.0)
    with rig(
        tmp_path,
        clock=b,
        boot_id="boot-b",
        retention_days=30.0,
        rotate_interval=60.0,
        max_size_mb=None,
    ) as r:
        r.sample_cpu(300, 10)
        segs = list_segments(tmp_path, now=b.time())
        assert next(s.boot for s in segs) == "boot-a"  # written first, listed first
        assert not segs[0].plausible and all(s.plausible for s in segs[1:])
        assert len([s for s in segs if s.boot == "boot-b"]) >= 4
    got = [g.boot for g in read_records(tmp_path)]
    assert got == ["boot-a"] * 30 + ["boot-b"] * 30  # write order, not name order
    segs = list_segments(tmp_path, now=datetime(2026, 3, 2, tzinfo=UTC).timestamp())

    def deleted_on(day: datetime) -> set[str]:
        """The boots whose segments 30 days' retention deletes on ``day`` (after a reboot)."""
        plan = plan_retention(
            segs,
            now_wall=day.timestamp(),
            now_mono=0.0,
            boot=None,
            retention_days=30.0,
            max_bytes=None,
        )
        return {d.segment.boot for d in plan}

    assert deleted_on(datetime(2026, 3, 20, tzinfo=UTC)) == set()
    assert deleted_on(datetime(2026, 4, 15, tzinfo=UTC)) == {"boot-a", "boot-b"}


def test_nothing_is_deleted_by_age_while_the_clock_is_not_set(tmp_path: Path) -> None:
    a = SimClock(datetime(2026, 1, 1, tzinfo=UTC))
    with rig(tmp_path, clock=a, boot_id="boot-a") as r:
        r.sample_cpu(300, 10)
    c = SimClock(datetime(1970, 1, 1, 0, 0, 10, tzinfo=UTC), monotonic_start=10.0)
    with rig(tmp_path, clock=c, boot_id="boot-c", retention_days=1.0, rotate_interval=60.0) as r:
        r.sample_cpu(300, 10)
    assert {s.boot for s in list_segments(tmp_path)} == {"boot-a", "boot-c"}


def test_small_ntp_steps_are_not_jumps(tmp_path: Path) -> None:
    clock = SimClock(datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    with rig(tmp_path, clock=clock) as r:
        r.sample_cpu(60)
        clock.jump_wall(timedelta(seconds=0.5))
        r.sample_cpu(60)
    segs = list_segments(tmp_path)
    assert len(segs) == 1 and segs[0].shift == 0


@pytest.mark.parametrize(
    ("suspended", "expect_shift"),
    [(3600.0, 0.0), (0.0, 3600.0)],
    ids=["suspended-for-the-gap", "a-clock-step"],
)
def test_a_suspend_is_not_a_clock_step(
    tmp_path: Path, suspended: float, expect_shift: float
) -> None:
    t = datetime(2026, 3, 1, 10, 0, tzinfo=UTC).timestamp()
    write_segment(
        tmp_path,
        "2026-03-01/10-00-00.jsonl",
        [cpu_rec(t + i, boot="b", mono=100.0 + i) for i in range(60)],
        number=1,
        boot="b",
        header={"suspended": 0.0},
    )
    # an hour later by the wall clock, one second later by the monotonic clock
    write_segment(
        tmp_path,
        "2026-03-01/11-01-00.jsonl",
        [cpu_rec(t + 3660 + i, boot="b", mono=160.0 + i) for i in range(60)],
        number=2,
        boot="b",
        header={"suspended": suspended},
    )
    first, second = list_segments(tmp_path)
    assert first.shift == expect_shift and second.shift == 0.0
