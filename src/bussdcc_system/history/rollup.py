"""Per-minute rollups: the sidecar index that makes chart queries fast.

When writing closes a segment it also writes a sidecar index: a summary line
(``segment_summary.py``), then for every metric per-UTC-minute ``count, min, max, sum``,
one line per metric: ``metric<TAB>[[minute, count, min, max, sum], ...]``, the whole
gzip-compressed (version 1 wrote it plain: both are read). The writer also publishes
the rollup of its open segment in-process (``live.py``), so chart queries in the daemon
need not scan that segment.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bussdcc_system.history.lru import Lru
from bussdcc_system.history.metrics import metric_values
from bussdcc_system.history.record_format import parse_line, split_lines
from bussdcc_system.history.segment_files import read_index_bytes
from bussdcc_system.history.segment_summary import SegmentSummary

ROLLUP_SECONDS = 60


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


def rollup_bytes(data: bytes) -> tuple[SegmentSummary, Rollup]:
    """Summary and rollup of a whole segment's content (for a segment without an index)."""
    summary = SegmentSummary(bytes=len(data))
    rollup = Rollup()
    lines, tail = split_lines(data)
    if tail:
        lines.append(tail)
    for line in lines:
        rec = parse_line(line) if line else None
        if rec is not None and summary.feed(rec):
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


_cells_cache: Lru[tuple[str, int, int, str], list[Cell]] = Lru(4096)
_MISSING: list[Cell] = []


def clear_cells_cache() -> None:
    """Forget cached sidecar cells (``query.clear_caches``)."""
    _cells_cache.clear()


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
        text = read_index_bytes(index)
    except (OSError, ValueError):
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
