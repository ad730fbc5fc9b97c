"""Chart queries: min/avg/max per time bucket, fast thanks to per-minute rollups.

A metric is ``message.name:field`` (see ``metrics.py``).

Bucket semantics: the step is the smallest "nice" step (1, 2, 5, 10, 15, 30 s, 1, 2, 5,
10, 15, 20, 30 min, 1, 2, 3, 6, 12 h, days) that covers ``[start, end)`` in at most
``points`` buckets aligned to multiples of the step since the epoch (so to UTC
minutes, hours and days). The first and last buckets are whole: records in
``[floor(start), ceil(end))`` at step granularity count. Empty buckets are returned
with ``count == 0`` and ``None`` values, so a chart shows gaps.

Speed: a query whose step is a whole number of minutes reads one line of each sidecar
index (``rollup.py``) instead of the segment; segments without an index (the open one),
with a clock correction, or queried at a finer step are scanned, and the scan is
cached in-process (the open segment is read incrementally from where the last query
stopped, ``growing_segment.py``).

In the daemon's process the records the writer holds and has not written yet (routine
telemetry waits minutes in memory) are counted too (``live.py``): a chart always reaches
the present at full resolution.
"""

from __future__ import annotations

import json
import math
import os
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from bussdcc_system.history.catalogue import list_segments, overlaps
from bussdcc_system.history.growing_segment import Position, read_new
from bussdcc_system.history.live import open_rollup, unwritten
from bussdcc_system.history.lru import Lru
from bussdcc_system.history.metrics import extract, metric_name
from bussdcc_system.history.record_format import parse_line, split_lines
from bussdcc_system.history.rollup import (
    ROLLUP_SECONDS,
    Cell,
    clear_cells_cache,
    load_cells,
)
from bussdcc_system.history.segment_files import read_index_bytes, read_segment_bytes
from bussdcc_system.history.segment_info import SegmentInfo
from bussdcc_system.history.times import TimeLike, to_epoch

NICE_STEPS = (
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1200,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
)


class Samples:
    """``(corrected time, value)`` pairs of one metric, packed (a cached hour of 1-second
    samples is 56 KiB, not half a megabyte of tuples)."""

    __slots__ = ("times", "values")

    def __init__(self) -> None:
        self.times = array("d")
        self.values = array("d")

    def add(self, t: float, v: float) -> None:
        self.times.append(t)
        self.values.append(v)

    def copy(self) -> Samples:
        out = Samples()
        out.times.extend(self.times)
        out.values.extend(self.values)
        return out

    def __iter__(self) -> Iterator[tuple[float, float]]:
        return zip(self.times, self.values, strict=True)

    def __len__(self) -> int:
        return len(self.times)


OpenScan = tuple[Position, Samples]
"""How far an open segment was scanned, and the samples up to there."""


_raw_cache: Lru[
    tuple[str, str, float, str] | tuple[str, str, int, float, str], Samples | OpenScan
] = Lru(256)


def clear_caches() -> None:
    """Forget cached rollups and scans (benchmarks measure cold queries with it)."""
    clear_cells_cache()
    _raw_cache.clear()


def _scan(data: bytes, name: str, metric: str, shift: float, out: Samples) -> None:
    needle = json.dumps(name, ensure_ascii=False).encode()
    lines, tail = split_lines(data)
    if tail:
        lines.append(tail)
    for line in lines:
        if needle not in line:
            continue
        rec = parse_line(line)
        if rec is None or rec["name"] != name:
            continue
        v = extract(metric, name, rec["data"])
        if v is not None:
            out.add(rec["_t"] + shift, v)


def raw_values(seg: SegmentInfo, metric: str) -> Samples:
    """``(corrected time, value)`` of ``metric`` in one segment, by scanning it (cached)."""
    name = metric_name(metric)
    if seg.indexed:
        closed_key = ("closed", str(seg.path), seg.size, seg.shift, metric)
        cached = _raw_cache.get(closed_key)
        if isinstance(cached, Samples):
            return cached
        out = Samples()
        try:
            data, _complete = read_segment_bytes(seg.path)
        except OSError:
            return out
        _scan(data, name, metric, seg.shift, out)
        _raw_cache.put(closed_key, out)
        return out
    # An open (growing) segment: continue from where the last scan stopped.
    key = ("open", str(seg.path), seg.shift, metric)
    state = _raw_cache.get(key)
    since = state[0] if isinstance(state, tuple) else None
    try:
        position, lines, torn = read_new(seg.path, since)
    except FileNotFoundError:
        # a plain segment compressed by a later run since it was listed
        gz = seg.path.with_name(seg.path.name + ".gz")
        try:
            data, _complete = read_segment_bytes(gz)
        except OSError:
            return Samples()
        out = Samples()
        _scan(data, name, metric, seg.shift, out)
        return out
    except OSError:
        return Samples()
    if isinstance(state, tuple) and since is not None and position.ino == since.ino:
        values = state[1].copy()
    else:
        values = Samples()
    _scan(lines, name, metric, seg.shift, values)
    _raw_cache.put(key, (position, values))
    if torn:
        values = values.copy()
        _scan(torn, name, metric, seg.shift, values)
    return values


# -- the query ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bucket:
    """Aggregates of the samples whose corrected time is in ``[start, end)``."""

    start: float
    end: float
    count: int
    min: float | None
    avg: float | None
    max: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "t": self.start,
            "count": self.count,
            "min": self.min,
            "avg": self.avg,
            "max": self.max,
        }


@dataclass(frozen=True, slots=True)
class Series:
    """At most ``points`` buckets of ``step`` seconds covering ``[start, end)``."""

    metric: str
    start: float
    end: float
    step: float
    buckets: tuple[Bucket, ...]

    def __iter__(self) -> Iterator[Bucket]:
        return iter(self.buckets)

    def __len__(self) -> int:
        return len(self.buckets)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "start": self.start,
            "end": self.end,
            "step": self.step,
            "buckets": [b.to_dict() for b in self.buckets],
        }


def _count(t0: float, t1: float, step: int) -> int:
    return math.ceil(t1 / step) - math.floor(t0 / step)


def choose_step(t0: float, t1: float, points: int) -> int:
    """The smallest nice step giving at most ``points`` epoch-aligned buckets."""
    for step in NICE_STEPS:
        if _count(t0, t1, step) <= points:
            return step
    step = 86400
    while _count(t0, t1, step) > points:
        step *= 2
    return step


def bucket_bounds(t0: float, t1: float, points: int) -> tuple[int, float, int]:
    """``(step, first bucket start, number of buckets)`` for a query."""
    step = choose_step(t0, t1, points)
    first = math.floor(t0 / step)
    return step, float(first * step), math.ceil(t1 / step) - first


class _Accumulator:
    """Count, sum, min and max per bucket of ``step`` seconds over ``[lo, hi)``."""

    __slots__ = ("counts", "hi", "lo", "maxs", "mins", "step", "sums")

    def __init__(self, lo: float, hi: float, step: int, n: int) -> None:
        self.lo, self.hi, self.step = lo, hi, step
        self.counts = [0] * n
        self.mins = [math.inf] * n
        self.maxs = [-math.inf] * n
        self.sums = [0.0] * n

    def add(self, samples: Iterable[tuple[float, int, float, float, float]]) -> None:
        """``(time, count, min, max, sum)`` of one sample or one minute's rollup cell;
        those outside ``[lo, hi)`` are left out."""
        lo, hi, step = self.lo, self.hi, self.step
        counts, mins, maxs, sums = self.counts, self.mins, self.maxs, self.sums
        for t, count, low, high, total in samples:
            if t < lo or t >= hi:
                continue
            i = int((t - lo) // step)
            counts[i] += count
            sums[i] += total
            if low < mins[i]:
                mins[i] = low
            if high > maxs[i]:
                maxs[i] = high

    def buckets(self) -> tuple[Bucket, ...]:
        lo, step, mins, maxs, sums = self.lo, self.step, self.mins, self.maxs, self.sums
        return tuple(
            Bucket(
                lo + i * step,
                lo + (i + 1) * step,
                c,
                mins[i] if c else None,
                sums[i] / c if c else None,
                maxs[i] if c else None,
            )
            for i, c in enumerate(self.counts)
        )


def query_series(
    directory: str | os.PathLike[str],
    metric: str,
    start: TimeLike,
    end: TimeLike,
    points: int = 300,
    *,
    segments: Sequence[SegmentInfo] | None = None,
) -> Series:
    """Downsample ``metric`` over ``[start, end)`` into at most ``points`` buckets."""
    if points < 1:
        raise ValueError("points must be at least 1")
    name = metric_name(metric)
    t0, t1 = to_epoch(start), to_epoch(end)
    if t0 is None or t1 is None:
        raise ValueError("start and end are required")
    if not (math.isfinite(t0) and math.isfinite(t1)):
        raise ValueError("start and end must be finite times")
    if t1 <= t0:
        return Series(metric, t0, t1, 0.0, ())
    step, lo, n = bucket_bounds(t0, t1, points)
    hi = lo + n * step
    acc = _Accumulator(lo, hi, step, n)
    segs = list_segments(directory) if segments is None else segments
    for seg in segs:
        if not overlaps(seg, lo, hi):
            continue
        if seg.names is not None and name not in seg.names:
            continue
        if step % ROLLUP_SECONDS == 0 and seg.shift == 0.0:
            cells: list[Cell] | None = None
            if seg.indexed:
                cells = load_cells(seg.index_path, metric)
            elif (live := open_rollup(seg.path)) is not None:
                cells = live.snapshot(metric)
            if cells is not None:
                acc.add((minute * ROLLUP_SECONDS, c, mn, mx, sm) for minute, c, mn, mx, sm in cells)
                continue
        acc.add((t, 1, v, v, v) for t, v in raw_values(seg, metric))
    unwritten_values = (  # after the files: never counted twice
        (t, extract(metric, name, data)) for t, data in unwritten(directory, name)
    )
    acc.add((t, 1, u, u, u) for t, u in unwritten_values if u is not None and math.isfinite(u))
    return Series(metric, lo, hi, float(step), acc.buckets())


def list_metrics(
    directory: str | os.PathLike[str], *, segments: Sequence[SegmentInfo] | None = None
) -> list[str]:
    """Metrics found in the most recent indexed segments (what a chart can ask for)."""
    segs = list_segments(directory) if segments is None else segments
    found: set[str] = set()
    for seg in [s for s in segs if s.indexed][-3:]:
        try:
            text = read_index_bytes(seg.index_path)
        except (OSError, ValueError):
            continue
        for line in text.split(b"\n")[1:]:
            tab = line.find(b"\t")
            if tab > 0:
                found.add(line[:tab].decode("utf-8", "replace"))
    return sorted(found)
