"""What is known about one segment without reading all of it: ``SegmentSummary``.

The writer builds it while writing, and stores it as the first line of the sidecar
index; a segment without a valid sidecar is summarised by a scan (``catalogue.py``):
the whole content when compressed, only its ends when plain.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bussdcc_system.history.record_format import (
    FORMAT_VERSION,
    HEADER_NAME,
    parse_line,
    split_lines,
)
from bussdcc_system.history.segment_files import read_index_bytes


@dataclass(slots=True)
class SegmentSummary:
    """What a writer or a scan learns about a segment (the sidecar's first line)."""

    number: int | None = None
    boot: str | None = None
    offset: float | None = None
    suspended: float | None = None
    first_time: float | None = None
    last_time: float | None = None
    min_time: float | None = None
    max_time: float | None = None
    first_mono: float | None = None
    last_mono: float | None = None
    records: int = 0
    bytes: int = 0
    names: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, t: float, mono: float | None, boot: str | None) -> None:
        if self.first_time is None:
            self.first_time = t
            self.first_mono = mono
        if self.boot is None:
            self.boot = boot
        if self.offset is None and mono is not None:
            self.offset = t - mono
        self.last_time = t
        self.last_mono = mono
        self.min_time = t if self.min_time is None else min(self.min_time, t)
        self.max_time = t if self.max_time is None else max(self.max_time, t)
        self.records += 1
        self.names[name] = self.names.get(name, 0) + 1

    def header(self, data: Mapping[str, Any], boot: str | None) -> None:
        number = data.get("number")
        if isinstance(number, int) and not isinstance(number, bool):
            self.number = number
        offset = data.get("offset")
        if isinstance(offset, int | float) and not isinstance(offset, bool):
            self.offset = float(offset)
        suspended = data.get("suspended")
        if isinstance(suspended, int | float) and not isinstance(suspended, bool):
            self.suspended = float(suspended)
        if boot is not None:
            self.boot = boot

    def feed(self, rec: Mapping[str, Any] | None) -> bool:
        """Take one parsed line (None for a line that did not parse); True if it was a
        record (not the header) and so counts beyond the summary."""
        if rec is None:
            return False
        if rec["name"] == HEADER_NAME:
            self.header(rec["data"], rec.get("boot"))
            return False
        self.add(rec["name"], rec["_t"], rec.get("mono"), rec.get("boot"))
        return True

    def to_json(self, segment: str) -> dict[str, Any]:
        return {
            "v": FORMAT_VERSION,
            "segment": segment,
            "number": self.number,
            "boot": self.boot,
            "offset": self.offset,
            "suspended": self.suspended,
            "first_time": self.first_time,
            "last_time": self.last_time,
            "min_time": self.min_time,
            "max_time": self.max_time,
            "first_mono": self.first_mono,
            "last_mono": self.last_mono,
            "records": self.records,
            "bytes": self.bytes,
            "names": self.names,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> SegmentSummary:
        def num(key: str) -> float | None:
            v = obj.get(key)
            return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

        number = obj.get("number")
        names = obj.get("names")
        boot = obj.get("boot")
        return cls(
            number=number if isinstance(number, int) and not isinstance(number, bool) else None,
            boot=boot if isinstance(boot, str) else None,
            offset=num("offset"),
            suspended=num("suspended"),
            first_time=num("first_time"),
            last_time=num("last_time"),
            min_time=num("min_time"),
            max_time=num("max_time"),
            first_mono=num("first_mono"),
            last_mono=num("last_mono"),
            records=int(obj.get("records") or 0),
            bytes=int(obj.get("bytes") or 0),
            names={str(k): int(v) for k, v in names.items()} if isinstance(names, dict) else {},
        )


INDEX_VERSIONS = (1, FORMAT_VERSION)
"""Sidecars readers accept: version 1 (plain text) and 2 (the same text, gzip'd)."""


def read_index_summary(path: Path) -> SegmentSummary | None:
    """The sidecar's summary line, or None if absent or invalid."""
    try:
        text = read_index_bytes(path)
    except (OSError, ValueError):
        return None
    end = text.find(b"\n")
    if end < 0:
        return None
    try:
        obj = json.loads(text[:end])
    except ValueError:
        return None
    if not isinstance(obj, dict) or obj.get("v") not in INDEX_VERSIONS:
        return None
    return SegmentSummary.from_json(obj)


def scan_head_tail(path: Path, size: int) -> SegmentSummary:
    """Header, first and last records of a plain segment, reading only its ends."""
    summary = SegmentSummary(bytes=size)
    records = 0
    with path.open("rb") as f:
        head = f.read(min(size, 1 << 16))
        lines, _tail = split_lines(head)
        for line in lines[:3]:
            if summary.feed(parse_line(line)):
                records += 1
                break
        window = 1 << 16
        last: dict[str, Any] | None = None
        while last is None:
            start = max(0, size - window)
            f.seek(start)
            chunk = f.read(size - start)
            lines, tail = split_lines(chunk)
            if tail:
                lines.append(tail)
            if start > 0:
                lines = lines[1:]  # may begin mid-line
            for line in reversed(lines):
                rec = parse_line(line) if line else None
                if rec is not None and rec["name"] != HEADER_NAME:
                    last = rec
                    break
            if start == 0 or window >= 1 << 24:
                break
            window *= 4
    if last is not None and records:
        t = last["_t"]
        summary.last_time = t
        summary.last_mono = last.get("mono")
        lo, hi = summary.min_time, summary.max_time
        summary.max_time = t if hi is None else max(hi, t)
        summary.min_time = t if lo is None else min(lo, t)
    summary.records = 0
    summary.names = {}
    return summary
