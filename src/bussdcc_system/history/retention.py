"""Retention: by age and by total size, never fooled by a wrong wall clock.

Segments go in creation order (the header's ``number``), oldest first; the open
segment is never deleted.

Age is measured without trusting names or mtimes:

- a segment of the current boot: ``now_mono - last_mono``, exact whatever the wall
  clock says;
- any other: ``now - upper``, where ``upper`` is an upper bound of its true end time:
  its corrected end if its times are plausible, else the earliest plausible start of a
  segment written after it (it cannot have ended later than that). A segment named in
  1970, or in 2030, written before data from yesterday, is therefore at most a day
  old; with no plausible later segment its age is unknown and it is kept.
- while the wall clock itself is not set (before 2020), nothing is deleted by age.

Size: while all segments and indexes together exceed ``max_bytes``, the oldest closed
segment goes.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from bussdcc_system.history.clock_jumps import PLAUSIBLE_FLOOR
from bussdcc_system.history.segment_info import SegmentInfo

log = logging.getLogger("bussdcc_system.history")


@dataclass(frozen=True, slots=True)
class Deletion:
    segment: SegmentInfo
    reason: str
    """``"age"`` or ``"size"``."""


def segment_ages(
    segments: Sequence[SegmentInfo], *, now_wall: float, now_mono: float, boot: str | None
) -> list[float]:
    """A lower bound of each segment's age in seconds (``-inf`` when unknown)."""
    ages = [-math.inf] * len(segments)
    later_start = math.inf
    for i in range(len(segments) - 1, -1, -1):
        seg = segments[i]
        age = -math.inf
        if boot is not None and seg.boot == boot and seg.last_mono is not None:
            age = now_mono - seg.last_mono
            if age < 0:
                age = -math.inf  # not the same monotonic clock after all
        if age == -math.inf:
            own = seg.end if seg.plausible and seg.end is not None else math.inf
            upper = min(own, later_start)
            if math.isfinite(upper) and now_wall >= PLAUSIBLE_FLOOR:
                age = now_wall - upper
        ages[i] = age
        if seg.plausible and seg.start is not None:
            later_start = min(later_start, seg.start)
    return ages


def plan_retention(
    segments: Sequence[SegmentInfo],
    *,
    now_wall: float,
    now_mono: float,
    boot: str | None,
    retention_days: float | None,
    max_bytes: float | None,
    keep: Collection[Path] = (),
) -> list[Deletion]:
    """Which segments to delete (pure: nothing is touched)."""
    keep_set = {Path(p) for p in keep}

    def kept(seg: SegmentInfo) -> bool:
        plain = seg.path.with_name(seg.path.name.removesuffix(".gz"))
        return seg.path in keep_set or plain in keep_set

    out: list[Deletion] = []
    gone: set[int] = set()
    if retention_days is not None and retention_days > 0:
        limit = retention_days * 86400.0
        ages = segment_ages(segments, now_wall=now_wall, now_mono=now_mono, boot=boot)
        for i, (seg, age) in enumerate(zip(segments, ages, strict=True)):
            if age > limit and not kept(seg):
                out.append(Deletion(seg, "age"))
                gone.add(i)
    if max_bytes is not None and max_bytes > 0:
        total = sum(s.total_size for i, s in enumerate(segments) if i not in gone)
        for i, seg in enumerate(segments):
            if total <= max_bytes:
                break
            if i in gone or kept(seg):
                continue
            out.append(Deletion(seg, "size"))
            gone.add(i)
            total -= seg.total_size
    return out


def delete_segment(seg: SegmentInfo) -> None:
    """Remove a segment (both forms) and its index, then its day directory once empty."""
    base = seg.path.name.split(".", 1)[0]
    for name in (f"{base}.jsonl", f"{base}.jsonl.gz", f"{base}.idx"):
        (seg.path.parent / name).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        os.rmdir(seg.path.parent)  # only succeeds once the day is empty


def apply_retention(deletions: Sequence[Deletion]) -> tuple[int, list[str]]:
    """Delete; returns (segments deleted, errors in words)."""
    count, errors = 0, []
    for d in deletions:
        try:
            delete_segment(d.segment)
            count += 1
            log.info("history: deleted %s (%s retention)", d.segment.name, d.reason)
        except OSError as exc:
            errors.append(f"cannot delete {d.segment.path}: {exc.strerror or exc}")
    return count, errors
