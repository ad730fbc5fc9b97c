"""Chart downsampling against a brute-force computation over the raw lines."""

from __future__ import annotations

import gzip
import math
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bussdcc.testing import SimClock
from bussdcc_system import messages as m
from bussdcc_system.history.query import choose_step, list_metrics, query_series
from bussdcc_system.history.reader import list_segments
from tests.bussdcc_system.history.history_helpers import all_lines, cpu, rig, temp

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
T0 = START.timestamp()


def net(eth0: float | None, wlan0: float) -> m.NetworkUsageUpdated:
    def iface(name: str, rate: float | None) -> m.InterfaceUsage:
        return m.InterfaceUsage(name, 10, 20, 1, 2, 0, 0, 0, 0, rate, 1.0)

    return m.NetworkUsageUpdated((iface("eth0", eth0), iface("wlan0", wlan0)), None, None)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three hours at 1 s with a 20-minute hole; closed indexed segments and an open one."""
    directory = tmp_path_factory.mktemp("history")
    rnd = random.Random(7)
    clock = SimClock(START)
    with rig(directory, clock=clock, rotate_interval=1800.0) as r:
        for i in range(3 * 3600 - 10):
            if 4000 <= i < 5200:  # the Pi was off
                clock.advance(1)
                continue
            r.emit(cpu(round(rnd.uniform(0, 100), 3)))
            r.emit(temp(40 + rnd.random() * 20, "cpu-thermal"))
            if i % 2 == 0:
                r.emit(temp(30 + rnd.random(), "gpu"))
            if i % 3 == 0:
                r.emit(net(None if i % 9 == 0 else float(i), 2.0))
            clock.advance(1)
        segs = list_segments(directory)
        assert segs[-1].indexed is False and all(s.indexed for s in segs[:-1])
    # leave the last segment as a crash would (open, no index)
    segs[-1].index_path.unlink()
    assert not list_segments(directory)[-1].indexed
    return directory


def _t(rec: dict[str, Any]) -> float:
    return datetime.fromisoformat(rec["time"]).timestamp()


def brute(
    directory: Path,
    name: str,
    value: Callable[[dict[str, Any]], float | None],
    start: float,
    end: float,
    points: int,
) -> list[tuple[float, int, float | None, float | None, float | None]]:
    """The expected buckets: epoch-aligned, at most ``points``, whole edge buckets."""
    step = choose_step(start, end, points)
    first = math.floor(start / step) * step
    n = math.ceil(end / step) - math.floor(start / step)
    assert n <= points
    vals: list[list[float]] = [[] for _ in range(n)]
    for rec in all_lines(directory):
        if rec["name"] != name:
            continue
        v = value(rec["data"])
        t = _t(rec)
        if v is None or not (first <= t < first + n * step):
            continue
        vals[int((t - first) // step)].append(v)
    return [
        (
            first + i * step,
            len(b),
            min(b) if b else None,
            sum(b) / len(b) if b else None,
            max(b) if b else None,
        )
        for i, b in enumerate(vals)
    ]


def _same(series: Any, expected: list[tuple[float, int, Any, Any, Any]]) -> None:
    got = [(b.start, b.count, b.min, b.avg, b.max) for b in series]
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g[:3] == e[:3] and g[4] == e[4]
        assert (g[3] is None) == (e[3] is None)
        if e[3] is not None:
            assert g[3] == pytest.approx(e[3], rel=1e-12)


CASES = [
    (0, 3 * 3600, 300),  # whole range, index path (step 60)
    (0, 3 * 3600, 100),  # step 120
    (17.3, 2 * 3600 + 5.5, 37),  # unaligned edges
    (3600 - 0.5, 3600 + 0.5, 2),  # around a segment boundary, step 1 (raw path)
    (3000, 6000, 1000),  # step 5 across the hole (empty buckets)
    (4100, 5100, 10),  # entirely inside the hole
    (-3600, 0, 5),  # before any data
    (9000, 12000, 60),  # the open segment (raw) and beyond the end
    (0, 3 * 3600, 1),  # a single bucket
    (1799, 1801, 4000),  # at most points; step 1
]


@pytest.mark.parametrize(("a", "b", "points"), CASES)
def test_cpu_percent_matches_brute_force(history: Path, a: float, b: float, points: int) -> None:
    series = query_series(history, "system.cpu.usage.updated:percent", T0 + a, T0 + b, points)
    assert len(series) <= points
    expected = brute(
        history, "system.cpu.usage.updated", lambda d: d["percent"], T0 + a, T0 + b, points
    )
    _same(series, expected)


def test_empty_buckets_are_returned_as_gaps(history: Path) -> None:
    series = query_series(history, "system.cpu.usage.updated:percent", T0 + 3600, T0 + 2 * 3600, 60)
    assert series.step == 60 and len(series) == 60
    empty = [b for b in series if b.count == 0]
    assert len(empty) == 19 and all(b.min is b.avg is b.max is None for b in empty)
    assert series.to_dict()["buckets"][0]["t"] == T0 + 3600


SELECTOR_CASES: list[tuple[str, str, Callable[[dict[str, Any]], float | None]]] = [
    (
        "system.temperature.updated:celsius",
        "system.temperature.updated",
        lambda d: d["celsius"],
    ),
    (
        "system.temperature.updated[zone=gpu]:celsius",
        "system.temperature.updated",
        lambda d: d["celsius"] if d["zone"] == "gpu" else None,
    ),
    (
        "system.cpu.usage.updated:per_core.0",
        "system.cpu.usage.updated",
        lambda d: d["per_core"][0],
    ),
    (
        "system.network.usage.updated:interfaces.eth0.rx_bytes_per_s",
        "system.network.usage.updated",
        lambda d: d["interfaces"][0]["rx_bytes_per_s"],
    ),
    (
        "system.network.usage.updated:rx_bytes",
        "system.network.usage.updated",
        lambda d: float(sum(i["rx_bytes"] for i in d["interfaces"])),
    ),
    (
        "system.network.usage.updated:tx_bytes_per_s",
        "system.network.usage.updated",
        lambda d: d["tx_bytes_per_s"],
    ),  # top-level None: no values
]


@pytest.mark.parametrize("points", [90, 4000])
@pytest.mark.parametrize(
    ("metric", "name", "value"), SELECTOR_CASES, ids=[c[0] for c in SELECTOR_CASES]
)
def test_selectors_nested_paths_and_sums_match_brute_force(
    history: Path,
    metric: str,
    name: str,
    value: Callable[[dict[str, Any]], float | None],
    points: int,
) -> None:
    a, b = T0, T0 + 3 * 3600
    _same(query_series(history, metric, a, b, points), brute(history, name, value, a, b, points))


def test_rollups_answer_without_reading_closed_segments(history: Path, tmp_path: Path) -> None:
    metric = "system.temperature.updated[zone=cpu-thermal]:celsius"
    expected = query_series(history, metric, T0, T0 + 3 * 3600, 180)
    copy = tmp_path / "h"
    for p in history.glob("*/*"):
        target = copy / p.relative_to(history)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(p.read_bytes())
    # empty every closed segment: only the sidecar indexes can still answer
    for seg in list_segments(copy)[:-1]:
        seg.path.write_bytes(gzip.compress(b""))
    got = query_series(copy, metric, T0, T0 + 3 * 3600, 180)
    assert [(b.count, b.min, b.max) for b in got] == [(b.count, b.min, b.max) for b in expected]
    assert sum(b.count for b in got) > 0


def test_open_segment_is_read_incrementally(tmp_path: Path) -> None:
    clock = SimClock(START)
    with rig(tmp_path, clock=clock) as r:
        for i in range(100):
            r.emit(cpu(float(i)))
            clock.advance(1)
        first = query_series(tmp_path, "system.cpu.usage.updated:percent", T0, T0 + 600, 600)
        assert sum(b.count for b in first) == 100
        for i in range(100, 250):
            r.emit(cpu(float(i)))
            clock.advance(1)
        second = query_series(tmp_path, "system.cpu.usage.updated:percent", T0, T0 + 600, 600)
        assert [b.max for b in second if b.count] == [float(i) for i in range(250)]
        # at whole minutes the writer's live rollup of its open segment answers
        for a, b, points in [(0, 600, 10), (30, 250, 3), (-60, 3600, 60)]:
            _same(
                query_series(tmp_path, "system.cpu.usage.updated:percent", T0 + a, T0 + b, points),
                brute(
                    tmp_path,
                    "system.cpu.usage.updated",
                    lambda d: d["percent"],
                    T0 + a,
                    T0 + b,
                    points,
                ),
            )


def test_steps_are_nice_and_bounded() -> None:
    day = 86400.0
    assert choose_step(T0, T0 + day, 300) == 300
    assert choose_step(T0, T0 + day, 1440) == 60
    assert choose_step(T0, T0 + 3600, 300) == 15
    assert choose_step(T0 + 0.5, T0 + 10.5, 10) == 2  # 11 one-second buckets would be too many
    for points in (1, 2, 7, 100, 333):
        for span in (1.0, 59.0, 3601.0, day * 7 + 13):
            step = choose_step(T0 + 1.7, T0 + 1.7 + span, points)
            assert math.ceil((T0 + 1.7 + span) / step) - math.floor((T0 + 1.7) / step) <= points


def test_bad_queries(history: Path) -> None:
    with pytest.raises(ValueError):
        query_series(history, "no-field", T0, T0 + 60, 10)
    with pytest.raises(ValueError):
        query_series(history, "system.cpu.usage.updated:percent", T0, T0 + 60, 0)
    empty = query_series(history, "system.cpu.usage.updated:percent", T0 + 60, T0, 10)
    assert len(empty) == 0
    unknown = query_series(history, "system.cpu.usage.updated:nope", T0, T0 + 3600, 10)
    assert all(b.count == 0 for b in unknown)


def test_list_metrics(history: Path) -> None:
    metrics = list_metrics(history)
    assert "system.cpu.usage.updated:percent" in metrics
    assert "system.temperature.updated[zone=gpu]:celsius" in metrics
    assert "system.network.usage.updated:interfaces.wlan0.tx_bytes_per_s" in metrics


def test_datetimes_are_accepted(history: Path) -> None:
    a = query_series(
        history, "system.cpu.usage.updated:percent", START, START + timedelta(hours=1), 60
    )
    b = query_series(history, "system.cpu.usage.updated:percent", T0, T0 + 3600, 60)
    assert a == b


def test_a_chart_in_the_daemon_reaches_the_present_counting_each_record_once(
    tmp_path: Path,
) -> None:
    metric = "system.cpu.usage.updated:percent"
    clock = SimClock(START)
    with rig(tmp_path, clock=clock, flush_interval=300.0) as r:
        for i in range(120):
            r.emit(cpu(float(i)))
            clock.advance(1)
        assert r.sink.stats().records == 0  # routine telemetry: still in the writer's hands
        for points in (600, 10):  # 1-second steps (raw) and whole minutes (rollups)
            series = query_series(tmp_path, metric, T0, T0 + 900, points)
            assert sum(b.count for b in series) == 120
        counts: list[int] = []
        stop = threading.Event()

        def poll() -> None:
            while not stop.is_set():
                for points in (900, 15):
                    counts.append(
                        sum(b.count for b in query_series(tmp_path, metric, T0, T0 + 900, points))
                    )

        poller = threading.Thread(target=poll)
        poller.start()
        try:
            for i in range(120, 900):  # three flushes while charts are being drawn
                r.emit(cpu(float(i)))
                clock.advance(1)
        finally:
            stop.set()
            poller.join()
        assert counts and max(counts) <= 900  # never a record counted twice
        assert r.sink.stats().records == 900
        series = query_series(tmp_path, metric, T0, T0 + 900, 900)
        assert [b.max for b in series if b.count] == [float(i) for i in range(900)]
