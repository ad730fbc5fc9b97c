"""The open segment: opening it (header, creation number), appending flushes, sync, closing.

Records are queued and ``write_out`` appends them as one *unit* per flush: a gzip member
(or, with ``compress`` off, the plain lines) written with as few ``write()`` calls as
possible to the segment, opened ``O_APPEND``. ``zcat`` reads the members as one stream.
A short or failed write is resumed byte-exactly at the next try, so a unit is whole on
disk once written; a record counts as written (and enters the segment's summary and
rollup) only once all of its unit is. ``sync`` (``fdatasync``, and the directory the
first time) makes what is written durable: the sink calls it after urgent records and
when a segment is closed.

The lock (shared with the sink) covers every step that moves a record between "held"
and "written", so a chart query that reads the files and then the held records
(``unwritten``) never counts one twice (``live.py``).

Rotation: a segment holds one clock offset and one UTC day, and lasts at most
``rotate_interval`` seconds of monotonic time (``rotation_reason``). Closing it writes
its sidecar index from what was written.

A directory deleted or replaced under the writer (``rm -rf``, a restore, a mount over
it): the open file descriptor still works, so without a check everything written from
then on would go into a file nobody can reach. ``carry_over`` notices that the path no
longer names the open file, makes the directory again and copies what the old file
holds (read through ``/proc/self/fd``) into a new segment file there.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from bussdcc import ClockProtocol, SystemClock
from bussdcc_system.history.catalogue import list_segments
from bussdcc_system.history.durable_files import fsync_dir
from bussdcc_system.history.failure_reports import describe_os_error
from bussdcc_system.history.finalize import write_index
from bussdcc_system.history.live import publish_open_segment
from bussdcc_system.history.record_format import EncodedRecord, encode_header
from bussdcc_system.history.rollup import Rollup, index_bytes
from bussdcc_system.history.segment_files import DIR_MODE, create_segment_file, gzip_bytes
from bussdcc_system.history.segment_info import SegmentInfo
from bussdcc_system.history.segment_summary import SegmentSummary
from bussdcc_system.history.sink_stats import SinkCounters

log = logging.getLogger("bussdcc_system.history")

_datasync = getattr(os, "fdatasync", os.fsync)
"""Appended data and the file size, not the timestamps: one journal commit less."""


class OpenSegment:
    """The segment being written, with what is known of its content so far."""

    __slots__ = (
        "compressed",
        "date",
        "day_created",
        "dir_synced",
        "fd",
        "last_fsync",
        "name",
        "offset",
        "opened_mono",
        "path",
        "raw_size",
        "rollup",
        "size",
        "summary",
    )

    def __init__(
        self,
        path: Path,
        name: str,
        fd: int,
        p: EncodedRecord,
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
        """Bytes on disk."""
        self.raw_size = 0
        """Bytes of the lines written (uncompressed), the sidecar's ``bytes``."""
        self.compressed = path.name.endswith(".gz")
        self.dir_synced = False
        self.day_created = day_created


def rotation_reason(
    seg: OpenSegment, p: EncodedRecord, *, jump_threshold: float, rotate_interval: float
) -> str | None:
    """Why ``p`` must go into a new segment (``clock_jump``, ``day``, ``interval``), or None."""
    if abs(p.offset - seg.offset) > jump_threshold:
        return "clock_jump"
    if p.date != seg.date:
        return "day"
    if p.mono - seg.opened_mono >= rotate_interval:
        return "interval"
    return None


def _stem(path: Path) -> str:
    return path.name.removesuffix(".gz").removesuffix(".jsonl")


def _read_open_file(fd: int) -> bytes:
    """What the (write-only, maybe deleted) file open at ``fd`` holds; b"" if it cannot
    be read (no ``/proc``)."""
    try:
        with open(f"/proc/self/fd/{fd}", "rb") as f:
            return f.read()
    except OSError as exc:
        log.error("history: cannot read back the open segment: %s", describe_os_error(exc))
        return b""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.ENOSPC, "short write")
        view = view[n:]


def next_number(segs: Iterable[SegmentInfo], exclude: Path | None = None) -> int:
    """One more than the creation number of any segment (``exclude`` aside)."""
    numbers = [s.number for s in segs if s.number is not None and s.path != exclude]
    return max(numbers, default=0) + 1


class SegmentWriter:
    """Writes queued records into the open segment; opens, syncs and closes segments.

    ``failed(exc, what)`` is called when a write or a create fails, ``written()`` after
    every write that completed what was queued (so a failure can be declared over).
    """

    def __init__(
        self,
        directory: Path,
        *,
        clock: ClockProtocol,
        boot_id: str,
        counters: SinkCounters,
        failed: Callable[[OSError, str], None],
        written: Callable[[], None],
        compress: bool = True,
        lock: threading.Lock | None = None,
    ) -> None:
        self.directory = directory
        self.clock = clock
        self.boot_id = boot_id
        self.counters = counters
        self.compress = compress
        self.lock = lock or threading.Lock()
        self._failed = failed
        self._written = written
        self.segment: OpenSegment | None = None
        self.next_reason = "start"
        """The header ``reason`` of the next segment: why the previous one was closed."""
        self.next_number: int | None = None
        """The creation number of the next segment (None: not known yet)."""
        self._header: bytes | None = None
        """The open segment's header line, until it is in a unit."""
        self._header_line = b""
        self._queued: list[EncodedRecord] = []
        """Records for the open segment not yet in a unit."""
        self._queued_bytes = 0
        self._unit = b""
        """The unit being written (b"" when none), and how much of it is on disk."""
        self._unit_done = 0
        self._unit_records: list[EncodedRecord] = []
        self._unit_header = False

    # -- the queue ------------------------------------------------------------------------

    @property
    def pending_bytes(self) -> int:
        """Bytes queued (uncompressed) and of the unit not yet written."""
        return self._queued_bytes + len(self._unit) - self._unit_done

    def waiting(self) -> int:
        """Records queued for the open segment and not yet written in full."""
        return len(self._queued) + len(self._unit_records)

    def urgent_waiting(self) -> bool:
        return any(p.urgent for p in self._queued) or any(p.urgent for p in self._unit_records)

    def queue(self, p: EncodedRecord) -> None:
        """Queue ``p`` for the open segment (the caller holds the lock)."""
        self._queued.append(p)
        self._queued_bytes += len(p.line)

    def held(self, name: str) -> list[EncodedRecord]:
        """Records named ``name`` not yet written, oldest first (the caller holds the lock)."""
        return [p for p in (*self._unit_records, *self._queued) if p.name == name]

    def queued(self) -> list[EncodedRecord]:
        """Records waiting that can still be dropped, oldest first (the caller holds the
        lock): a unit of which a part is on disk stays whole (and so does the header);
        one of which nothing is written yet goes back to the queue first."""
        if self._unit and self._unit_done == 0:
            self._queued[:0] = self._unit_records
            self._queued_bytes += sum(len(p.line) for p in self._unit_records)
            if self._unit_header and self.segment is not None:
                self._header = self._header_line
            self._unit = b""
            self._unit_records = []
            self._unit_header = False
        return list(self._queued)

    def drop(self, gone: set[int]) -> None:
        """Drop the queued records whose ``id`` is in ``gone`` (the caller holds the lock)."""
        self._queued = [p for p in self._queued if id(p) not in gone]
        self._queued_bytes = sum(len(p.line) for p in self._queued)

    def write_out(self) -> bool:
        """Write what is queued as one unit; resume exactly after a short write."""
        seg = self.segment
        if seg is None:
            return True
        if not self._unit and (self._queued or self._header is not None):
            self._make_unit(seg)
        if not self._unit:
            return True
        counters = self.counters
        unit = memoryview(self._unit)
        while self._unit:
            with self.lock:
                try:
                    n = os.write(seg.fd, unit[self._unit_done :])
                except OSError as exc:
                    n = -1
                    error = exc
                if n > 0:
                    counters.writes += 1
                    counters.bytes += n
                    counters.segment_bytes += n
                    seg.size += n
                    self._unit_done += n
                    if self._unit_done == len(unit):
                        self._unit_written(seg)
            if n < 0:
                self._failed(error, f"writing {seg.path}")
                return False
            if n == 0:
                self._failed(OSError(errno.ENOSPC, "short write"), f"writing {seg.path}")
                return False
        self._written()
        return True

    def _make_unit(self, seg: OpenSegment) -> None:
        with self.lock:  # the records stay visible to ``held`` as the unit's
            records, self._queued, self._queued_bytes = self._queued, [], 0
            header, self._header = self._header, None
            self._unit_records = records
            self._unit_header = header is not None
        data = b"".join([header or b"", *(p.line for p in records)])
        self._unit = gzip_bytes(data) if seg.compressed else data
        self._unit_done = 0

    def _unit_written(self, seg: OpenSegment) -> None:
        """The whole unit is on disk (the caller holds the lock)."""
        counters = self.counters
        if self._unit_header:
            counters.headers += 1
        summary, rollup = seg.summary, seg.rollup
        for p in self._unit_records:
            summary.add(p.name, p.t, p.mono, self.boot_id)
            rollup.add(p.name, p.data, p.t)
        counters.records += len(self._unit_records)
        seg.raw_size += sum(len(p.line) for p in self._unit_records)
        self._unit = b""
        self._unit_done = 0
        self._unit_records = []
        self._unit_header = False

    # -- segments -------------------------------------------------------------------------

    def open(self, p: EncodedRecord) -> OpenSegment | None:
        """Create the segment ``p`` opens, and queue its header; None if that failed."""
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
            fd, path = create_segment_file(day, base, compressed=self.compress)
        except OSError as exc:
            self._failed(exc, f"creating a segment in {day}")
            return None
        if self.next_number is None:
            self.next_number = next_number(list_segments(root, now=self.clock.time()), exclude=path)
        number = self.next_number
        self.next_number += 1
        name = f"{p.date}/{path.name}"
        seg = OpenSegment(path, name, fd, p, day_created, number, self.boot_id)
        line = encode_header(
            p,
            number=number,
            reason=self.next_reason,
            suspended=self._suspended(),
            boot=self.boot_id,
        )
        seg.raw_size = len(line)  # counted now: the header goes out with the first unit
        self._header = self._header_line = line
        self.segment = seg
        publish_open_segment(path, seg.rollup)
        return seg

    def moved_away(self) -> bool:
        """Is the open segment's path no longer the file being written (deleted, or the
        directory replaced)? False with no open segment."""
        seg = self.segment
        if seg is None:
            return False
        try:
            mine = os.fstat(seg.fd)
        except OSError:
            return False
        try:
            there = os.stat(seg.path)
        except OSError:
            return True
        return mine.st_nlink == 0 or (there.st_dev, there.st_ino) != (mine.st_dev, mine.st_ino)

    def carry_over(self) -> int | None:
        """Copy the open segment, whose path is gone, into a new file in the directory
        made again, and go on writing there: the bytes carried, or None if that failed
        (reported through ``failed``; the old file stays open and it is tried again)."""
        seg = self.segment
        assert seg is not None
        data = _read_open_file(seg.fd)
        day = seg.path.parent
        try:
            self.directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            day.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            fd, path = create_segment_file(day, _stem(seg.path), compressed=seg.compressed)
        except OSError as exc:
            self._failed(exc, f"making {day} again")
            return None
        try:
            _write_all(fd, data)
        except OSError as exc:
            os.close(fd)
            with contextlib.suppress(OSError):
                path.unlink()
            self._failed(exc, f"copying {seg.name} into {day}")
            return None
        with self.lock:
            with contextlib.suppress(OSError):
                os.close(seg.fd)
            publish_open_segment(seg.path, None)
            seg.fd, seg.path, seg.size = fd, path, len(data)
            seg.name = f"{day.name}/{path.name}"
            seg.dir_synced = False
            seg.day_created = True
            publish_open_segment(path, seg.rollup)
        self.counters.bytes += len(data)
        self.sync(seg)
        return len(data)

    def _suspended(self) -> float | None:
        """Seconds this host has been suspended since boot (real clocks only)."""
        if not isinstance(self.clock, SystemClock) or not hasattr(time, "CLOCK_BOOTTIME"):
            return None
        return round(time.clock_gettime(time.CLOCK_BOOTTIME) - time.monotonic(), 3)

    def sync(self, seg: OpenSegment) -> None:
        """Make what is written durable: the segment's data, and its directory (and the
        day's parent) the first time."""
        counters = self.counters
        try:
            _datasync(seg.fd)
            counters.fsyncs += 1
            if not seg.dir_synced:
                fsync_dir(seg.path.parent, counters)
                if seg.day_created:
                    fsync_dir(self.directory, counters)
                seg.dir_synced = True
        except OSError as exc:
            counters.errors += 1
            log.error("history: fsync of %s failed: %s", seg.path, describe_os_error(exc))
        seg.last_fsync = self.clock.monotonic()

    def close(self, reason: str) -> bool:
        """Write what is queued, sync, close and index the open segment.

        False (and the segment stays open) if the queued records cannot be written.
        """
        seg = self.segment
        if seg is None:
            return True
        if not self.write_out():
            return False
        counters = self.counters
        self.sync(seg)
        try:
            os.close(seg.fd)
        except OSError as exc:
            counters.errors += 1
            log.error("history: closing %s failed: %s", seg.path, describe_os_error(exc))
        self.segment = None
        self.next_reason = reason
        counters.rotations += 1
        seg.summary.bytes = seg.raw_size
        write_index(seg.path, index_bytes(seg.summary, seg.path.name, seg.rollup), counters)
        publish_open_segment(seg.path, None)
        return True

    def abandon(self) -> None:
        """Close the open segment without writing what is queued (shutdown while failing)."""
        seg = self.segment
        if seg is None:
            return
        with contextlib.suppress(OSError):
            os.close(seg.fd)
        publish_open_segment(seg.path, None)
        with self.lock:
            self.segment = None
            self._header = None
            self._queued = []
            self._queued_bytes = 0
            self._unit = b""
            self._unit_done = 0
            self._unit_records = []
            self._unit_header = False
