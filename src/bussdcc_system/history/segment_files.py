"""Segment files on disk: names, compression and the sidecar beside each segment.

``<dir>/YYYY-MM-DD/HH-MM-SS.jsonl`` (named by the UTC wall time of the segment's first
record; ``HH-MM-SS_2.jsonl`` when that name is taken), gzip-compressed to
``.jsonl.gz`` once closed, with a sidecar index ``HH-MM-SS.idx``.
"""

from __future__ import annotations

import errno
import gzip
import os
import re
import zlib
from pathlib import Path

INDEX_SUFFIX = ".idx"
FILE_MODE = 0o640
DIR_MODE = 0o750

DAY_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
SEGMENT_RE = re.compile(r"^(\d{2})-(\d{2})-(\d{2})(?:_(\d+))?\.jsonl(\.gz)?$")


def index_path(segment: Path) -> Path:
    """The sidecar index of a segment (``HH-MM-SS.idx`` beside ``HH-MM-SS.jsonl[.gz]``)."""
    return segment.parent / (segment.name.split(".", 1)[0] + INDEX_SUFFIX)


def create_segment_file(day: Path, base: str) -> tuple[int, Path]:
    """Create ``day/base.jsonl`` (or ``base_2.jsonl``, ...) for appending: (fd, path).

    A name is free only if no compressed copy or index of that stem exists either.
    """
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


def find_segment_files(directory: Path) -> dict[str, tuple[Path, bool]]:
    """stem -> (file to read, compressed); a ``.gz`` wins over a leftover plain file."""
    out: dict[str, tuple[Path, bool]] = {}
    try:
        days = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return out
    for day in days:
        if not DAY_RE.match(day.name):
            continue
        try:
            if not day.is_dir():
                continue
            entries = list(os.scandir(day.path))
        except OSError:
            continue
        for entry in entries:
            m = SEGMENT_RE.match(entry.name)
            if m is None:
                continue
            stem = f"{day.name}/{entry.name.split('.', 1)[0]}"
            compressed = m.group(5) is not None
            if stem in out and out[stem][1] and not compressed:
                continue
            out[stem] = (Path(entry.path), compressed)
    return out


def read_segment_bytes(path: Path) -> tuple[bytes, bool]:
    """The decompressed content of a segment, and whether it was complete.

    A truncated gzip member yields what could be decompressed and False.
    """
    raw = path.read_bytes()
    if not path.name.endswith(".gz"):
        return raw, True
    out: list[bytes] = []
    complete = True
    while raw:
        d = zlib.decompressobj(wbits=31)
        try:
            out.append(d.decompress(raw))
        except zlib.error:
            complete = False
            break
        if not d.eof:
            complete = False
            break
        raw = d.unused_data
        if raw.strip(b"\0") == b"":
            break
    return b"".join(out), complete


def gzip_bytes(data: bytes) -> bytes:
    """Compress a closed segment (deterministic: no file name, no mtime)."""
    return gzip.compress(data, compresslevel=6, mtime=0)
