"""Finishing closed segments: cut a torn tail, write the sidecar index, compress.

A segment the writer closed cleanly has its index; one a crash left behind has none,
and maybe a torn tail: a member (or line) cut short by a kill during a write, or NUL
bytes after a power cut. ``finalize_segment`` cuts the tail off at the end of the last
whole member (or line), so ``zcat`` reads the file cleanly, and writes the index. A
plain segment (``history.compress: false`` before, or version 1) is then compressed
if asked: the ``.gz`` is written to a temporary file, fsync'd and renamed, the directory
is fsync'd, and only then is the plain file removed. A crash between the rename and the
removal leaves both: readers use the ``.gz``, and ``remove_leftovers`` removes the
plain copy (and any temporary file) at the next start.

What a cut removes was never acknowledged: a record counts as written only once its
whole member is (``segment_writer.py``), and an urgent one only once it is synced.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from bussdcc_system.history.durable_files import fsync_dir, write_file_atomically
from bussdcc_system.history.failure_reports import describe_os_error
from bussdcc_system.history.record_format import parse_line
from bussdcc_system.history.rollup import index_bytes, rollup_bytes
from bussdcc_system.history.segment_files import (
    DAY_RE,
    SEGMENT_RE,
    gzip_bytes,
    index_path,
    read_members,
)
from bussdcc_system.history.segment_info import SegmentInfo
from bussdcc_system.history.sink_stats import SinkCounters

log = logging.getLogger("bussdcc_system.history")


def write_index(segment: Path, text: bytes, counters: SinkCounters) -> None:
    """Write a segment's sidecar index (gzip'd ``text``); on failure log it (it is rebuilt
    from the segment if missing)."""
    index = index_path(segment)
    try:
        write_file_atomically(index, gzip_bytes(text), counters, sync=False)
    except OSError as exc:
        counters.errors += 1
        log.warning("history: cannot write index %s: %s", index, describe_os_error(exc))


def finalize_segment(seg: SegmentInfo, *, compress: bool, counters: SinkCounters) -> bool:
    """Index (and compress) a closed segment; cut a torn last line first."""
    try:
        if seg.compressed:
            data, cut = _cut_torn_members(seg)
        else:
            data = seg.path.read_bytes()
            cut = False
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
            write_index(seg.path, index_bytes(summary, seg.path.name, rollup), counters)
        if compress and not seg.compressed:
            gz = seg.path.with_name(seg.path.name + ".gz")
            write_file_atomically(gz, gzip_bytes(data), counters, sync=True)
            fsync_dir(seg.path.parent, counters)
            seg.path.unlink()
        return True
    except OSError as exc:
        counters.errors += 1
        log.warning("history: cannot finalise %s: %s", seg.path, describe_os_error(exc))
        return False


def _cut_torn_members(seg: SegmentInfo) -> tuple[bytes, bool]:
    """The content of a gzip segment's whole members; what follows them is cut off."""
    raw = seg.path.read_bytes()
    members = read_members(raw)
    if members.end == len(raw) or seg.indexed:
        return members.data, False
    log.warning("history: cutting a torn tail (%d bytes) off %s", len(raw) - members.end, seg.path)
    os.truncate(seg.path, members.end)
    return members.data, True


def remove_leftovers(root: Path) -> None:
    """Remove temporary files, and plain segments whose compressed copy is complete."""
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
