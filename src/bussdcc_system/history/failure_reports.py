"""What the sink says when it cannot write or cannot keep up, in words.

- ``history.write_failed`` (ERROR), once when writing starts failing (full disk,
  read-only or unwritable directory): the directory, the reason in words, the errno
  name and how many events wait in memory;
- ``history.write_resumed`` (WARNING) when a write works again: for how long it failed
  and how many events were lost meanwhile;
- ``history.dropped`` (ERROR) when events were dropped, at most once per
  ``DROP_REPORT_INTERVAL`` seconds, and at shutdown;
- ``history.directory_lost`` (WARNING) when the history directory was deleted, moved
  away or replaced under the running writer: it was made again and the open segment
  carried over, so what the writer holds is not lost with the old directory.

Each is logged too. Emitting never raises into the writer. While writing fails,
``problem()`` says so in one line, for ``/healthz`` and systemd's ``STATUS=``.
"""

from __future__ import annotations

import errno
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bussdcc import ClockProtocol, Message, Severity
from bussdcc_system.formatting import exact_duration

log = logging.getLogger("bussdcc_system.history")

DROP_REPORT_INTERVAL = 60.0
"""At most one ``history.dropped`` message per this many seconds."""


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


@dataclass(slots=True, frozen=True)
class HistoryDirectoryLost(Message):
    """The history directory is not the one the writer was writing in any more."""

    name = "history.directory_lost"
    severity = Severity.WARNING
    directory: str
    how: str
    """``deleted`` (nothing there now) or ``replaced`` (another directory or file)."""
    segment: str
    """The open segment, carried over into the directory made again (``""`` if none)."""
    carried: int
    """Bytes of it copied from the old file (0 if it could not be read)."""


INODES_EXHAUSTED = (
    "the file system has no free inodes left (it cannot hold more files although"
    " `df` may show free space; `df -i` shows it)"
)


def describe_os_error(exc: OSError, where: Path | None = None) -> str:
    """An OSError in words a person understands.

    ``where``: a path on the file system concerned, so that ENOSPC can tell a full disk
    from one that has run out of inodes (both are ENOSPC to the writer)."""
    if exc.errno == errno.ENOSPC and where is not None and _inodes_exhausted(where):
        return INODES_EXHAUSTED
    words = {
        errno.ENOSPC: "the disk is full (no space left on device)",
        errno.EDQUOT: "the disk quota is exhausted",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.EROFS: "the file system is read-only",
        errno.ENOENT: "the directory does not exist",
        errno.ENOTDIR: "a part of the path is not a directory",
        errno.EEXIST: "a file that is not a directory is in the way",
        errno.EIO: "input/output error (failing storage?)",
        errno.EFBIG: "the file is too large (file size limit reached)",
    }
    text = words.get(exc.errno or 0)
    return text or (exc.strerror or repr(exc)).lower()


def _inodes_exhausted(where: Path) -> bool:
    """No inode is free on the file system of ``where`` (or of its nearest existing parent)."""
    for path in (where, *where.parents):
        try:
            st = os.statvfs(path)
        except OSError:
            continue
        return st.f_files > 0 and st.f_favail == 0
    return False


class FailureReports:
    """Whether writing is failing, since when, and which drops were already reported."""

    def __init__(
        self,
        directory: Path,
        clock: ClockProtocol,
        emit: Callable[[Message], object] | None,
        *,
        buffer_size: int,
        flush_interval: float,
    ) -> None:
        self.directory = directory
        self.clock = clock
        self._emit_fn = emit
        self.buffer_size = buffer_size
        self.flush_interval = flush_interval
        self.failing = False
        self._reason = ""
        """While failing: the reason in words and the errno name."""
        self._fail_since = 0.0
        self._dropped_at_fail = 0
        self._dropped_reported = 0
        self._last_drop_report = -math.inf

    def emit(self, msg: Message) -> None:
        if self._emit_fn is None:
            return
        try:
            self._emit_fn(msg)
        except Exception:
            log.exception("history: emitting %s failed", msg.name)

    def failed(self, exc: OSError, what: str, *, dropped: int, pending: Callable[[], int]) -> None:
        """Writing failed (``what`` was being done): say so once, until it works again."""
        if self.failing:
            return
        self.failing = True
        self._fail_since = self.clock.monotonic()
        self._dropped_at_fail = dropped
        reason = describe_os_error(exc, self.directory)
        code = errno.errorcode.get(exc.errno or 0, "EUNKNOWN")
        self._reason = f"{reason} ({code})"
        waiting = pending()
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
        self.emit(HistoryWriteFailed(str(self.directory), reason, code, waiting))

    def problem(self) -> str | None:
        """While writing fails, in one line: where, why and since when; else None."""
        if not self.failing:
            return None
        since = self.clock.monotonic() - self._fail_since
        return (
            f"history cannot be written to {self.directory}: {self._reason}"
            f" for {exact_duration(since)}"
        )

    def lost(self, how: str, segment: Path | None, carried: int) -> None:
        """The directory was deleted or replaced and has been made again: say so."""
        if segment is None:
            log.warning("history: %s was %s while running; made it again", self.directory, how)
        else:
            log.warning(
                "history: %s was %s while running; made it again and carried the open "
                "segment %s over (%d bytes); whatever else was in it is not there any more",
                self.directory,
                how,
                segment.name,
                carried,
            )
        name = "" if segment is None else f"{segment.parent.name}/{segment.name}"
        self.emit(HistoryDirectoryLost(str(self.directory), how, name, carried))

    def resumed(self, *, dropped: int) -> None:
        """A write worked while failing: say for how long it failed and what was lost."""
        self.failing = False
        failed_for = self.clock.monotonic() - self._fail_since
        lost = dropped - self._dropped_at_fail
        log.warning(
            "history: writing to %s works again after %.0fs (%d events dropped)",
            self.directory,
            failed_for,
            lost,
        )
        self.emit(HistoryWriteResumed(str(self.directory), failed_for, lost))

    def report_drops(self, *, dropped: int, final: bool, why: str | None = None) -> None:
        """Report drops since the last report (``dropped`` is the total so far)."""
        new = dropped - self._dropped_reported
        if new <= 0:
            return
        now = self.clock.monotonic()
        if not final and now - self._last_drop_report < DROP_REPORT_INTERVAL:
            return
        self._dropped_reported += new
        self._last_drop_report = now
        if why is None:
            why = f"the buffer of {self.buffer_size} events was full"
            if self.failing:
                why += " while writing failed"
        log.error("history: dropped %d events (%s)", new, why)
        self.emit(HistoryDropped(str(self.directory), new, dropped, why))
