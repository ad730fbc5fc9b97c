"""Reading history: the segment catalogue, clock corrections and records in write order.

Layout: ``<dir>/YYYY-MM-DD/HH-MM-SS.jsonl`` (named by the UTC wall time of the segment's
first record; ``HH-MM-SS_2.jsonl`` when that name is taken), gzip-compressed to
``.jsonl.gz`` once closed, with a sidecar index ``HH-MM-SS.idx`` (a summary line, then
per-minute rollups, see ``query.py``). One line per event::

    {"time": "2026-01-01T12:00:00.123Z", "name": ..., "data": {...},
     "boot": <boot id>, "mono": <monotonic seconds>, "seq": <bus sequence number>}

Every segment starts with a ``history.segment`` header record carrying its creation
``number`` (one more than any segment before it): the order in which segments were
written, which no wall clock can disturb. A segment holds one sink run (one boot) and
one wall/monotonic offset: the writer rotates when the wall clock jumps.

Clock jumps (a Pi without RTC boots in 1970 or at its last shutdown time, then NTP steps
the clock forward): within a boot, the monotonic clock is the truth. The offset
``wall - mono`` of the boot's *last* record is taken as correct, and earlier segments of
that boot whose offset differs by more than ``JUMP_THRESHOLD`` seconds are shifted onto
it (``SegmentInfo.shift``). Records are yielded in write order (segment number, then
line order); with the shift applied their times are ordered too, except in a boot whose
clock was never set, whose times stay as recorded (nothing better is known). A host that
suspends (a laptop; not a Pi) stops the monotonic clock while asleep: the header's
``suspended`` (``CLOCK_BOOTTIME - CLOCK_MONOTONIC`` when the segment was opened) keeps
such a gap from being mistaken for a clock step.

Torn or invalid lines (a crash mid-write, a power cut leaving NUL bytes) are skipped
with one warning per line per process; reading never raises for bad data.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import os
import re
import threading
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bussdcc_system.history.lru import Lru

log = logging.getLogger("bussdcc_system.history")

FORMAT_VERSION = 1
HEADER_NAME = "history.segment"
"""Name of the header record that opens every segment (a meta record)."""
INDEX_SUFFIX = ".idx"
JUMP_THRESHOLD = 2.0
"""Seconds by which ``wall - mono`` must change to count as a clock jump."""
PLAUSIBLE_FLOOR = 1577836800.0
"""2020-01-01 UTC: wall times before it come from a clock that was never set."""
FUTURE_SLACK = 86400.0
"""A segment ending more than this after "now" has times from a wrong clock."""

DAY_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
SEGMENT_RE = re.compile(r"^(\d{2})-(\d{2})-(\d{2})(?:_(\d+))?\.jsonl(\.gz)?$")

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


def format_time(epoch: float) -> str:
    """ISO 8601 UTC with milliseconds and ``Z``, as the writer stamps records."""
    dt = datetime.fromtimestamp(epoch, UTC)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- warnings, once per place ---------------------------------------------------------

_warned: set[tuple[str, int]] = set()
_warned_lock = threading.Lock()


def _warn_once(path: Path | str, where: int, message: str, *args: object) -> None:
    key = (str(path), where)
    with _warned_lock:
        if key in _warned:
            return
        if len(_warned) > 10000:
            _warned.clear()
        _warned.add(key)
    log.warning(message, *args)


# -- lines ------------------------------------------------------------------------------


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


def read_segment_bytes(path: Path) -> tuple[bytes, bool]:
    """The decompressed content of a segment, and whether it was complete.

    A truncated gzip member yields what could be decompressed and False.
    """
    raw = path.read_bytes()
    if not path.name.endswith(".gz"):
        return raw, True
    out: list[bytes] = []
    complete = True
    while raw:
        d = zlib.decompressobj(wbits=31)
        try:
            out.append(d.decompress(raw))
        except zlib.error:
            complete = False
            break
        if not d.eof:
            complete = False
            break
        raw = d.unused_data
        if raw.strip(b"\0") == b"":
            break
    return b"".join(out), complete


# -- the catalogue ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """One segment as the catalogue sees it. Times are POSIX seconds."""

    path: Path
    """The file to read (``.jsonl``, or ``.jsonl.gz`` once compressed)."""
    name: str
    """Relative to the history directory, e.g. ``2026-01-01/12-00-00.jsonl.gz``."""
    stem: str
    """``name`` without the extension, e.g. ``2026-01-01/12-00-00``."""
    compressed: bool
    size: int
    """Bytes on disk of the segment file."""
    index_size: int
    """Bytes on disk of its sidecar index (0 if none)."""
    indexed: bool
    """A valid sidecar index exists (rollups for fast chart queries)."""
    number: int | None
    """Creation order, from the header record (None for a segment without one)."""
    boot: str | None
    offset: float | None
    """``wall - mono`` when the segment was opened."""
    suspended: float | None
    first_time: float | None
    """Recorded (uncorrected) wall times of the first and last records."""
    last_time: float | None
    min_time: float | None
    max_time: float | None
    first_mono: float | None
    last_mono: float | None
    records: int | None
    """Event records (header excluded), when known (indexed segments)."""
    names: Mapping[str, int] | None = None
    """Record count per message name, when known (indexed segments)."""
    shift: float = 0.0
    """Seconds added to recorded times to correct a clock that was later stepped."""
    plausible: bool = True
    """Its corrected times look like a set clock (see ``docs/history.md``)."""

    @property
    def start(self) -> float | None:
        """Corrected time of the earliest record."""
        t = self.min_time if self.min_time is not None else self.first_time
        return None if t is None else t + self.shift

    @property
    def end(self) -> float | None:
        """Corrected time of the latest record."""
        t = self.max_time if self.max_time is not None else self.last_time
        return None if t is None else t + self.shift

    @property
    def index_path(self) -> Path:
        return self.path.parent / (self.path.name.split(".", 1)[0] + INDEX_SUFFIX)

    @property
    def total_size(self) -> int:
        return self.size + self.index_size

    def sort_key(self) -> tuple[int, int, str]:
        return (0, 0, self.stem) if self.number is None else (1, self.number, self.stem)


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


def summarize_bytes(data: bytes) -> SegmentSummary:
    """Scan a whole segment's content (recovery of a segment without a sidecar)."""
    summary = SegmentSummary(bytes=len(data))
    lines, tail = split_lines(data)
    if tail:
        lines.append(tail)
    for line in lines:
        if not line:
            continue
        rec = parse_line(line)
        if rec is None:
            continue
        if rec["name"] == HEADER_NAME:
            summary.header(rec["data"], rec.get("boot"))
            continue
        summary.add(rec["name"], rec["_t"], rec.get("mono"), rec.get("boot"))
    return summary


def read_index_summary(path: Path) -> SegmentSummary | None:
    """The sidecar's summary line, or None if absent or invalid."""
    try:
        with path.open("rb") as f:
            first = f.readline(1 << 20)
    except OSError:
        return None
    if not first.endswith(b"\n"):
        return None
    try:
        obj = json.loads(first)
    except ValueError:
        return None
    if not isinstance(obj, dict) or obj.get("v") != FORMAT_VERSION:
        return None
    return SegmentSummary.from_json(obj)


def _scan_head_tail(path: Path, size: int) -> SegmentSummary:
    """Header, first and last records of a plain segment, reading only its ends."""
    summary = SegmentSummary(bytes=size)
    records = 0
    with path.open("rb") as f:
        head = f.read(min(size, 1 << 16))
        lines, _tail = split_lines(head)
        for line in lines[:3]:
            rec = parse_line(line)
            if rec is None:
                continue
            if rec["name"] == HEADER_NAME:
                summary.header(rec["data"], rec.get("boot"))
                continue
            summary.add(rec["name"], rec["_t"], rec.get("mono"), rec.get("boot"))
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


_catalog_cache: Lru[str, tuple[tuple[int, int, int, int], SegmentInfo]] = Lru(20000)


def _segment_files(directory: Path) -> dict[str, tuple[Path, bool]]:
    """stem -> (file to read, compressed); a ``.gz`` wins over a leftover plain file."""
    out: dict[str, tuple[Path, bool]] = {}
    try:
        days = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return out
    for day in days:
        if not DAY_RE.match(day.name):
            continue
        try:
            if not day.is_dir():
                continue
            entries = list(os.scandir(day.path))
        except OSError:
            continue
        for entry in entries:
            m = SEGMENT_RE.match(entry.name)
            if m is None:
                continue
            stem = f"{day.name}/{entry.name.split('.', 1)[0]}"
            compressed = m.group(5) is not None
            if stem in out and out[stem][1] and not compressed:
                continue
            out[stem] = (Path(entry.path), compressed)
    return out


def _raw_info(stem: str, path: Path, compressed: bool, root: Path) -> SegmentInfo | None:
    try:
        st = path.stat()
    except OSError:
        return None
    index = path.parent / (path.name.split(".", 1)[0] + INDEX_SUFFIX)
    try:
        ist = index.stat()
        imeta = (ist.st_size, ist.st_mtime_ns)
    except OSError:
        imeta = (-1, -1)
    key = (st.st_size, st.st_mtime_ns, imeta[0], imeta[1])
    cached = _catalog_cache.get(str(path))
    if cached is not None and cached[0] == key:
        return cached[1]
    summary = read_index_summary(index) if imeta[0] >= 0 else None
    indexed = summary is not None
    if summary is not None and not compressed and summary.bytes != st.st_size:
        summary, indexed = None, False  # the file changed after the index was written
    if summary is None:
        try:
            if compressed:
                data, _complete = read_segment_bytes(path)
                summary = summarize_bytes(data)
            else:
                summary = _scan_head_tail(path, st.st_size)
        except OSError as exc:
            _warn_once(path, -1, "cannot read history segment %s: %s", path, exc)
            return None
    known = indexed or compressed
    info = SegmentInfo(
        path=path,
        name=str(path.relative_to(root)),
        stem=stem,
        compressed=compressed,
        size=st.st_size,
        index_size=max(0, imeta[0]) if indexed else 0,
        indexed=indexed,
        number=summary.number,
        boot=summary.boot,
        offset=summary.offset,
        suspended=summary.suspended,
        first_time=summary.first_time,
        last_time=summary.last_time,
        min_time=summary.min_time,
        max_time=summary.max_time,
        first_mono=summary.first_mono,
        last_mono=summary.last_mono,
        records=summary.records if known else None,
        names=dict(summary.names) if known else None,
    )
    _catalog_cache.put(str(path), (key, info))
    return info


def list_segments(
    directory: str | os.PathLike[str], *, now: float | None = None
) -> list[SegmentInfo]:
    """Every segment in creation order, with clock corrections and plausibility.

    ``now`` (POSIX seconds, default the system clock) only serves to flag segments
    whose times lie in the future as implausible.
    """
    root = Path(directory)
    infos = [
        info
        for stem, (path, compressed) in _segment_files(root).items()
        if (info := _raw_info(stem, path, compressed, root)) is not None
    ]
    infos.sort(key=SegmentInfo.sort_key)
    return correct_segments(infos, now=now)


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


# -- records ----------------------------------------------------------------------------


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
        out: dict[str, Any] = {"time": format_time(self.time), "name": self.name, "data": self.data}
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
        _warn_once(seg.path, -1, "cannot read history segment %s: %s", seg.path, exc)
        return
    if not complete:
        _warn_once(seg.path, -2, "history segment %s is truncated; reading what is there", seg.path)
    yield from _iter_lines(seg, data, names, start, end, include_meta)


def _iter_lines(
    seg: SegmentInfo,
    data: bytes,
    names: frozenset[str] | None,
    start: float | None,
    end: float | None,
    include_meta: bool,
) -> Iterator[Record]:
    needles = _needles(names) if names is not None else None
    if needles is not None and include_meta:
        needles.append(_needles([HEADER_NAME])[0])
    lines, tail = split_lines(data)
    shift = seg.shift
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
            if i >= last_index:
                _warn_once(
                    seg.path,
                    where,
                    "skipping a torn last line in %s (%d bytes at %d)",
                    seg.path,
                    len(line),
                    where,
                )
            else:
                _warn_once(
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
            boot=rec.get("boot"),
            mono=rec.get("mono"),
            seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
            segment=seg.name,
        )


def overlaps(seg: SegmentInfo, start: float | None, end: float | None) -> bool:
    """Can the segment hold records with corrected time in ``[start, end)``?"""
    s, e = seg.start, seg.end
    if s is None or e is None:
        return True
    # exact bounds are known once indexed; otherwise the last record read from the tail
    # may be up to a (sub-jump) clock step before the latest one
    pad = 0.0 if seg.indexed or seg.compressed else JUMP_THRESHOLD
    if start is not None and e < start - pad:
        return False
    return not (end is not None and s >= end + pad)


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


def boot_spans(segments: Sequence[SegmentInfo]) -> dict[str, tuple[float, float]]:
    """Corrected (first, last) record time of every boot, from the catalogue."""
    spans: dict[str, tuple[float, float]] = {}
    for seg in segments:
        if seg.boot is None or seg.start is None or seg.end is None:
            continue
        s, e = spans.get(seg.boot, (seg.start, seg.end))
        spans[seg.boot] = (min(s, seg.start), max(e, seg.end))
    return spans


def gzip_bytes(data: bytes) -> bytes:
    """Compress a closed segment (deterministic: no file name, no mtime)."""
    return gzip.compress(data, compresslevel=6, mtime=0)
