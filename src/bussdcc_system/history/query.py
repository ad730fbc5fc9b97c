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
stopped).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bussdcc_system.history.catalogue import list_segments, overlaps
from bussdcc_system.history.lru import Lru
from bussdcc_system.history.metrics import extract, metric_name
from bussdcc_system.history.record_format import parse_line, split_lines
from bussdcc_system.history.rollup import (
    ROLLUP_SECONDS,
    Cell,
    clear_cells_cache,
    live_rollup,
    load_cells,
)
from bussdcc_system.history.segment_files import read_segment_bytes
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


Samples = list[tuple[float, float]]
"""``(corrected time, value)`` pairs of one metric."""
OpenScan = tuple[int, int, Samples]
"""How far an open segment was scanned: ``(inode, offset, samples up to it)``."""


_raw_cache: Lru[
    tuple[str, str, float, str] | tuple[str, str, int, float, str], Samples | OpenScan
] = Lru(256)


def clear_caches() -> None:
    """Forget cached rollups and scans (benchmarks measure cold queries with it)."""
    clear_cells_cache()
    _raw_cache.clear()


def _scan(
    data: bytes, name: str, metric: str, shift: float, out: list[tuple[float, float]]
) -> None:
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
            out.append((rec["_t"] + shift, v))


def raw_values(seg: SegmentInfo, metric: str) -> list[tuple[float, float]]:
    """``(corrected time, value)`` of ``metric`` in one segment, by scanning it (cached)."""
    name = metric_name(metric)
    if seg.compressed or seg.indexed:
        closed_key = ("closed", str(seg.path), seg.size, seg.shift, metric)
        cached = _raw_cache.get(closed_key)
        if isinstance(cached, list):
            return list(cached)
        out: Samples = []
        try:
            data, _complete = read_segment_bytes(seg.path)
        except OSError:
            return []
        _scan(data, name, metric, seg.shift, out)
        _raw_cache.put(closed_key, out)
        return list(out)
    # An open (growing) plain segment: continue from where the last scan stopped.
    key = ("open", str(seg.path), seg.shift, metric)
    try:
        with seg.path.open("rb") as f:
            ino = os.fstat(f.fileno()).st_ino
            state = _raw_cache.get(key)
            offset, values = 0, Samples()
            if isinstance(state, tuple) and state[0] == ino and state[1] <= seg.size:
                offset, values = state[1], list(state[2])
            f.seek(offset)
            chunk = f.read()
    except FileNotFoundError:
        # closed and compressed since it was listed: read the compressed copy
        gz = seg.path.with_name(seg.path.name + ".gz")
        if not gz.exists():
            return []
        return raw_values(replace(seg, path=gz, compressed=True, size=gz.stat().st_size), metric)
    except OSError:
        return []
    cut = chunk.rfind(b"\n") + 1
    _scan(chunk[:cut], name, metric, seg.shift, values)
    _raw_cache.put(key, (ino, offset + cut, values))
    tail_values: list[tuple[float, float]] = []
    if cut < len(chunk):
        _scan(chunk[cut:], name, metric, seg.shift, tail_values)
    return values + tail_values


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
    counts = [0] * n
    mins = [math.inf] * n
    maxs = [-math.inf] * n
    sums = [0.0] * n
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
            elif not seg.compressed and (live := live_rollup(seg.path)) is not None:
                cells = live.snapshot(metric)
            if cells is not None:
                for minute, cnt, mn, mx, sm in cells:
                    t = float(minute * ROLLUP_SECONDS)
                    if t < lo or t >= hi:
                        continue
                    i = int((t - lo) // step)
                    counts[i] += cnt
                    sums[i] += sm
                    if mn < mins[i]:
                        mins[i] = mn
                    if mx > maxs[i]:
                        maxs[i] = mx
                continue
        for t, v in raw_values(seg, metric):
            if t < lo or t >= hi:
                continue
            i = int((t - lo) // step)
            counts[i] += 1
            sums[i] += v
            if v < mins[i]:
                mins[i] = v
            if v > maxs[i]:
                maxs[i] = v
    buckets = tuple(
        Bucket(
            lo + i * step,
            lo + (i + 1) * step,
            c,
            mins[i] if c else None,
            sums[i] / c if c else None,
            maxs[i] if c else None,
        )
        for i, c in enumerate(counts)
    )
    return Series(metric, lo, hi, float(step), buckets)


def list_metrics(
    directory: str | os.PathLike[str], *, segments: Sequence[SegmentInfo] | None = None
) -> list[str]:
    """Metrics found in the most recent indexed segments (what a chart can ask for)."""
    segs = list_segments(directory) if segments is None else segments
    found: set[str] = set()
    for seg in [s for s in segs if s.indexed][-3:]:
        try:
            text = seg.index_path.read_bytes()
        except OSError:
            continue
        for line in text.split(b"\n")[1:]:
            tab = line.find(b"\t")
            if tab > 0:
                found.add(line[:tab].decode("utf-8", "replace"))
    return sorted(found)
