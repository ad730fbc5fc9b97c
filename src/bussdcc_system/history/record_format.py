"""A history line: one compact JSON object per event, UTF-8, newline-terminated::

    {"time": "2026-01-01T12:00:00.123Z", "name": ..., "data": {...},
     "mono": <monotonic seconds>, "seq": <bus sequence number>}

Every segment starts with a ``history.segment`` header record (``HEADER_NAME``) whose
``data`` holds the segment's creation ``number``, why it was opened, its clock offset,
``suspended``, the writer's pid and ``FORMAT_VERSION``; the header also carries the
``boot`` id, which every record of the segment inherits (a segment holds one run of one
boot). Lines written by version 1 repeat ``boot`` on every line; readers accept both.

``encode_event`` and ``encode_header`` write lines (the writer serialises each event
once); ``parse_line`` reads them, accepts the seed's three-key lines too and returns
None for anything that is not a valid record (a torn line, NUL bytes after a power
cut): reading never raises for bad data.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from bussdcc import Event, Message
from bussdcc_system.formatting import record_datetime
from bussdcc_system.history.times import parse_time

FORMAT_VERSION = 2
"""2: records inherit ``boot`` from the header; segments are written as gzip members."""
HEADER_NAME = "history.segment"
"""Name of the header record that opens every segment (a meta record)."""


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


class EncodedRecord:
    """An event serialised once, with what rotation, the rollup and durability need."""

    __slots__ = ("data", "date", "line", "mono", "name", "offset", "t", "time", "urgent")

    def __init__(
        self,
        line: bytes,
        name: str,
        data: dict[str, Any],
        time: str,
        t: float,
        mono: float,
        urgent: bool = False,
    ) -> None:
        self.line = line
        self.urgent = urgent
        self.name = name
        self.data = data
        self.time = time
        self.t = t
        self.mono = mono
        self.date = time[:10]
        self.offset = t - mono


def encode_event(evt: Event[Message], urgent: bool = False) -> EncodedRecord:
    """The line of one event; NaN and infinities become ``null``. Raises if unserialisable."""
    data = evt.data
    stamp = record_datetime(evt.time)
    rec = {
        "time": stamp,
        "name": evt.name,
        "data": data,
        "mono": round(evt.monotonic, 6),
        "seq": evt.seq,
    }
    try:
        text = json.dumps(rec, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        data = _finite(data)
        rec["data"] = data
        text = json.dumps(rec, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return EncodedRecord(
        (text + "\n").encode(), evt.name, data, stamp, evt.time.timestamp(), evt.monotonic, urgent
    )


def encode_header(
    first: EncodedRecord, *, number: int, reason: str, suspended: float | None, boot: str
) -> bytes:
    """The ``history.segment`` line that opens a segment whose first record is ``first``."""
    header = {
        "time": first.time,
        "name": HEADER_NAME,
        "data": {
            "number": number,
            "reason": reason,
            "offset": round(first.offset, 6),
            "suspended": suspended,
            "pid": os.getpid(),
            "version": FORMAT_VERSION,
        },
        "boot": boot,
        "mono": round(first.mono, 6),
        "seq": 0,
    }
    return (json.dumps(header, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def parse_line(line: bytes | str) -> dict[str, Any] | None:
    """A record dict from one line, or None if it is not a valid record."""
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(obj, dict):
        return None
    t, name, data = obj.get("time"), obj.get("name"), obj.get("data")
    if not isinstance(t, str) or not isinstance(name, str) or not isinstance(data, dict):
        return None
    try:
        obj["_t"] = parse_time(t)
    except (ValueError, OverflowError, OSError):
        return None
    mono = obj.get("mono")
    if mono is not None and (
        not isinstance(mono, int | float) or isinstance(mono, bool) or not math.isfinite(mono)
    ):
        obj["mono"] = None
    boot = obj.get("boot")
    if boot is not None and not isinstance(boot, str):
        obj["boot"] = None
    return obj


def split_lines(data: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines, and the trailing bytes after the last newline (a torn line or b"")."""
    lines = data.split(b"\n")
    tail = lines.pop()
    return lines, tail
