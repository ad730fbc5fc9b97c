"""How the appliance writes numbers, sizes, durations and times for people and files.

One module so that a byte count reads the same on the dashboard and in the CLI, and a
time is written the same way in state, on the console and in exports. People get
humanize's words ("3.2 GiB", "4 days"); files and JSON get ISO 8601.

Two kinds of duration: ``duration`` is approximate ("4 days", "an hour") and moves
rarely, which the dashboard needs (a push is sent only when a displayed value
changes); ``exact_duration`` says exactly how long ("1 hour and 30 minutes"), for a
configured limit or an episode in the CLI.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

import humanize

DASH: Final = "\u2013"
"""What a value the host does not have (yet) shows as."""

CLOCK: Final = "%H:%M:%S"
"""A time of day, for the recent-events list."""
MINUTE: Final = "%Y-%m-%d %H:%M"
"""A date and a time to the minute ("booted 2026-03-01 10:00")."""
WEEKDAY_MINUTE: Final = "%a %d %b %H:%M"
"""A day of the last week or so and a time ("Sun 01 Mar 10:00")."""
SECOND: Final = "%Y-%m-%d %H:%M:%S"
"""A date and a time to the second, for CLI tables."""


# -- numbers ---------------------------------------------------------------------------


def size(n: float | None) -> str:
    """Bytes the way people read them: binary units, one decimal ("3.2 GiB", "512 B")."""
    if n is None:
        return DASH
    n = max(0, int(n))
    if n < 1024:
        return f"{n} B"
    return str(humanize.naturalsize(n, binary=True, format="%.1f"))


def rate(n: float | None) -> str:
    """Bytes per second ("2.0 KiB/s")."""
    return DASH if n is None else f"{size(n)}/s"


def percent(x: float | None, digits: int = 1) -> str:
    """A percentage ("12.5 %")."""
    return DASH if x is None else f"{x:.{digits}f} %"


def celsius(x: float | None) -> str:
    """A temperature ("51.2 °C")."""
    return DASH if x is None else f"{x:.1f} °C"


# -- durations -------------------------------------------------------------------------


def duration(seconds: float) -> str:
    """About how long, in words ("4 days", "an hour"); negative is zero."""
    return str(humanize.naturaldelta(timedelta(seconds=max(0.0, seconds))))


def exact_duration(seconds: float) -> str:
    """Exactly how long, to the second ("1 hour", "2 minutes and 5 seconds")."""
    whole = round(max(0.0, seconds))
    if whole == 0:
        return "0 seconds"
    return str(humanize.precisedelta(timedelta(seconds=whole)))


# -- times -----------------------------------------------------------------------------


def iso_time(when: datetime) -> str:
    """ISO 8601 with the offset, as state, health and the console write wall times."""
    return when.isoformat()


def record_time(epoch: float) -> str:
    """ISO 8601 UTC with milliseconds and ``Z``, as history records are stamped."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def record_datetime(dt: datetime) -> str:
    """``record_time`` of a datetime (naive = UTC): how the history writer stamps an event."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    elif dt.utcoffset():
        dt = dt.astimezone(UTC)
    return dt.isoformat(timespec="milliseconds")[:-6] + "Z"


def utc_time(epoch: float | None, spec: str = SECOND) -> str:
    """POSIX seconds as UTC wall time; ``-`` for None, ``?`` out of range."""
    if epoch is None:
        return "-"
    try:
        return datetime.fromtimestamp(epoch, UTC).strftime(spec)
    except (OverflowError, OSError, ValueError):
        return "?"


def local_time(when: float | datetime, spec: str) -> str:
    """POSIX seconds or an aware datetime as this host's local time, ``spec`` being one
    of ``CLOCK``, ``MINUTE``, ``WEEKDAY_MINUTE``, ``SECOND``."""
    dt = when if isinstance(when, datetime) else datetime.fromtimestamp(when, UTC)
    return dt.astimezone().strftime(spec)


__all__ = [
    "CLOCK",
    "DASH",
    "MINUTE",
    "SECOND",
    "WEEKDAY_MINUTE",
    "celsius",
    "duration",
    "exact_duration",
    "iso_time",
    "local_time",
    "percent",
    "rate",
    "record_datetime",
    "record_time",
    "size",
    "utc_time",
]
