"""Reading a segment that is still being written, from where the last read stopped.

The open segment grows by one flush at a time (a gzip member, or plain lines). The
catalogue and chart queries keep a ``Position`` per open segment and read only what
was appended since, so a query every few seconds costs what was written meanwhile,
not the whole hour. What follows the last whole member or line (a flush being written
right now, or a crash's torn tail) is returned apart and read again next time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bussdcc_system.history.segment_files import read_members


@dataclass(frozen=True, slots=True)
class Position:
    """How far a file was read: its inode (a new file starts over) and the offset where
    its whole members (or lines) end."""

    ino: int
    offset: int


def read_new(path: Path, since: Position | None) -> tuple[Position, bytes, bytes]:
    """``(position, whole lines appended since, torn tail)`` of a plain or gzip segment.

    Raises ``OSError`` (``FileNotFoundError`` once it was compressed away by a later run).
    """
    compressed = path.name.endswith(".gz")
    with path.open("rb") as f:
        st = os.fstat(f.fileno())
        offset = 0
        if since is not None and since.ino == st.st_ino and since.offset <= st.st_size:
            offset = since.offset
        f.seek(offset)
        raw = f.read()
    if compressed:
        members = read_members(raw)
        return Position(st.st_ino, offset + members.end), members.data, members.torn
    cut = raw.rfind(b"\n") + 1
    return Position(st.st_ino, offset + cut), raw[:cut], raw[cut:]
