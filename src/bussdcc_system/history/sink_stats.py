"""The sink's counters: mutable while the writer works, a frozen ``SinkStats`` to read.

Write and fsync counts are SD-card wear (``bench/bench_history.py`` reports them).
"""

from __future__ import annotations

from dataclasses import dataclass


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


@dataclass(slots=True)
class SinkCounters:
    """What the writer thread's parts count as they go (drops are the buffer's)."""

    records: int = 0
    headers: int = 0
    writes: int = 0
    fsyncs: int = 0
    bytes: int = 0
    segment_bytes: int = 0
    errors: int = 0
    flushes: int = 0
    rotations: int = 0
    deleted: int = 0
