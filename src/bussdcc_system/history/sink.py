"""HistorySink: append-only JSONL history written off the dispatch thread.

``handle`` runs on the dispatch path and never blocks on I/O: it filters (minimum
severity, include/exclude globs on names) and appends the event to a bounded buffer
(when full, the oldest event is dropped and counted; ``history.dropped`` says so
later). A writer thread, waiting only in ``clock.sleep`` (SimClock-compatible), wakes
every ``flush_interval`` seconds and writes the batch with one ``write()`` call.

Durability (SD cards wear out, so ``fsync`` is rare): the segment is fsync'd when it is
closed (rotation, shutdown) and optionally every ``fsync_interval`` seconds. A process
crash (kill -9) loses at most what was still in memory, the last flush window; lines
already written are never rewritten, and a torn last line is skipped by readers and
cut off when the next run finalises the segment. A power cut can also lose what the
kernel had not yet written back since the last fsync.

Rotation: every ``rotate_interval`` seconds of monotonic time since the segment was
opened, at a UTC day change, and when the wall clock jumps (the ``wall - mono`` offset
moves by more than ``JUMP_THRESHOLD``), so that a segment has one clock offset.
Closing a segment writes its sidecar index (per-minute rollups), gzips closed
segments (``compress``) and applies retention (``retention.py``).

Failures (full disk, read-only or unwritable directory): an error message
``history.write_failed`` says why in words, the daemon keeps running, events stay in
the buffer up to its bound, and every flush retries; ``history.write_resumed`` follows
when writing works again. A partly written batch is completed byte-exactly on retry,
so a short write never leaves a broken line behind.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import json
import logging
import math
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from bussdcc import ClockProtocol, Event, EventBus, Message, Severity, Subscription, SystemClock
from bussdcc_system.history.catalogue import list_segments
from bussdcc_system.history.clock_jumps import JUMP_THRESHOLD
from bussdcc_system.history.lru import Lru
from bussdcc_system.history.query import Rollup, index_bytes, publish_live, rollup_bytes
from bussdcc_system.history.record_format import FORMAT_VERSION, HEADER_NAME, parse_line
from bussdcc_system.history.retention import apply_retention, plan_retention
from bussdcc_system.history.segment_files import (
    DAY_RE,
    INDEX_SUFFIX,
    SEGMENT_RE,
    gzip_bytes,
    read_segment_bytes,
)
from bussdcc_system.history.segment_info import SegmentInfo
from bussdcc_system.history.segment_summary import SegmentSummary

log = logging.getLogger("bussdcc_system.history")

DROP_REPORT_INTERVAL = 60.0
"""At most one ``history.dropped`` message per this many seconds."""
CHUNK_BYTES = 1 << 20
"""Write as soon as this much is pending (a backlog after a failure is written in chunks)."""
FILE_MODE = 0o640
DIR_MODE = 0o750


# -- messages ---------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class HistoryWriteFailed(Message):
    """History cannot be written; events are kept in memory up to the buffer's bound."""

    name = "history.write_failed"
    severity = Severity.ERROR
    directory: str
    reason: str
    """In words, e.g. "the disk is full (no space left on device)"."""
    error: str
    """The errno name, e.g. ``ENOSPC``."""
    pending: int


@dataclass(slots=True, frozen=True)
class HistoryWriteResumed(Message):
    name = "history.write_resumed"
    severity = Severity.WARNING
    directory: str
    failed_for: float
    """Seconds during which writing failed."""
    dropped: int
    """Events lost meanwhile (the buffer overflowed)."""


@dataclass(slots=True, frozen=True)
class HistoryDropped(Message):
    name = "history.dropped"
    severity = Severity.ERROR
    directory: str
    dropped: int
    """Events dropped since the previous report."""
    total: int
    reason: str


@dataclass(frozen=True, slots=True)
class SinkStats:
    """Counters since the sink was created (write/fsync counts are SD-card wear)."""

    records: int
    """Events written (and acknowledged by ``write()``)."""
    headers: int
    writes: int
    """``write()`` calls, all files (segments, indexes, compressed copies)."""
    fsyncs: int
    """``fsync()`` calls, files and directories."""
    bytes: int
    """Bytes written, all files."""
    segment_bytes: int
    """Bytes written to segments."""
    dropped: int
    errors: int
    flushes: int
    rotations: int
    segments_deleted: int
    pending: int
    """Events accepted but not yet written."""
    failing: bool
    segment: str | None
    """The open segment, relative to the directory."""


def describe_os_error(exc: OSError) -> str:
    """An OSError in words a person understands."""
    words = {
        errno.ENOSPC: "the disk is full (no space left on device)",
        errno.EDQUOT: "the disk quota is exhausted",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.EROFS: "the file system is read-only",
        errno.ENOENT: "the directory does not exist",
        errno.ENOTDIR: "a part of the path is not a directory",
        errno.EIO: "input/output error (failing storage?)",
        errno.EFBIG: "the file is too large (file size limit reached)",
    }
    text = words.get(exc.errno or 0)
    return text or (exc.strerror or repr(exc)).lower()


def read_boot_id(root: str | None = None) -> str:
    """This boot's id (``/proc/sys/kernel/random/boot_id``), honouring BUSSDCC_SYSTEM_ROOT."""
    base = root if root is not None else os.environ.get("BUSSDCC_SYSTEM_ROOT", "/")
    for r in dict.fromkeys((base, "/")):
        try:
            text = Path(r, "proc/sys/kernel/random/boot_id").read_text().strip()
        except OSError:
            continue
        if text:
            return text
    return f"unknown-{uuid.uuid4()}"


class HistorySettings(Protocol):
    """What ``from_config`` reads (``bussdcc_system.config.HistoryConfig`` has it)."""

    @property
    def directory(self) -> str: ...
    @property
    def flush_interval(self) -> float: ...
    @property
    def rotate_interval(self) -> float: ...
    @property
    def retention_days(self) -> float: ...
    @property
    def max_size_mb(self) -> float: ...
    @property
    def compress(self) -> bool: ...
    @property
    def min_severity(self) -> Any: ...
    @property
    def include(self) -> tuple[str, ...]: ...
    @property
    def exclude(self) -> tuple[str, ...]: ...


def _iso(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    elif dt.utcoffset():
        dt = dt.astimezone(UTC)
    return dt.isoformat(timespec="milliseconds")[:-6] + "Z"


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


class _Prepared:
    """An event serialised once, with what rotation and the rollup need."""

    __slots__ = ("data", "date", "line", "mono", "name", "offset", "t", "time")

    def __init__(
        self, line: bytes, name: str, data: dict[str, Any], time: str, t: float, mono: float
    ) -> None:
        self.line = line
        self.name = name
        self.data = data
        self.time = time
        self.t = t
        self.mono = mono
        self.date = time[:10]
        self.offset = t - mono


class _Segment:
    __slots__ = (
        "date",
        "day_created",
        "dir_synced",
        "fd",
        "last_fsync",
        "name",
        "offset",
        "opened_mono",
        "path",
        "rollup",
        "size",
        "summary",
    )

    def __init__(
        self,
        path: Path,
        name: str,
        fd: int,
        p: _Prepared,
        day_created: bool,
        number: int,
        boot: str,
    ) -> None:
        self.path = path
        self.name = name
        self.fd = fd
        self.date = p.date
        self.offset = p.offset
        self.opened_mono = p.mono
        self.last_fsync = p.mono
        self.summary = SegmentSummary(number=number, boot=boot, offset=p.offset)
        self.rollup = Rollup()
        self.size = 0
        self.dir_synced = False
        self.day_created = day_created


class HistorySink:
    """Subscribe ``handle`` to the EventBus, ``start()`` the writer, ``close()`` at shutdown."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        clock: ClockProtocol | None = None,
        emit: Callable[[Message], object] | None = None,
        boot_id: str | None = None,
        flush_interval: float = 5.0,
        rotate_interval: float = 3600.0,
        retention_days: float | None = 30.0,
        max_size_mb: float | None = 512.0,
        compress: bool = True,
        min_severity: str | Severity = "info",
        include: Iterable[str] = ("*",),
        exclude: Iterable[str] = (),
        buffer_size: int = 10000,
        fsync_interval: float | None = None,
        jump_threshold: float = JUMP_THRESHOLD,
        join_timeout: float = 10.0,
    ) -> None:
        if flush_interval <= 0 or rotate_interval <= 0:
            raise ValueError("flush_interval and rotate_interval must be positive")
        if buffer_size < 1:
            raise ValueError("buffer_size must be at least 1")
        self.directory = Path(directory)
        self.clock: ClockProtocol = clock or SystemClock()
        self._emit_fn = emit
        self.boot_id = boot_id or read_boot_id()
        self.flush_interval = float(flush_interval)
        self.rotate_interval = float(rotate_interval)
        self.retention_days = retention_days
        self.max_bytes = None if max_size_mb is None else max_size_mb * 1024 * 1024
        self.compress = compress
        self.min_severity = (
            min_severity if isinstance(min_severity, Severity) else Severity.parse(min_severity)
        )
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        self.buffer_size = buffer_size
        self.fsync_interval = fsync_interval
        self.jump_threshold = jump_threshold
        self.join_timeout = join_timeout

        self._lock = threading.Lock()
        self._buf: deque[Event[Message]] = deque()
        self._wanted: Lru[str, bool] = Lru(4096)
        self._backlog: deque[_Prepared] = deque()
        self._out: list[tuple[bytes, _Prepared | None]] = []  # None: the header
        self._out_done = 0
        self._out_bytes = 0
        self._seg: _Segment | None = None
        self._next_reason = "start"
        self._next_number: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sub: Subscription | None = None
        self._closed = False

        self._records = 0
        self._headers = 0
        self._writes = 0
        self._fsyncs = 0
        self._bytes = 0
        self._segment_bytes = 0
        self._dropped = 0
        self._errors = 0
        self._flushes = 0
        self._rotations = 0
        self._deleted = 0
        self._failing = False
        self._fail_since = 0.0
        self._dropped_at_fail = 0
        self._dropped_reported = 0
        self._last_drop_report = -math.inf

    @classmethod
    def from_config(
        cls,
        config: HistorySettings,
        *,
        clock: ClockProtocol | None = None,
        emit: Callable[[Message], object] | None = None,
        **overrides: Any,
    ) -> HistorySink:
        """Build from ``HistoryConfig``; ``overrides`` (e.g. ``boot_id=``) win."""
        kwargs: dict[str, Any] = {
            "flush_interval": config.flush_interval,
            "rotate_interval": config.rotate_interval,
            "retention_days": config.retention_days,
            "max_size_mb": config.max_size_mb,
            "compress": config.compress,
            "min_severity": str(getattr(config.min_severity, "name", config.min_severity)),
            "include": config.include,
            "exclude": config.exclude,
        }
        kwargs.update(overrides)
        return cls(config.directory, clock=clock, emit=emit, **kwargs)

    # -- the dispatch side ------------------------------------------------------------

    def subscribe(self, bus: EventBus) -> Subscription:
        """``bus.subscribe(self.handle, name="history")``, cancelled by ``close()``."""
        self._sub = bus.subscribe(self.handle, name="history")
        return self._sub

    def wants(self, name: str) -> bool:
        """Does the name pass the include/exclude globs? (cached per name)"""
        ok = self._wanted.get(name)
        if ok is None:
            ok = any(fnmatch.fnmatchcase(name, p) for p in self.include) and not any(
                fnmatch.fnmatchcase(name, p) for p in self.exclude
            )
            self._wanted.put(name, ok)
        return ok

    def handle(self, evt: Event[Message]) -> None:
        """Filter and enqueue; O(1), never touches the disk, never waits for the writer."""
        if evt.severity < self.min_severity or not self.wants(evt.name):
            return
        with self._lock:
            buf = self._buf
            if len(buf) >= self.buffer_size:
                buf.popleft()
                self._dropped += 1
            buf.append(evt)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread (it first finalises segments a crash left behind)."""
        if self._thread is not None or self._closed:
            return
        thread = threading.Thread(target=self._run, name="history-writer", daemon=True)
        self._thread = thread
        self.clock.adopt(thread)
        thread.start()

    def close(self, timeout: float | None = None) -> None:
        """Stop taking events, write what is buffered, fsync and close (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._sub is not None:
            self._sub.cancel()
            self._sub = None
        thread = self._thread
        if thread is None:
            self._final()
            return
        self._stop.set()
        thread.join(self.join_timeout if timeout is None else timeout)
        if thread.is_alive():
            log.error("history writer did not stop within %.1fs", self.join_timeout)

    def stats(self) -> SinkStats:
        seg = self._seg
        return SinkStats(
            records=self._records,
            headers=self._headers,
            writes=self._writes,
            fsyncs=self._fsyncs,
            bytes=self._bytes,
            segment_bytes=self._segment_bytes,
            dropped=self._dropped,
            errors=self._errors,
            flushes=self._flushes,
            rotations=self._rotations,
            segments_deleted=self._deleted,
            pending=len(self._buf)
            + len(self._backlog)
            + sum(1 for _, e in self._out if e is not None),
            failing=self._failing,
            segment=None if seg is None else seg.name,
        )

    # -- the writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._recover()
        except Exception:
            log.exception("history recovery failed")
            self._errors += 1
        while True:
            stopping = self.clock.sleep(self.flush_interval, self._stop) or self._stop.is_set()
            if stopping:
                break
            try:
                self._cycle()
            except Exception:
                log.exception("history writer cycle failed")
                self._errors += 1
        self._final()

    def _final(self) -> None:
        try:
            self._cycle(final=True)
            seg = self._seg
            if seg is not None and not self._close_segment("shutdown", final=True):
                lost = len(self._backlog) + sum(1 for _, e in self._out if e is not None)
                log.error("history: %d events could not be written at shutdown", lost)
                self._abandon_segment()
                with self._lock:
                    self._dropped += lost
                self._backlog.clear()
                self._report_drops(final=True, why="they could not be written at shutdown")
            self._report_drops(final=True)
        except Exception:
            log.exception("history writer failed at shutdown")
            self._errors += 1

    def _cycle(self, final: bool = False) -> None:
        self._flushes += 1
        with self._lock:
            taken = list(self._buf)
            self._buf.clear()
        for evt in taken:
            p = self._prepare(evt)
            if p is not None:
                self._backlog.append(p)
        self._enforce_bound()
        ok = self._drain()
        seg = self._seg
        if ok and seg is not None and not final:
            now = self.clock.monotonic()
            if now - seg.opened_mono >= self.rotate_interval:
                self._close_segment("interval")
            elif self.fsync_interval and now - seg.last_fsync >= self.fsync_interval:
                self._fsync_segment(seg)
        self._report_drops(final)

    def _enforce_bound(self) -> None:
        """Keep at most ``buffer_size`` unwritten events, dropping the oldest.

        The bound covers lines waiting for the open segment and the backlog. A line
        already partly written and the segment header stay.
        """
        waiting = sum(1 for _, p in self._out if p is not None)
        over = len(self._backlog) + waiting - self.buffer_size
        if over <= 0:
            return
        dropped = 0
        if waiting:
            keep: list[tuple[bytes, _Prepared | None]] = []
            for i, (line, p) in enumerate(self._out):
                if dropped < over and p is not None and not (i == 0 and self._out_done):
                    dropped += 1
                    self._out_bytes -= len(line)
                    continue
                keep.append((line, p))
            self._out[:] = keep
        while dropped < over and self._backlog:
            self._backlog.popleft()
            dropped += 1
        with self._lock:
            self._dropped += dropped

    def _prepare(self, evt: Event[Message]) -> _Prepared | None:
        try:
            data = evt.data
            stamp = _iso(evt.time)
            rec = {
                "time": stamp,
                "name": evt.name,
                "data": data,
                "boot": self.boot_id,
                "mono": round(evt.monotonic, 6),
                "seq": evt.seq,
            }
            try:
                text = json.dumps(rec, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
            except ValueError:
                data = _finite(data)
                rec["data"] = data
                text = json.dumps(rec, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
            return _Prepared(
                (text + "\n").encode(), evt.name, data, stamp, evt.time.timestamp(), evt.monotonic
            )
        except Exception as exc:
            self._errors += 1
            log.error("history: cannot serialise %s (#%d): %r", evt.name, evt.seq, exc)
            return None

    def _rotation_reason(self, seg: _Segment, p: _Prepared) -> str | None:
        if abs(p.offset - seg.offset) > self.jump_threshold:
            return "clock_jump"
        if p.date != seg.date:
            return "day"
        if p.mono - seg.opened_mono >= self.rotate_interval:
            return "interval"
        return None

    def _drain(self) -> bool:
        if not self._write_out():
            return False
        backlog = self._backlog
        while backlog:
            p = backlog[0]
            seg = self._seg
            if seg is not None:
                reason = self._rotation_reason(seg, p)
                if reason is not None:
                    if not self._close_segment(reason):
                        return False
                    seg = None
            if seg is None:
                seg = self._open_segment(p)
                if seg is None:
                    return False
            self._out.append((p.line, p))
            self._out_bytes += len(p.line)
            backlog.popleft()
            if self._out_bytes >= CHUNK_BYTES and not self._write_out():
                return False
        return self._write_out()

    def _write_out(self) -> bool:
        """Write pending lines to the open segment; resume exactly after a short write."""
        seg = self._seg
        if not self._out or seg is None:
            return True
        data = b"".join(line for line, _ in self._out)[self._out_done :]
        while data:
            try:
                n = os.write(seg.fd, data)
            except OSError as exc:
                self._failed(exc, f"writing {seg.path}")
                return False
            self._writes += 1
            self._bytes += n
            self._segment_bytes += n
            seg.size += n
            if n <= 0:
                self._failed(OSError(errno.ENOSPC, "short write"), f"writing {seg.path}")
                return False
            self._consume(n)
            data = data[n:]
        if self._failing:
            self._resumed()
        return True

    def _consume(self, n: int) -> None:
        seg = self._seg
        done = self._out_done + n
        out = self._out
        i = 0
        while i < len(out) and done >= len(out[i][0]):
            line, p = out[i]
            done -= len(line)
            self._out_bytes -= len(line)
            if p is None:
                self._headers += 1
            else:
                self._records += 1
                if seg is not None:  # the summary and rollup describe what is on disk
                    seg.summary.add(p.name, p.t, p.mono, self.boot_id)
                    seg.rollup.add(p.name, p.data, p.t)
            i += 1
        del out[:i]
        self._out_done = done

    def _open_segment(self, p: _Prepared) -> _Segment | None:
        root = self.directory
        day = root / p.date
        base = p.time[11:19].replace(":", "-")
        try:
            root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            day_created = False
            try:
                day.mkdir(mode=DIR_MODE)
                day_created = True
            except FileExistsError:
                pass
            fd, path = self._create(day, base)
        except OSError as exc:
            self._failed(exc, f"creating a segment in {day}")
            return None
        if self._next_number is None:
            self._next_number = _next_number(
                list_segments(root, now=self.clock.time()), exclude=path
            )
        number = self._next_number
        self._next_number += 1
        name = f"{p.date}/{path.name}"
        seg = _Segment(path, name, fd, p, day_created, number, self.boot_id)
        header = {
            "time": p.time,
            "name": HEADER_NAME,
            "data": {
                "number": number,
                "reason": self._next_reason,
                "offset": round(p.offset, 6),
                "suspended": self._suspended(),
                "pid": os.getpid(),
                "version": FORMAT_VERSION,
            },
            "boot": self.boot_id,
            "mono": round(p.mono, 6),
            "seq": 0,
        }
        line = (json.dumps(header, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
        self._out.append((line, None))
        self._out_bytes += len(line)
        self._seg = seg
        publish_live(path, seg.rollup)
        return seg

    def _suspended(self) -> float | None:
        """Seconds this host has been suspended since boot (real clocks only)."""
        if not isinstance(self.clock, SystemClock) or not hasattr(time, "CLOCK_BOOTTIME"):
            return None
        return round(time.clock_gettime(time.CLOCK_BOOTTIME) - time.monotonic(), 3)

    @staticmethod
    def _create(day: Path, base: str) -> tuple[int, Path]:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        for k in range(1, 10000):
            stem = base if k == 1 else f"{base}_{k}"
            if any((day / f"{stem}{ext}").exists() for ext in (".jsonl.gz", INDEX_SUFFIX)):
                continue
            path = day / f"{stem}.jsonl"
            try:
                return os.open(path, flags, FILE_MODE), path
            except FileExistsError:
                continue
        raise OSError(errno.EEXIST, f"no free segment name for {base} in {day}")

    def _fsync_segment(self, seg: _Segment) -> None:
        try:
            os.fsync(seg.fd)
            self._fsyncs += 1
            if not seg.dir_synced:
                self._fsync_dir(seg.path.parent)
                if seg.day_created:
                    self._fsync_dir(self.directory)
                seg.dir_synced = True
        except OSError as exc:
            self._errors += 1
            log.error("history: fsync of %s failed: %s", seg.path, describe_os_error(exc))
        seg.last_fsync = self.clock.monotonic()

    def _fsync_dir(self, path: Path) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
            self._fsyncs += 1
        finally:
            os.close(fd)

    def _close_segment(self, reason: str, final: bool = False) -> bool:
        seg = self._seg
        if seg is None:
            return True
        if not self._write_out():
            return False
        self._fsync_segment(seg)
        try:
            os.close(seg.fd)
        except OSError as exc:
            self._errors += 1
            log.error("history: closing %s failed: %s", seg.path, describe_os_error(exc))
        self._seg = None
        self._next_reason = reason
        self._rotations += 1
        seg.summary.bytes = seg.size
        self._write_index(seg.path, index_bytes(seg.summary, seg.path.name, seg.rollup))
        publish_live(seg.path, None)
        if not final:
            self._maintain()
        return True

    def _abandon_segment(self) -> None:
        seg = self._seg
        if seg is None:
            return
        with contextlib.suppress(OSError):
            os.close(seg.fd)
        publish_live(seg.path, None)
        self._seg = None
        self._out.clear()
        self._out_done = 0
        self._out_bytes = 0

    def _write_file(self, path: Path, data: bytes, *, sync: bool) -> None:
        """Write ``data`` to ``path`` atomically (temporary file, then rename)."""
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                self._writes += 1
                self._bytes += n
                view = view[n:]
            if sync:
                os.fsync(fd)
                self._fsyncs += 1
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        os.replace(tmp, path)

    def _write_index(self, segment: Path, data: bytes) -> None:
        index = segment.with_name(segment.name.split(".", 1)[0] + INDEX_SUFFIX)
        try:
            self._write_file(index, data, sync=False)  # rebuilt from the segment if lost
        except OSError as exc:
            self._errors += 1
            log.warning("history: cannot write index %s: %s", index, describe_os_error(exc))

    # -- maintenance: finalise closed segments, retention ----------------------------------

    def _recover(self) -> None:
        """At start: remove temporary leftovers, finalise what a crash left, retention."""
        root = self.directory
        try:
            days = [d for d in root.iterdir() if DAY_RE.match(d.name) and d.is_dir()]
        except OSError:
            days = []
        for day in days:
            try:
                names = {p.name for p in day.iterdir()}
            except OSError:
                continue
            for name in names:
                path = day / name
                if name.endswith(".tmp"):
                    path.unlink(missing_ok=True)
                elif SEGMENT_RE.match(name) and name.endswith(".jsonl") and f"{name}.gz" in names:
                    path.unlink(missing_ok=True)  # compressed copy was complete (renamed)
        segs = list_segments(root, now=self.clock.time())
        if self._next_number is None:
            self._next_number = _next_number(segs)
        self._maintain(segs)

    def _maintain(self, segs: list[SegmentInfo] | None = None) -> None:
        root = self.directory
        open_path = self._seg.path if self._seg is not None else None
        if segs is None:
            segs = list_segments(root, now=self.clock.time())
        changed = False
        for seg in segs:
            if seg.path == open_path or (seg.compressed and seg.indexed):
                continue
            if not seg.indexed or (self.compress and not seg.compressed):
                changed = self._finalize(seg) or changed
        if changed:
            segs = list_segments(root, now=self.clock.time())
        plan = plan_retention(
            segs,
            now_wall=self.clock.time(),
            now_mono=self.clock.monotonic(),
            boot=self.boot_id,
            retention_days=self.retention_days,
            max_bytes=self.max_bytes,
            keep=[open_path] if open_path is not None else [],
        )
        if plan:
            count, errors = apply_retention(plan)
            self._deleted += count
            for err in errors:
                self._errors += 1
                log.error("history: %s", err)

    def _finalize(self, seg: SegmentInfo) -> bool:
        """Index (and compress) a closed segment; cut a torn last line first."""
        try:
            data, _complete = read_segment_bytes(seg.path)
            cut = False
            if not seg.compressed:
                end = data.rfind(b"\n") + 1
                if end < len(data) and parse_line(data[end:]) is None:
                    log.warning(
                        "history: cutting a torn last line (%d bytes) off %s",
                        len(data) - end,
                        seg.path,
                    )
                    os.truncate(seg.path, end)
                    data = data[:end]
                    cut = True
            if not seg.indexed or cut:
                summary, rollup = rollup_bytes(data)
                self._write_index(seg.path, index_bytes(summary, seg.path.name, rollup))
            if self.compress and not seg.compressed:
                gz = seg.path.with_name(seg.path.name + ".gz")
                self._write_file(gz, gzip_bytes(data), sync=True)
                self._fsync_dir(seg.path.parent)
                seg.path.unlink()
            return True
        except OSError as exc:
            self._errors += 1
            log.warning("history: cannot finalise %s: %s", seg.path, describe_os_error(exc))
            return False

    # -- reporting -------------------------------------------------------------------------

    def _emit(self, msg: Message) -> None:
        if self._emit_fn is None:
            return
        try:
            self._emit_fn(msg)
        except Exception:
            log.exception("history: emitting %s failed", msg.name)

    def _failed(self, exc: OSError, what: str) -> None:
        self._errors += 1
        if self._failing:
            return
        self._failing = True
        self._fail_since = self.clock.monotonic()
        self._dropped_at_fail = self._dropped
        reason = describe_os_error(exc)
        code = errno.errorcode.get(exc.errno or 0, "EUNKNOWN")
        pending = (
            len(self._buf) + len(self._backlog) + sum(1 for _, e in self._out if e is not None)
        )
        log.error(
            "history: cannot write to %s: %s (%s while %s); keeping up to %d events "
            "in memory and retrying every %.0fs",
            self.directory,
            reason,
            code,
            what,
            self.buffer_size,
            self.flush_interval,
        )
        self._emit(HistoryWriteFailed(str(self.directory), reason, code, pending))

    def _resumed(self) -> None:
        self._failing = False
        failed_for = self.clock.monotonic() - self._fail_since
        dropped = self._dropped - self._dropped_at_fail
        log.warning(
            "history: writing to %s works again after %.0fs (%d events dropped)",
            self.directory,
            failed_for,
            dropped,
        )
        self._emit(HistoryWriteResumed(str(self.directory), failed_for, dropped))

    def _report_drops(self, final: bool, why: str | None = None) -> None:
        new = self._dropped - self._dropped_reported
        if new <= 0:
            return
        now = self.clock.monotonic()
        if not final and now - self._last_drop_report < DROP_REPORT_INTERVAL:
            return
        self._dropped_reported += new
        self._last_drop_report = now
        if why is None:
            why = f"the buffer of {self.buffer_size} events was full"
            if self._failing:
                why += " while writing failed"
        log.error("history: dropped %d events (%s)", new, why)
        self._emit(HistoryDropped(str(self.directory), new, self._dropped, why))


def _next_number(segs: Iterable[SegmentInfo], exclude: Path | None = None) -> int:
    numbers = [s.number for s in segs if s.number is not None and s.path != exclude]
    return max(numbers, default=0) + 1
