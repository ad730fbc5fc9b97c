"""HistorySink: append-only JSONL history written off the dispatch thread.

``handle`` runs on the dispatch path and never blocks on I/O: it filters (minimum
severity, include/exclude globs on names), tells urgent from routine events
(``durability.py``) and appends the event to a bounded buffer (``event_buffer.py``). A
writer thread, waiting only in ``clock.sleep`` (SimClock-compatible), wakes only when
there is work, serialises what waits (``record_format.py``) and appends it to the open
segment as one gzip member (``segment_writer.py``):

- an urgent event (WARNING and above, lifecycle): written and synced at once, within
  ``URGENT_GAP`` of the previous urgent sync (a burst of them shares one);
- routine telemetry: every ``flush_interval`` seconds (default 300), or as soon as
  ``FLUSH_EVENTS`` events (about 1 MiB of lines) wait, whichever comes first;
- rotation, and shutdown.

SD-card wear: on ext4 each flush costs a journal commit whatever its size, so few
flushes, not few bytes, save the card; gzip members cut the bytes about tenfold. A
process crash (kill -9) loses what was still in memory: routine telemetry of the last
flush window, never an urgent event that had been synced. A power cut can also lose
what the kernel had not written back since (about 30 s). Lines already written are
never rewritten; a torn tail is skipped by readers and cut off when the next run
finalises the segment.

Rotation: every ``rotate_interval`` seconds of monotonic time since the segment was
opened, at a UTC day change, and when the wall clock jumps (the ``wall - mono`` offset
moves by more than ``JUMP_THRESHOLD``), so that a segment has one clock offset.
Closing a segment writes its sidecar index (per-minute rollups); then closed segments
a crash left are finalised (``finalize.py``) and retention is applied
(``retention.py``). At start the writer first does the same for what a crash left.

Failures (full disk, read-only or unwritable directory): an error message
``history.write_failed`` says why in words (``failure_reports.py``), the daemon keeps
running, events stay in memory up to the buffer's bound (routine ones dropped first),
and the writer retries every ``FAILURE_RETRY`` seconds (or flush, if sooner);
``history.write_resumed`` follows when writing works again. ``problem()`` says it in a
line while it lasts, for ``/healthz`` and ``STATUS=``.

A history directory deleted or replaced while the daemon runs is noticed at the next
flush (within ``flush_interval``, sooner when an urgent event comes): the directory is
made again, the open segment is carried over into it (``segment_writer.py``) and
``history.directory_lost`` says so; writing goes on there.

In the daemon's own process, chart queries also see what the writer holds and has not
written yet (``live.py``), so the last minutes are never missing from a chart.
"""

from __future__ import annotations

import fnmatch
import logging
import math
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from bussdcc import ClockProtocol, Event, EventBus, Message, Severity, Subscription, SystemClock
from bussdcc_system.history.boot_id import read_boot_id
from bussdcc_system.history.catalogue import list_segments
from bussdcc_system.history.clock_jumps import JUMP_THRESHOLD
from bussdcc_system.history.durability import Importance
from bussdcc_system.history.event_buffer import EventBuffer
from bussdcc_system.history.failure_reports import FailureReports
from bussdcc_system.history.finalize import finalize_segment, remove_leftovers
from bussdcc_system.history.live import publish_unwritten
from bussdcc_system.history.lru import Lru
from bussdcc_system.history.record_format import EncodedRecord, encode_event
from bussdcc_system.history.retention import apply_retention, plan_retention
from bussdcc_system.history.segment_files import DIR_MODE
from bussdcc_system.history.segment_info import SegmentInfo
from bussdcc_system.history.segment_writer import SegmentWriter, next_number, rotation_reason
from bussdcc_system.history.sink_stats import SinkCounters, SinkStats

log = logging.getLogger("bussdcc_system.history")

CHUNK_BYTES = 1 << 20
"""At most this many bytes of lines in one member (a backlog after a failure is written
in chunks)."""
FLUSH_EVENTS = 4096
"""Flush as soon as this many events wait (about 1 MiB of lines), even before the
flush interval is over."""
URGENT_GAP = 0.5
"""Seconds between two syncs for urgent events at the most: a burst (the services
starting at boot) shares one; a single one after a quiet spell is synced at once."""
FAILURE_RETRY = 5.0
"""Seconds between tries while writing fails (or the flush interval, if shorter)."""


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


class HistorySink:
    """Subscribe ``handle`` to the EventBus, ``start()`` the writer, ``close()`` at shutdown."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        clock: ClockProtocol | None = None,
        emit: Callable[[Message], object] | None = None,
        boot_id: str | None = None,
        flush_interval: float = 300.0,
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
        self._buffer = EventBuffer(buffer_size)
        self._importance = Importance()
        self.directory = Path(directory)
        self.clock: ClockProtocol = clock or SystemClock()
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

        self._wanted: Lru[str, bool] = Lru(4096)
        self._lock = threading.Lock()
        """Held while records move between "held" and "written" (``live.py``)."""
        self._backlog: deque[EncodedRecord] = deque()
        """Serialised events not yet queued for a segment (rotation decides which)."""
        self._counters = SinkCounters()
        self._reports = FailureReports(
            self.directory,
            self.clock,
            emit,
            buffer_size=buffer_size,
            flush_interval=self._retry_interval(),
        )
        self._writer = SegmentWriter(
            self.directory,
            clock=self.clock,
            boot_id=self.boot_id,
            counters=self._counters,
            failed=self._failed,
            written=self._written,
            compress=compress,
            lock=self._lock,
        )
        self._wake = threading.Event()
        """Set by ``handle`` (urgent or many events), ``close`` and the clock's jumps."""
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._sub: Subscription | None = None
        self._closed = False
        self._last_flush = self.clock.monotonic()
        self._last_urgent_sync = -math.inf
        self._last_attempt = -math.inf
        self._directory_id: tuple[int, int] | None = None
        """``(st_dev, st_ino)`` of the directory as last seen, to notice it replaced."""

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
        """Filter and enqueue; O(1), never touches the disk, never waits for the writer.

        Wakes the writer for an urgent event, or when ``FLUSH_EVENTS`` events wait."""
        if evt.severity < self.min_severity or not self.wants(evt.name):
            return
        urgent = self._importance.urgent(evt)
        self._buffer.append(evt, urgent)
        if urgent or len(self._buffer) == FLUSH_EVENTS:
            self._wake.set()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread (it first finalises segments a crash left behind)."""
        if self._thread is not None or self._closed:
            return
        thread = threading.Thread(target=self._run, name="history-writer", daemon=True)
        self._thread = thread
        self.clock.adopt(thread)
        publish_unwritten(self.directory, self._unwritten)
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
        self._stopping = True
        self._wake.set()
        thread.join(self.join_timeout if timeout is None else timeout)
        if thread.is_alive():
            log.error("history writer did not stop within %.1fs", self.join_timeout)
        else:
            publish_unwritten(self.directory, None)

    def stats(self) -> SinkStats:
        c = self._counters
        seg = self._writer.segment
        return SinkStats(
            records=c.records,
            headers=c.headers,
            writes=c.writes,
            fsyncs=c.fsyncs,
            bytes=c.bytes,
            segment_bytes=c.segment_bytes,
            dropped=self._buffer.dropped,
            errors=c.errors,
            flushes=c.flushes,
            rotations=c.rotations,
            segments_deleted=c.deleted,
            pending=self._pending(),
            failing=self._reports.failing,
            segment=None if seg is None else seg.name,
        )

    def problem(self) -> str | None:
        """What is wrong with writing history now, in one line (None when nothing is)."""
        return self._reports.problem()

    def _pending(self) -> int:
        """Events accepted but not yet written."""
        return len(self._buffer) + len(self._backlog) + self._writer.waiting()

    def _unwritten(self, name: str) -> list[tuple[float, Mapping[str, Any]]]:
        """``(time, data)`` of the records named ``name`` held and not yet written, for
        chart queries in this process (``live.py``); oldest first."""
        with self._lock:
            held = self._writer.held(name)
            held.extend(p for p in self._backlog if p.name == name)
        out: list[tuple[float, Mapping[str, Any]]] = [(p.t, p.data) for p in held]
        for evt, _urgent in self._buffer.peek():
            if evt.name == name:
                out.append((evt.time.timestamp(), evt.data))
        return out

    # -- the writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._recover()
        except Exception:
            log.exception("history recovery failed")
            self._counters.errors += 1
        while True:
            delay = self._next_wake() - self.clock.monotonic()
            if delay > 0:
                self.clock.sleep(delay, self._wake)
            self._wake.clear()
            if self._stopping:
                break
            if self._due():
                try:
                    self._cycle()
                except Exception:
                    log.exception("history writer cycle failed")
                    self._counters.errors += 1
        self._final()

    def _retry_interval(self) -> float:
        return min(self.flush_interval, FAILURE_RETRY)

    def _urgent_waiting(self) -> bool:
        return (
            self._buffer.urgent > 0
            or self._writer.urgent_waiting()
            or any(p.urgent for p in self._backlog)
        )

    def _next_wake(self) -> float:
        """When the writer has work next (monotonic), unless ``handle`` wakes it sooner."""
        if self._reports.failing:
            return self._last_attempt + self._retry_interval()
        wake = self._last_flush + self.flush_interval
        if self._urgent_waiting():
            wake = min(wake, self._last_urgent_sync + URGENT_GAP)
        if len(self._buffer) >= FLUSH_EVENTS:
            return self.clock.monotonic()
        seg = self._writer.segment
        if seg is not None:
            wake = min(wake, seg.opened_mono + self.rotate_interval)
            if self.fsync_interval:
                wake = min(wake, seg.last_fsync + self.fsync_interval)
        return wake

    def _due(self) -> bool:
        """Is there work now (the writer may have been woken early)?"""
        return self._next_wake() <= self.clock.monotonic()

    def _final(self) -> None:
        try:
            self._cycle(final=True)
            if self._writer.segment is not None and not self._close_segment("shutdown", final=True):
                lost = len(self._backlog) + self._writer.waiting()
                log.error("history: %d events could not be written at shutdown", lost)
                self._writer.abandon()
                self._buffer.count_dropped(lost)
                with self._lock:
                    self._backlog.clear()
                self._report_drops(final=True, why="they could not be written at shutdown")
            self._report_drops(final=True)
        except Exception:
            log.exception("history writer failed at shutdown")
            self._counters.errors += 1
        publish_unwritten(self.directory, None)

    def _cycle(self, final: bool = False) -> None:
        """Write everything that waits; sync if an urgent event was among it; rotate."""
        now = self.clock.monotonic()
        self._counters.flushes += 1
        self._last_attempt = now
        urgent = self._urgent_waiting()
        encoded = [p for evt, u in self._buffer.take() if (p := self._encode(evt, u)) is not None]
        with self._lock:
            self._backlog.extend(encoded)
        self._enforce_bound()
        ok = self._check_directory() and self._drain()
        seg = self._writer.segment
        if ok:
            self._last_flush = now
            if urgent and seg is not None and not final:
                self._writer.sync(seg)
                self._last_urgent_sync = self.clock.monotonic()
        if ok and seg is not None and not final:
            if now - seg.opened_mono >= self.rotate_interval:
                self._close_segment("interval")
            elif self.fsync_interval and now - seg.last_fsync >= self.fsync_interval:
                self._writer.sync(seg)
        self._report_drops(final)

    def _enforce_bound(self) -> None:
        """Keep at most ``buffer_size`` unwritten routine events and as many urgent ones,
        dropping the oldest (as the buffer does: telemetry never pushes a warning out).

        The bound covers records waiting for the open segment and the backlog. A unit
        already partly written and the segment header stay.
        """
        with self._lock:
            held = [*self._writer.queued(), *self._backlog]
        routine_over = sum(1 for p in held if not p.urgent) - self.buffer_size
        urgent_over = sum(1 for p in held if p.urgent) - self.buffer_size
        if routine_over <= 0 and urgent_over <= 0:
            return
        over = {False: max(0, routine_over), True: max(0, urgent_over)}
        gone: set[int] = set()
        for p in held:  # oldest first: the writer's queue, then the backlog
            if over[p.urgent] > 0:
                over[p.urgent] -= 1
                gone.add(id(p))
        with self._lock:
            self._writer.drop(gone)
            self._backlog = deque(p for p in self._backlog if id(p) not in gone)
        self._buffer.count_dropped(len(gone))

    def _encode(self, evt: Event[Message], urgent: bool) -> EncodedRecord | None:
        try:
            return encode_event(evt, urgent)
        except Exception as exc:
            self._counters.errors += 1
            log.error("history: cannot serialise %s (#%d): %r", evt.name, evt.seq, exc)
            return None

    def _drain(self) -> bool:
        writer = self._writer
        if not writer.write_out():
            return False
        backlog = self._backlog
        while backlog:
            p = backlog[0]
            seg = writer.segment
            if seg is not None:
                reason = rotation_reason(
                    seg, p, jump_threshold=self.jump_threshold, rotate_interval=self.rotate_interval
                )
                if reason is not None:
                    if not self._close_segment(reason):
                        return False
                    seg = None
            if seg is None:
                seg = writer.open(p)
                if seg is None:
                    return False
            with self._lock:
                backlog.popleft()
                writer.queue(p)
            if writer.pending_bytes >= CHUNK_BYTES and not writer.write_out():
                return False
        return writer.write_out()

    def _close_segment(self, reason: str, final: bool = False) -> bool:
        """Close the open segment; then (unless shutting down) finalise and retention."""
        if self._writer.segment is None:
            return True
        if not self._writer.close(reason):
            return False
        if not final:
            self._maintain()
        return True

    def _check_directory(self) -> bool:
        """Notice that the directory (or the open segment in it) was deleted or replaced,
        make it again and carry the open segment over; False if that failed."""
        try:
            st = os.stat(self.directory)
            here: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except OSError:
            here = None
        known = self._directory_id
        moved = self._writer.moved_away()
        if not moved and (known is None or here == known):
            self._directory_id = here
            return True
        how = "deleted" if here is None or here == known else "replaced"
        seg = self._writer.segment
        carried = 0
        if moved:
            done = self._writer.carry_over()
            if done is None:
                return False
            carried = done
        else:
            try:
                self.directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            except OSError as exc:
                self._failed(exc, f"making {self.directory} again")
                return False
        self._reports.lost(how, None if seg is None else seg.path, carried)
        try:
            st = os.stat(self.directory)
            self._directory_id = (st.st_dev, st.st_ino)
        except OSError:
            self._directory_id = None
        return True

    # -- maintenance: finalise closed segments, retention ----------------------------------

    def _recover(self) -> None:
        """At start: remove temporary leftovers, finalise what a crash left, retention."""
        remove_leftovers(self.directory)
        self._check_directory()  # remember which directory this is
        segs = list_segments(self.directory, now=self.clock.time())
        if self._writer.next_number is None:
            self._writer.next_number = next_number(segs)
        self._maintain(segs)

    def _maintain(self, segs: list[SegmentInfo] | None = None) -> None:
        root = self.directory
        open_seg = self._writer.segment
        open_path = open_seg.path if open_seg is not None else None
        if segs is None:
            segs = list_segments(root, now=self.clock.time())
        changed = False
        for seg in segs:
            if seg.path == open_path or (seg.compressed and seg.indexed):
                continue
            if not seg.indexed or (self.compress and not seg.compressed):
                changed = (
                    finalize_segment(seg, compress=self.compress, counters=self._counters)
                    or changed
                )
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
            self._counters.deleted += count
            for err in errors:
                self._counters.errors += 1
                log.error("history: %s", err)

    # -- reporting -------------------------------------------------------------------------

    def _failed(self, exc: OSError, what: str) -> None:
        self._counters.errors += 1
        self._reports.failed(exc, what, dropped=self._buffer.dropped, pending=self._pending)

    def _written(self) -> None:
        if self._reports.failing:
            self._reports.resumed(dropped=self._buffer.dropped)

    def _report_drops(self, final: bool, why: str | None = None) -> None:
        self._reports.report_drops(dropped=self._buffer.dropped, final=final, why=why)
