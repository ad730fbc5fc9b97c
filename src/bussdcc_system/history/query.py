"""Chart queries: min/avg/max per time bucket, fast thanks to per-minute rollups.

A metric is ``message.name:field``. ``field`` is a top-level numeric field
(``system.cpu.usage.updated:percent``), a dotted path into nested data
(``system.cpu.usage.updated:per_core.0``; list elements that carry an ``interface``,
``mount``, ``zone``, ``device`` or ``name`` are addressed by it:
``system.network.usage.updated:interfaces.eth0.rx_bytes_per_s``), or the bare name of
a field of such list elements, which sums it over the elements
(``system.network.usage.updated:rx_bytes``). A selector picks one instance of a
message sent per device: ``system.disk.usage.updated[mount=/]:percent``. Booleans
count as 0/1.

Bucket semantics: the step is the smallest "nice" step (1, 2, 5, 10, 15, 30 s, 1, 2, 5,
10, 15, 20, 30 min, 1, 2, 3, 6, 12 h, days) that covers ``[start, end)`` in at most
``points`` buckets aligned to multiples of the step since the epoch (so to UTC
minutes, hours and days). The first and last buckets are whole: records in
``[floor(start), ceil(end))`` at step granularity count. Empty buckets are returned
with ``count == 0`` and ``None`` values, so a chart shows gaps.

Speed: when writing closes a segment it also writes a sidecar index with, for every
metric, per-UTC-minute ``count, min, max, sum`` (about 60 KB an hour). A query whose step
is a whole number of minutes reads one line of each sidecar instead of the segment;
segments without an index (the open one), with a clock correction, or queried at a
finer step are scanned, and the scan is cached in-process (the open segment is read
incrementally from where the last query stopped).
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bussdcc_system.history.catalogue import list_segments, overlaps
from bussdcc_system.history.lru import Lru
from bussdcc_system.history.record_format import HEADER_NAME, parse_line, split_lines
from bussdcc_system.history.segment_files import read_segment_bytes
from bussdcc_system.history.segment_info import SegmentInfo
from bussdcc_system.history.segment_summary import SegmentSummary
from bussdcc_system.history.times import TimeLike, to_epoch

IDENTITY_KEYS = ("interface", "mount", "zone", "device", "name")
"""Keys that name an element of a list (used instead of its index in metric paths)."""
SELECTOR_KEYS = ("zone", "mount", "interface", "device")
"""Top-level string fields that select one instance: ``name[mount=/]:percent``."""
MAX_KEYS = 512
MAX_DEPTH = 4
ROLLUP_SECONDS = 60
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


# -- flattening -------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        v = float(value)
        return v if math.isfinite(v) else None
    return None


def _identity(value: Any) -> str | None:
    if isinstance(value, Mapping):
        for key in IDENTITY_KEYS:
            ident = value.get(key)
            if isinstance(ident, str) and ident:
                return ident
    return None


def _flatten(prefix: str, value: Any, out: list[tuple[str, float]], depth: int) -> None:
    if len(out) >= MAX_KEYS:
        return
    v = _number(value)
    if v is not None:
        out.append((prefix, v))
        return
    if depth >= MAX_DEPTH:
        return
    if isinstance(value, Mapping):
        for k, item in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), item, out, depth + 1)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            key = _identity(item) or str(i)
            _flatten(f"{prefix}.{key}" if prefix else key, item, out, depth + 1)


def _fields(data: Mapping[str, Any]) -> list[tuple[str, float]]:
    flat: list[tuple[str, float]] = []
    _flatten("", data, flat, 0)
    sums: dict[str, float] = {}
    for value in data.values():
        if not isinstance(value, list | tuple):
            continue
        for item in value:
            if not isinstance(item, Mapping):
                continue
            for field, leaf in item.items():
                if field in data or isinstance(leaf, bool):
                    continue
                v = _number(leaf)
                if v is not None:
                    sums[field] = sums.get(field, 0.0) + v
    flat.extend(sums.items())
    return [(k, v) for k, v in flat if "\t" not in k and "\n" not in k]


def metric_values(name: str, data: Mapping[str, Any]) -> list[tuple[str, float]]:
    """Every ``(metric, value)`` one record contributes (what the rollup indexes)."""
    flat = _fields(data)
    out = [(f"{name}:{path}", v) for path, v in flat]
    for key in SELECTOR_KEYS:
        sel = data.get(key)
        if isinstance(sel, str) and sel and "]" not in sel and "\n" not in sel:
            out.extend((f"{name}[{key}={sel}]:{path}", v) for path, v in flat)
    return out[:MAX_KEYS]


def metric_name(metric: str) -> str:
    """The message name of a metric (``system.cpu.usage.updated`` for ``...:percent``)."""
    if ":" not in metric:
        raise ValueError(f"metric {metric!r} must look like 'message.name:field'")
    return metric.split("[", 1)[0].split(":", 1)[0]


_parsed: Lru[str, tuple[tuple[str, str] | None, str]] = Lru(4096)


def _parse_metric(metric: str) -> tuple[tuple[str, str] | None, str]:
    """``(selector, path)`` of a metric; the selector is ``(key, value)`` or None."""
    hit = _parsed.get(metric)
    if hit is not None:
        return hit
    head, sep, path = metric.partition("]:")
    selector: tuple[str, str] | None = None
    if sep and "[" in head:
        key, _, value = head.split("[", 1)[1].partition("=")
        selector = (key, value)
    else:
        path = metric.split(":", 1)[1] if ":" in metric else ""
    _parsed.put(metric, (selector, path))
    return selector, path


def _navigate(data: Mapping[str, Any], path: str) -> float | None:
    cur: Any = data
    for part in path.split("."):
        if isinstance(cur, Mapping):
            if part not in cur:
                return None
            cur = cur[part]
        elif isinstance(cur, list | tuple):
            for i, item in enumerate(cur):
                if (_identity(item) or str(i)) == part:
                    cur = item
                    break
            else:
                return None
        else:
            return None
    return _number(cur)


def _sum_of_elements(data: Mapping[str, Any], field: str) -> float | None:
    total: float | None = None
    for value in data.values():
        if not isinstance(value, list | tuple):
            continue
        for item in value:
            if isinstance(item, Mapping):
                leaf = item.get(field)
                v = None if isinstance(leaf, bool) else _number(leaf)
                if v is not None:
                    total = v if total is None else total + v
    return total


def extract(metric: str, name: str, data: Mapping[str, Any]) -> float | None:
    """The value of ``metric`` in one record's data (None if absent or not a number).

    Equal to what :func:`metric_values` gives for that key, without flattening the
    whole record in the common cases.
    """
    selector, path = _parse_metric(metric)
    if selector is not None and data.get(selector[0]) != selector[1]:
        return None
    v = _navigate(data, path)
    if v is not None:
        return v
    if "." not in path and path not in data:
        return _sum_of_elements(data, path)
    for key, value in metric_values(name, data):
        if key == metric:
            return value
    return None


# -- rollups ----------------------------------------------------------------------------

Cell = tuple[int, int, float, float, float]


class Rollup:
    """Per-UTC-minute ``[count, min, max, sum]`` of every metric of a segment."""

    __slots__ = ("cells", "lock")

    def __init__(self) -> None:
        self.cells: dict[str, dict[int, list[float]]] = {}
        self.lock = threading.Lock()

    def add(self, name: str, data: Mapping[str, Any], t: float) -> None:
        values = metric_values(name, data)
        with self.lock:
            self._add(values, int(t // ROLLUP_SECONDS))

    def _add(self, values: list[tuple[str, float]], minute: int) -> None:
        cells = self.cells
        for key, v in values:
            per = cells.get(key)
            if per is None:
                per = cells[key] = {}
            c = per.get(minute)
            if c is None:
                per[minute] = [1, v, v, v]
            else:
                c[0] += 1
                if v < c[1]:
                    c[1] = v
                if v > c[2]:
                    c[2] = v
                c[3] += v

    def snapshot(self, metric: str) -> list[Cell]:
        """One metric's cells, copied (the writer thread keeps adding)."""
        with self.lock:
            per = self.cells.get(metric)
            items = sorted(per.items()) if per else []
            return [(m, int(c[0]), c[1], c[2], c[3]) for m, c in items]


_live: dict[str, Rollup] = {}
_live_lock = threading.Lock()


def publish_live(segment: Path, rollup: Rollup | None) -> None:
    """The writer announces the rollup of its open segment (None when it closes it), so
    chart queries in the same process need not scan that segment."""
    with _live_lock:
        if rollup is None:
            _live.pop(str(segment), None)
        else:
            _live[str(segment)] = rollup


def live_rollup(segment: Path) -> Rollup | None:
    with _live_lock:
        return _live.get(str(segment))


def rollup_bytes(data: bytes) -> tuple[SegmentSummary, Rollup]:
    """Summary and rollup of a whole segment's content (for a segment without an index)."""
    summary = SegmentSummary(bytes=len(data))
    rollup = Rollup()
    lines, tail = split_lines(data)
    if tail:
        lines.append(tail)
    for line in lines:
        rec = parse_line(line) if line else None
        if rec is None:
            continue
        if rec["name"] == HEADER_NAME:
            summary.header(rec["data"], rec.get("boot"))
            continue
        summary.add(rec["name"], rec["_t"], rec.get("mono"), rec.get("boot"))
        rollup.add(rec["name"], rec["data"], rec["_t"])
    return summary, rollup


def index_bytes(summary: SegmentSummary, segment: str, rollup: Rollup) -> bytes:
    """The sidecar: a summary line, then ``metric<TAB>[[minute, count, min, max, sum]...]``."""
    sep = (",", ":")
    parts = [json.dumps(summary.to_json(segment), separators=sep)]
    with rollup.lock:
        frozen = {k: sorted(v.items()) for k, v in rollup.cells.items()}
    for key in sorted(frozen):
        cells = frozen[key]
        rows = [[m, int(c[0]), c[1], c[2], c[3]] for m, c in cells]
        parts.append(f"{key}\t{json.dumps(rows, separators=sep)}")
    return ("\n".join(parts) + "\n").encode()


Samples = list[tuple[float, float]]
"""``(corrected time, value)`` pairs of one metric."""
OpenScan = tuple[int, int, Samples]
"""How far an open segment was scanned: ``(inode, offset, samples up to it)``."""

_cells_cache: Lru[tuple[str, int, int, str], list[Cell]] = Lru(4096)
_raw_cache: Lru[
    tuple[str, str, float, str] | tuple[str, str, int, float, str], Samples | OpenScan
] = Lru(256)
_MISSING: list[Cell] = []


def clear_caches() -> None:
    """Forget cached rollups and scans (benchmarks measure cold queries with it)."""
    _cells_cache.clear()
    _raw_cache.clear()


def load_cells(index: Path, metric: str) -> list[Cell] | None:
    """One metric's minute cells from a sidecar; [] if it has none, None if unreadable."""
    try:
        st = index.stat()
    except OSError:
        return None
    key = (str(index), st.st_size, st.st_mtime_ns, metric)
    cached = _cells_cache.get(key)
    if cached is not None:
        return list(cached)
    try:
        text = index.read_bytes()
    except OSError:
        return None
    needle = b"\n" + metric.encode() + b"\t"
    at = text.find(needle)
    if at < 0:
        _cells_cache.put(key, _MISSING)
        return []
    begin = at + len(needle)
    stop = text.find(b"\n", begin)
    try:
        rows = json.loads(text[begin : stop if stop >= 0 else len(text)])
        cells = [(int(r[0]), int(r[1]), float(r[2]), float(r[3]), float(r[4])) for r in rows]
    except (ValueError, TypeError, IndexError):
        return None
    _cells_cache.put(key, cells)
    return cells


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
