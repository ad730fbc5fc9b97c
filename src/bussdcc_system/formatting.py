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
HOUR_MINUTE: Final = "%H:%M"
"""A time of day to the minute (the end of an episode that started the same day)."""
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
    text = str(humanize.naturalsize(n, binary=True, format="%.1f"))
    number, _, unit = text.partition(" ")
    if number == "1024.0" and unit in _BINARY[:-1]:  # humanize < 4.10 does not step up
        return f"1.0 {_BINARY[_BINARY.index(unit) + 1]}"
    return text


_BINARY: Final = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def rate(n: float | None) -> str:
    """Bytes per second ("2.0 KiB/s")."""
    return DASH if n is None else f"{size(n)}/s"


def percent(x: float | None, digits: int = 1) -> str:
    """A percentage ("12.5 %")."""
    return DASH if x is None else f"{x:.{digits}f} %"


def celsius(x: float | None) -> str:
    """A temperature ("51.2 °C")."""
    return DASH if x is None else f"{x:.1f} °C"


def frequency(hertz: float | None) -> str:
    """A clock frequency ("1.5 GHz", "600 MHz"), to the nearest MHz below 1 GHz."""
    if hertz is None:
        return DASH
    if hertz >= 1e9:
        return f"{hertz / 1e9:.1f} GHz"
    if hertz >= 1e6:
        return f"{hertz / 1e6:.0f} MHz"
    return f"{hertz / 1e3:.0f} kHz"


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
    of ``CLOCK``, ``HOUR_MINUTE``, ``MINUTE``, ``WEEKDAY_MINUTE``, ``SECOND``. Always
    24-hour, with English day and month names (Python keeps the C locale for them), the
    style the dashboard's chart axes use too."""
    dt = when if isinstance(when, datetime) else datetime.fromtimestamp(when, UTC)
    return dt.astimezone().strftime(spec)


def utc_offset(epoch: float) -> int:
    """Seconds east of UTC of this host's local time at ``epoch``: what a browser in
    another time zone needs to label chart axes in the host's time, as the rest is."""
    offset = datetime.fromtimestamp(epoch, UTC).astimezone().utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


__all__ = [
    "CLOCK",
    "DASH",
    "HOUR_MINUTE",
    "MINUTE",
    "SECOND",
    "WEEKDAY_MINUTE",
    "celsius",
    "duration",
    "exact_duration",
    "frequency",
    "iso_time",
    "local_time",
    "percent",
    "rate",
    "record_datetime",
    "record_time",
    "size",
    "utc_offset",
    "utc_time",
]
