"""Time values: as a record's ``time`` field is written, and as callers pass them.

Records carry ISO 8601 UTC with milliseconds and ``Z``; the Python API takes a
``datetime`` (naive = UTC) or POSIX seconds and works in POSIX seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime

TimeLike = datetime | float | int | None


def to_epoch(value: TimeLike) -> float | None:
    """POSIX seconds from a datetime (naive = UTC) or a number; None stays None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    return float(value)


def parse_time(text: str) -> float:
    """POSIX seconds from the ISO 8601 ``time`` field (``Z`` or an offset; naive = UTC)."""
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()
