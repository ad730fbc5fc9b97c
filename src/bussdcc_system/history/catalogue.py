"""The segment catalogue: every segment of a history directory, in creation order.

Every segment starts with a header record carrying its creation ``number`` (one more
than any segment before it): the order in which segments were written, which no wall
clock can disturb. A segment holds one sink run (one boot) and one wall/monotonic
offset (the writer rotates when the wall clock jumps), so ``clock_jumps`` can correct
it as a whole. What a segment holds comes from its sidecar index when that is valid,
else from a scan; either is cached per file (size and mtime) in-process. The scan of a
gzip segment without an index (the open one, or one a crash left) goes on from where
the last one stopped (``growing_segment.py``), so listing every few seconds costs what
was written since; a plain one is read only at its ends. Record counts are known once
a segment has its index.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bussdcc_system.history.clock_jumps import JUMP_THRESHOLD, correct_segments
from bussdcc_system.history.growing_segment import Position, read_new
from bussdcc_system.history.lru import Lru
from bussdcc_system.history.record_format import HEADER_NAME, parse_line, split_lines
from bussdcc_system.history.segment_files import find_segment_files, index_path
from bussdcc_system.history.segment_info import SegmentInfo
from bussdcc_system.history.segment_summary import (
    SegmentSummary,
    read_index_summary,
    scan_head_tail,
)
from bussdcc_system.history.warn_once import warn_once

_catalog_cache: Lru[str, tuple[tuple[int, int, int, int], SegmentInfo]] = Lru(20000)
_scans: Lru[str, tuple[Position, SegmentSummary]] = Lru(64)
"""How far each unindexed gzip segment was summarised."""


def _summarize_growing(path: Path) -> SegmentSummary:
    """Header, first and last records of a gzip segment without an index (the open one, or
    one a crash left), decompressing only what is new since the last call. As for a plain
    one (``scan_head_tail``), its record counts stay unknown until it is closed: parsing
    every line of the open hour at each listing would cost more than the chart itself."""
    since = _scans.get(str(path))
    position, lines, torn = read_new(path, since[0] if since else None)
    if since is not None and position.ino == since[0].ino and position.offset >= since[0].offset:
        summary = replace(since[1])
    else:
        summary = SegmentSummary()
    _read_ends(summary, lines)
    _scans.put(str(path), (position, replace(summary)))
    if torn:
        _read_ends(summary, torn)  # what can be read of a member cut short
    return summary


def _read_ends(summary: SegmentSummary, data: bytes) -> None:
    lines, tail = split_lines(data)
    if tail:
        lines.append(tail)
    if summary.first_time is None:  # the header and the first record
        for line in lines[:3]:
            if summary.feed(parse_line(line) if line else None):
                break
    for line in reversed(lines):  # the last record
        rec = parse_line(line) if line else None
        if rec is not None and rec["name"] != HEADER_NAME:
            t = rec["_t"]
            summary.last_time = t
            summary.last_mono = rec.get("mono")
            summary.min_time = t if summary.min_time is None else min(summary.min_time, t)
            summary.max_time = t if summary.max_time is None else max(summary.max_time, t)
            break
    summary.bytes += len(data)


def _segment_info(stem: str, path: Path, compressed: bool, root: Path) -> SegmentInfo | None:
    try:
        st = path.stat()
    except OSError:
        return None
    index = index_path(path)
    try:
        ist = index.stat()
        imeta = (ist.st_size, ist.st_mtime_ns)
    except OSError:
        imeta = (-1, -1)
    key = (st.st_size, st.st_mtime_ns, imeta[0], imeta[1])
    cached = _catalog_cache.get(str(path))
    if cached is not None and cached[0] == key:
        return cached[1]
    summary = read_index_summary(index) if imeta[0] >= 0 else None
    indexed = summary is not None
    if summary is not None and not compressed and summary.bytes != st.st_size:
        summary, indexed = None, False  # the file changed after the index was written
    if summary is None:
        try:
            summary = _summarize_growing(path) if compressed else scan_head_tail(path, st.st_size)
        except OSError as exc:
            warn_once(path, -1, "cannot read history segment %s: %s", path, exc)
            return None
    known = indexed
    info = SegmentInfo(
        path=path,
        name=str(path.relative_to(root)),
        stem=stem,
        compressed=compressed,
        size=st.st_size,
        index_size=max(0, imeta[0]) if indexed else 0,
        indexed=indexed,
        number=summary.number,
        boot=summary.boot,
        offset=summary.offset,
        suspended=summary.suspended,
        first_time=summary.first_time,
        last_time=summary.last_time,
        min_time=summary.min_time,
        max_time=summary.max_time,
        first_mono=summary.first_mono,
        last_mono=summary.last_mono,
        records=summary.records if known else None,
        names=dict(summary.names) if known else None,
    )
    _catalog_cache.put(str(path), (key, info))
    return info


def list_segments(
    directory: str | os.PathLike[str], *, now: float | None = None
) -> list[SegmentInfo]:
    """Every segment in creation order, with clock corrections and plausibility.

    ``now`` (POSIX seconds, default the system clock) only serves to flag segments
    whose times lie in the future as implausible.
    """
    root = Path(directory)
    infos = [
        info
        for stem, (path, compressed) in find_segment_files(root).items()
        if (info := _segment_info(stem, path, compressed, root)) is not None
    ]
    infos.sort(key=SegmentInfo.sort_key)
    return correct_segments(infos, now=now)


def overlaps(seg: SegmentInfo, start: float | None, end: float | None) -> bool:
    """Can the segment hold records with corrected time in ``[start, end)``?"""
    s, e = seg.start, seg.end
    if s is None or e is None:
        return True
    # exact bounds are known once indexed; otherwise the last record read from the tail
    # may be up to a (sub-jump) clock step before the latest one
    pad = 0.0 if seg.indexed or seg.compressed else JUMP_THRESHOLD
    if start is not None and e < start - pad:
        return False
    return not (end is not None and s >= end + pad)


def boot_spans(segments: Sequence[SegmentInfo]) -> dict[str, tuple[float, float]]:
    """Corrected (first, last) record time of every boot, from the catalogue."""
    spans: dict[str, tuple[float, float]] = {}
    for seg in segments:
        if seg.boot is None or seg.start is None or seg.end is None:
            continue
        s, e = spans.get(seg.boot, (seg.start, seg.end))
        spans[seg.boot] = (min(s, seg.start), max(e, seg.end))
    return spans
