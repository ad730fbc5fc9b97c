"""The open segment: opening it (header, creation number), appending, fsync, closing.

Lines are queued and written to the segment (opened ``O_APPEND``) with as few
``write()`` calls as possible. A short or failed write is resumed byte-exactly at the
next try, so it never leaves a broken line behind; a record counts as written (and
enters the segment's summary and rollup) only once all its bytes are. The segment is
fsync'd, with its directory the first time, when it is closed and, optionally, every
``fsync_interval`` seconds.

Rotation: a segment holds one clock offset and one UTC day, and lasts at most
``rotate_interval`` seconds of monotonic time (``rotation_reason``). Closing it writes
its sidecar index from what was written.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from bussdcc import ClockProtocol, SystemClock
from bussdcc_system.history.catalogue import list_segments
from bussdcc_system.history.durable_files import fsync_dir
from bussdcc_system.history.failure_reports import describe_os_error
from bussdcc_system.history.finalize import write_index
from bussdcc_system.history.record_format import EncodedRecord, encode_header
from bussdcc_system.history.rollup import Rollup, index_bytes, publish_live
from bussdcc_system.history.segment_files import DIR_MODE, create_segment_file
from bussdcc_system.history.segment_info import SegmentInfo
from bussdcc_system.history.segment_summary import SegmentSummary
from bussdcc_system.history.sink_stats import SinkCounters

log = logging.getLogger("bussdcc_system.history")


class OpenSegment:
    """The segment being written, with what is known of its content so far."""

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


def next_number(segs: Iterable[SegmentInfo], exclude: Path | None = None) -> int:
    """One more than the creation number of any segment (``exclude`` aside)."""
    numbers = [s.number for s in segs if s.number is not None and s.path != exclude]
    return max(numbers, default=0) + 1


class SegmentWriter:
    """Writes queued lines into the open segment; opens and closes segments.

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
    ) -> None:
        self.directory = directory
        self.clock = clock
        self.boot_id = boot_id
        self.counters = counters
        self._failed = failed
        self._written = written
        self.segment: OpenSegment | None = None
        self.next_reason = "start"
        """The header ``reason`` of the next segment: why the previous one was closed."""
        self.next_number: int | None = None
        """The creation number of the next segment (None: not known yet)."""
        self._out: list[tuple[bytes, EncodedRecord | None]] = []  # None: the header
        self._out_done = 0
        self._out_bytes = 0

    # -- the queue ------------------------------------------------------------------------

    @property
    def pending_bytes(self) -> int:
        return self._out_bytes

    def waiting(self) -> int:
        """Records queued for the open segment and not yet written in full."""
        return sum(1 for _, p in self._out if p is not None)

    def queue(self, p: EncodedRecord) -> None:
        self._out.append((p.line, p))
        self._out_bytes += len(p.line)

    def drop_waiting(self, over: int) -> int:
        """Drop up to ``over`` queued records, oldest first; returns how many went.

        A line already partly written and the segment header stay.
        """
        dropped = 0
        keep: list[tuple[bytes, EncodedRecord | None]] = []
        for i, (line, p) in enumerate(self._out):
            if dropped < over and p is not None and not (i == 0 and self._out_done):
                dropped += 1
                self._out_bytes -= len(line)
                continue
            keep.append((line, p))
        self._out[:] = keep
        return dropped

    def write_out(self) -> bool:
        """Write queued lines to the open segment; resume exactly after a short write."""
        seg = self.segment
        if not self._out or seg is None:
            return True
        counters = self.counters
        data = b"".join(line for line, _ in self._out)[self._out_done :]
        while data:
            try:
                n = os.write(seg.fd, data)
            except OSError as exc:
                self._failed(exc, f"writing {seg.path}")
                return False
            counters.writes += 1
            counters.bytes += n
            counters.segment_bytes += n
            seg.size += n
            if n <= 0:
                self._failed(OSError(errno.ENOSPC, "short write"), f"writing {seg.path}")
                return False
            self._consume(n)
            data = data[n:]
        self._written()
        return True

    def _consume(self, n: int) -> None:
        seg = self.segment
        done = self._out_done + n
        out = self._out
        counters = self.counters
        i = 0
        while i < len(out) and done >= len(out[i][0]):
            line, p = out[i]
            done -= len(line)
            self._out_bytes -= len(line)
            if p is None:
                counters.headers += 1
            else:
                counters.records += 1
                if seg is not None:  # the summary and rollup describe what is on disk
                    seg.summary.add(p.name, p.t, p.mono, self.boot_id)
                    seg.rollup.add(p.name, p.data, p.t)
            i += 1
        del out[:i]
        self._out_done = done

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
            fd, path = create_segment_file(day, base)
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
        self._out.append((line, None))
        self._out_bytes += len(line)
        self.segment = seg
        publish_live(path, seg.rollup)
        return seg

    def _suspended(self) -> float | None:
        """Seconds this host has been suspended since boot (real clocks only)."""
        if not isinstance(self.clock, SystemClock) or not hasattr(time, "CLOCK_BOOTTIME"):
            return None
        return round(time.clock_gettime(time.CLOCK_BOOTTIME) - time.monotonic(), 3)

    def fsync(self, seg: OpenSegment) -> None:
        """fsync the segment, and its directory (and the day's parent) the first time."""
        counters = self.counters
        try:
            os.fsync(seg.fd)
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
        """Write what is queued, fsync, close and index the open segment.

        False (and the segment stays open) if the queued lines cannot be written.
        """
        seg = self.segment
        if seg is None:
            return True
        if not self.write_out():
            return False
        counters = self.counters
        self.fsync(seg)
        try:
            os.close(seg.fd)
        except OSError as exc:
            counters.errors += 1
            log.error("history: closing %s failed: %s", seg.path, describe_os_error(exc))
        self.segment = None
        self.next_reason = reason
        counters.rotations += 1
        seg.summary.bytes = seg.size
        write_index(seg.path, index_bytes(seg.summary, seg.path.name, seg.rollup), counters)
        publish_live(seg.path, None)
        return True

    def abandon(self) -> None:
        """Close the open segment without writing what is queued (shutdown while failing)."""
        seg = self.segment
        if seg is None:
            return
        with contextlib.suppress(OSError):
            os.close(seg.fd)
        publish_live(seg.path, None)
        self.segment = None
        self._out.clear()
        self._out_done = 0
        self._out_bytes = 0
