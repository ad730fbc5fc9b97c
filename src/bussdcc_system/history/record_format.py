"""A history line: one compact JSON object per event, UTF-8, newline-terminated::

    {"time": "2026-01-01T12:00:00.123Z", "name": ..., "data": {...},
     "boot": <boot id>, "mono": <monotonic seconds>, "seq": <bus sequence number>}

Every segment starts with a ``history.segment`` header record (``HEADER_NAME``) whose
``data`` holds the segment's creation ``number``, why it was opened, its clock offset,
``suspended``, the writer's pid and ``FORMAT_VERSION``. ``parse_line`` accepts the
seed's three-key lines too and returns None for anything that is not a valid record
(a torn line, NUL bytes after a power cut): reading never raises for bad data.
"""

from __future__ import annotations

import json
import math
from typing import Any

from bussdcc_system.history.times import parse_time

FORMAT_VERSION = 1
HEADER_NAME = "history.segment"
"""Name of the header record that opens every segment (a meta record)."""


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
