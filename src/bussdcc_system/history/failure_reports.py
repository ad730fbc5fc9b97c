"""What the sink says when it cannot write or cannot keep up, in words.

- ``history.write_failed`` (ERROR), once when writing starts failing (full disk,
  read-only or unwritable directory): the directory, the reason in words, the errno
  name and how many events wait in memory;
- ``history.write_resumed`` (WARNING) when a write works again: for how long it failed
  and how many events were lost meanwhile;
- ``history.dropped`` (ERROR) when events were dropped, at most once per
  ``DROP_REPORT_INTERVAL`` seconds, and at shutdown.

Each is logged too. Emitting never raises into the writer.
"""

from __future__ import annotations

import errno
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bussdcc import ClockProtocol, Message, Severity

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
        reason = describe_os_error(exc)
        code = errno.errorcode.get(exc.errno or 0, "EUNKNOWN")
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
