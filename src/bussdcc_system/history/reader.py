"""Reading history: records in write order, clock-corrected, across segments and days.

``read_records`` walks the catalogue (``catalogue.list_segments``: creation order and
clock corrections) and yields each segment's records in line order, so records come in
the order they were written; with the clock shift applied their times are ordered too,
except in a boot whose clock was never set (see ``clock_jumps.py``).

Torn or invalid lines (a crash mid-write, a power cut leaving NUL bytes) are skipped
with one warning per line per process (none for the tail of the segment this process
is writing: a flush may be under way); reading never raises for bad data. Records
without a ``boot`` of their own (format version 2) inherit their segment's.

``SegmentInfo``, ``list_segments``, ``boot_spans``, ``TimeLike`` and ``to_epoch`` are
re-exported for the modules that read records and segments together.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from bussdcc_system.formatting import record_time
from bussdcc_system.history.catalogue import boot_spans, list_segments, overlaps
from bussdcc_system.history.live import is_open
from bussdcc_system.history.record_format import HEADER_NAME, parse_line, split_lines
from bussdcc_system.history.segment_files import read_segment_bytes
from bussdcc_system.history.segment_info import SegmentInfo
from bussdcc_system.history.times import TimeLike, to_epoch
from bussdcc_system.history.warn_once import warn_once

__all__ = [
    "Record",
    "SegmentInfo",
    "TimeLike",
    "boot_spans",
    "iter_segment",
    "list_segments",
    "read_records",
    "to_epoch",
]

log = logging.getLogger("bussdcc_system.history")


@dataclass(frozen=True, slots=True)
class Record:
    """One recorded event. ``time`` is corrected POSIX seconds (see the module doc)."""

    time: float
    recorded_time: str
    """The ``time`` field as written (the wall clock at the moment, maybe wrong)."""
    name: str
    data: dict[str, Any]
    boot: str | None
    mono: float | None
    seq: int | None
    segment: str

    def to_json(self) -> dict[str, Any]:
        """The record as exported: corrected ``time`` first, ``recorded_time`` if it differs."""
        out: dict[str, Any] = {"time": record_time(self.time), "name": self.name, "data": self.data}
        out["boot"] = self.boot
        out["mono"] = self.mono
        out["seq"] = self.seq
        if out["time"] != self.recorded_time:
            out["recorded_time"] = self.recorded_time
        return out


def _needles(names: Iterable[str]) -> list[bytes]:
    return [json.dumps(n, ensure_ascii=False).encode() for n in names]


def iter_segment(
    seg: SegmentInfo,
    *,
    names: frozenset[str] | None = None,
    start: float | None = None,
    end: float | None = None,
    include_meta: bool = False,
) -> Iterator[Record]:
    """Records of one segment, in line order; skips bad lines with a warning."""
    try:
        data, complete = read_segment_bytes(seg.path)
    except FileNotFoundError:
        alt = seg.path.with_name(seg.path.name + ".gz")
        try:
            data, complete = read_segment_bytes(alt)
        except OSError:
            log.debug("history segment %s vanished while reading", seg.path)
            return
    except OSError as exc:
        warn_once(seg.path, -1, "cannot read history segment %s: %s", seg.path, exc)
        return
    writing = is_open(seg.path)
    if not complete and not writing:
        warn_once(seg.path, -2, "history segment %s is truncated; reading what is there", seg.path)
    yield from _iter_lines(seg, data, names, start, end, include_meta, writing)


def _iter_lines(
    seg: SegmentInfo,
    data: bytes,
    names: frozenset[str] | None,
    start: float | None,
    end: float | None,
    include_meta: bool,
    writing: bool = False,
) -> Iterator[Record]:
    needles = _needles(names) if names is not None else None
    if needles is not None and include_meta:
        needles.append(_needles([HEADER_NAME])[0])
    lines, tail = split_lines(data)
    shift = seg.shift
    seg_boot = seg.boot
    pos = 0
    last_index = len(lines)
    for i, line in enumerate([*lines, tail] if tail else lines):
        where = pos
        pos += len(line) + 1
        if not line:
            continue
        if needles is not None and not any(n in line for n in needles):
            continue
        rec = parse_line(line)
        if rec is None:
            if i >= last_index and writing:
                continue  # a flush being written right now
            if i >= last_index:
                warn_once(
                    seg.path,
                    where,
                    "skipping a torn last line in %s (%d bytes at %d)",
                    seg.path,
                    len(line),
                    where,
                )
            else:
                warn_once(
                    seg.path,
                    where,
                    "skipping an invalid line in %s (%d bytes at %d)",
                    seg.path,
                    len(line),
                    where,
                )
            continue
        name = rec["name"]
        if name == HEADER_NAME and not include_meta:
            continue
        if names is not None and name not in names and name != HEADER_NAME:
            continue
        t = rec["_t"] + shift
        if (start is not None and t < start) or (end is not None and t >= end):
            continue
        seq = rec.get("seq")
        yield Record(
            time=t,
            recorded_time=rec["time"],
            name=name,
            data=rec["data"],
            boot=rec.get("boot") or seg_boot,
            mono=rec.get("mono"),
            seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
            segment=seg.name,
        )


def read_records(
    directory: str | os.PathLike[str],
    start: TimeLike = None,
    end: TimeLike = None,
    names: Iterable[str] | None = None,
    *,
    include_meta: bool = False,
    segments: Sequence[SegmentInfo] | None = None,
) -> Iterator[Record]:
    """Records with corrected time in ``[start, end)`` and a name in ``names`` (all if None).

    Across segments and days, gzip or not, in write order. ``include_meta`` also yields
    the ``history.segment`` header records.
    """
    t0, t1 = to_epoch(start), to_epoch(end)
    name_set = frozenset(names) if names is not None else None
    segs = list_segments(directory) if segments is None else segments
    for seg in segs:
        if not overlaps(seg, t0, t1):
            continue
        if (
            name_set is not None
            and not include_meta
            and seg.names is not None
            and not any(n in seg.names for n in name_set)
        ):
            continue
        yield from iter_segment(seg, names=name_set, start=t0, end=t1, include_meta=include_meta)
