"""Whole files written so that a crash leaves the old file or the new one, never half.

Used for the sidecar indexes and the compressed copies of closed segments: a temporary
file beside the target, optionally fsync'd, then renamed over it. Every ``write()`` and
``fsync()`` is counted (SD-card wear).
"""

from __future__ import annotations

import os
from pathlib import Path

from bussdcc_system.history.segment_files import FILE_MODE
from bussdcc_system.history.sink_stats import SinkCounters


def write_file_atomically(path: Path, data: bytes, counters: SinkCounters, *, sync: bool) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, then rename)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            counters.writes += 1
            counters.bytes += n
            view = view[n:]
        if sync:
            os.fsync(fd)
            counters.fsyncs += 1
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, path)


def fsync_dir(path: Path, counters: SinkCounters) -> None:
    """Make a directory's entries (a created or renamed file) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
        counters.fsyncs += 1
    finally:
        os.close(fd)
