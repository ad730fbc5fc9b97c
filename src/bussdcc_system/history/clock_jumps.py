"""Clock jumps: correcting recorded times with the monotonic clock, judging plausibility.

A Pi without RTC boots in 1970 or at its last shutdown time, then NTP steps the clock
forward. Within a boot the monotonic clock is the truth: the offset ``wall - mono`` of
the boot's *last* record is taken as correct, and earlier segments of that boot whose
offset differs by more than ``JUMP_THRESHOLD`` seconds are shifted onto it
(``SegmentInfo.shift``). A boot whose clock was never set keeps its recorded times
(nothing better is known) and its segments are flagged implausible. A host that
suspends (a laptop; not a Pi) stops the monotonic clock while asleep: the header's
``suspended`` (``CLOCK_BOOTTIME - CLOCK_MONOTONIC`` when the segment was opened) keeps
such a gap from being mistaken for a clock step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from bussdcc_system.history.segment_info import SegmentInfo

JUMP_THRESHOLD = 2.0
"""Seconds by which ``wall - mono`` must change to count as a clock jump."""
PLAUSIBLE_FLOOR = 1577836800.0
"""2020-01-01 UTC: wall times before it come from a clock that was never set."""
FUTURE_SLACK = 86400.0
"""A segment ending more than this after "now" has times from a wrong clock."""


def correct_segments(
    segments: Sequence[SegmentInfo], *, now: float | None = None
) -> list[SegmentInfo]:
    """Apply each boot's final clock offset, and flag implausible times (pure)."""
    final: dict[str, float] = {}
    for seg in segments:  # creation order: the last one of a boot wins
        if seg.boot is not None and seg.last_time is not None and seg.last_mono is not None:
            final[seg.boot] = seg.last_time - seg.last_mono - (seg.suspended or 0.0)
    now_t = now if now is not None else _wall_now()
    judge_future = now_t >= PLAUSIBLE_FLOOR
    out: list[SegmentInfo] = []
    latest = -math.inf
    for seg in segments:
        shift = 0.0
        if seg.boot in final and seg.offset is not None:
            delta = final[seg.boot] - (seg.offset - (seg.suspended or 0.0))
            if abs(delta) > JUMP_THRESHOLD:
                shift = delta
        fixed = replace(seg, shift=shift)
        start, end = fixed.start, fixed.end
        plausible = (
            start is not None
            and end is not None
            and start >= PLAUSIBLE_FLOOR
            and start >= latest - JUMP_THRESHOLD
            and (not judge_future or end <= now_t + FUTURE_SLACK)
        )
        if plausible:
            assert end is not None
            latest = max(latest, end)
        out.append(replace(fixed, plausible=plausible))
    return out


def _wall_now() -> float:
    return datetime.now(UTC).timestamp()
