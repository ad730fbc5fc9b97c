"""Power and throttling episodes, from the ``system.throttling.updated`` transitions.

The firmware's flags reset at every boot: only history remembers yesterday's
under-voltage. An episode is one flag (``under_voltage``, ``freq_capped``,
``throttled``, ``soft_temp_limit``) being set, from the sample where it was first seen
to the sample where it was seen clear (``end_reason="cleared"``), or ongoing.

- A boot change closes an open episode at the last record of the old boot (of any
  name: the throttling device only reports changes), ``end_reason="reboot"``.
- At a boot's first sample, a flag's "occurred since boot" bit without its "now" bit
  means an episode *during boot, before monitoring started*: ``before_monitoring``,
  from the estimated boot time (``start_known=False``) to that sample. Neither bound is
  a time the condition was seen: all that is known is that it happened at some time in
  between (the sticky bit says so, not when). A "now" bit already set at the first
  sample opens an episode whose start is equally unknown; ``observed_from`` is then
  when monitoring first saw it (the first sample), which is what "seen for N minutes"
  may honestly count from.
- Later, an "occurred" bit that rises while the "now" bit stayed clear in both samples
  is an episode shorter than the sampling gap: ``between_samples``, between them.

Samples from the ``hwmon`` source carry only ``under_voltage`` (no occurred bits).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bussdcc_system import throttling_flags
from bussdcc_system.history.reader import (
    Record,
    SegmentInfo,
    TimeLike,
    boot_spans,
    list_segments,
    read_records,
    to_epoch,
)

THROTTLING = "system.throttling.updated"
KINDS = tuple(flag.field for flag in throttling_flags.FLAGS)
"""Episode kinds: the throttling flags' fields, in bit order."""


@dataclass(frozen=True, slots=True)
class Episode:
    """One flag set for a while. Times are corrected POSIX seconds."""

    kind: str
    start: float
    """When it was first seen set (or the estimated boot time if ``start_known`` is False)."""
    end: float | None
    """When it was seen clear, or the old boot's last record; None while ongoing."""
    boot: str | None
    start_known: bool = True
    before_monitoring: bool = False
    between_samples: bool = False
    end_reason: str = "cleared"
    """``cleared``, ``reboot``, ``ongoing``, or ``before_monitoring``."""
    observed_from: float | None = None
    """When monitoring first saw it set, for an episode whose start it did not see (set
    at a boot's first sample); None when ``start`` is that time or nothing was seen."""

    @property
    def ongoing(self) -> bool:
        return self.end is None

    def duration(self, now: float) -> float:
        return (now if self.end is None else self.end) - self.start

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "boot": self.boot,
            "ongoing": self.ongoing,
            "start_known": self.start_known,
            "before_monitoring": self.before_monitoring,
            "between_samples": self.between_samples,
            "end_reason": self.end_reason,
            "observed_from": self.observed_from,
        }


def decode_flags(data: Mapping[str, Any]) -> dict[str, bool | None]:
    """The eight flags by name, from ``raw`` when present, else from the fields."""
    raw = data.get("raw")
    if isinstance(raw, int) and not isinstance(raw, bool):
        return dict(throttling_flags.decode(raw))
    out: dict[str, bool | None] = {}
    for field in throttling_flags.FIELDS:
        value = data.get(field)
        out[field] = value if isinstance(value, bool) else None
    return out


def episodes_from_records(
    records: Iterable[Record], boot_span: Mapping[str, tuple[float, float]]
) -> list[Episode]:
    """Episodes from throttling records in write order (pure; see the module doc)."""
    out: list[Episode] = []
    boot: str | None = None
    seen_boot = False
    opened: dict[str, tuple[float, bool, bool, float | None]] = {}  # kind -> (start,
    # known, before, observed from)
    prev: Record | None = None
    prev_flags: dict[str, bool | None] = {}
    last_boot_end: float | None = None

    def close_all(end: float | None, reason: str) -> None:
        for kind, (start, known, before, seen) in opened.items():
            out.append(Episode(kind, start, end, boot, known, before, False, reason, seen))
        opened.clear()

    for rec in records:
        flags = decode_flags(rec.data)
        if not seen_boot or rec.boot != boot:
            if seen_boot:
                span = boot_span.get(boot) if boot is not None else None
                end = span[1] if span is not None else (prev.time if prev else rec.time)
                close_all(end, "reboot")
                last_boot_end = end
            seen_boot = True
            boot = rec.boot
            est = rec.time - rec.mono if rec.mono is not None else rec.time
            if last_boot_end is not None:
                est = max(est, last_boot_end)
            est = min(est, rec.time)
            for flag in throttling_flags.FLAGS:
                kind = flag.field
                now, occ = flags[kind], flags[flag.occurred_field]
                if now:
                    opened[kind] = (est, False, True, rec.time)
                elif occ:
                    out.append(
                        Episode(kind, est, rec.time, boot, False, True, False, "before_monitoring")
                    )
        else:
            for flag in throttling_flags.FLAGS:
                kind = flag.field
                now, occ = flags[kind], flags[flag.occurred_field]
                if now and kind not in opened:
                    opened[kind] = (rec.time, True, False, None)
                elif now is False and kind in opened:
                    start, known, before, seen = opened.pop(kind)
                    out.append(
                        Episode(kind, start, rec.time, boot, known, before, False, "cleared", seen)
                    )
                elif (
                    now is False
                    and occ
                    and prev_flags.get(flag.occurred_field) is False
                    and not prev_flags.get(kind)
                    and prev is not None
                ):
                    out.append(
                        Episode(kind, prev.time, rec.time, boot, True, False, True, "cleared")
                    )
        prev, prev_flags = rec, flags
    close_all(None, "ongoing")
    out.sort(key=lambda e: (e.start, KINDS.index(e.kind)))
    return out


def find_episodes(
    directory: str | os.PathLike[str],
    start: TimeLike = None,
    end: TimeLike = None,
    *,
    kinds: Iterable[str] | None = None,
    segments: Sequence[SegmentInfo] | None = None,
) -> list[Episode]:
    """Episodes overlapping ``[start, end)`` (all if None), oldest first."""
    segs = list_segments(directory) if segments is None else segments
    records = read_records(directory, names=[THROTTLING], segments=segs)
    episodes = episodes_from_records(records, boot_spans(segs))
    t0, t1 = to_epoch(start), to_epoch(end)
    wanted = set(kinds) if kinds is not None else None
    return [
        e
        for e in episodes
        if (wanted is None or e.kind in wanted)
        and (t0 is None or e.end is None or e.end >= t0)
        and (t1 is None or e.start < t1)
    ]
