"""``SegmentInfo``: one segment as the catalogue describes it (see ``catalogue.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bussdcc_system.history.segment_files import index_path


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """One segment as the catalogue sees it. Times are POSIX seconds."""

    path: Path
    """The file to read (``.jsonl``, or ``.jsonl.gz`` once compressed)."""
    name: str
    """Relative to the history directory, e.g. ``2026-01-01/12-00-00.jsonl.gz``."""
    stem: str
    """``name`` without the extension, e.g. ``2026-01-01/12-00-00``."""
    compressed: bool
    size: int
    """Bytes on disk of the segment file."""
    index_size: int
    """Bytes on disk of its sidecar index (0 if none)."""
    indexed: bool
    """A valid sidecar index exists (rollups for fast chart queries)."""
    number: int | None
    """Creation order, from the header record (None for a segment without one)."""
    boot: str | None
    offset: float | None
    """``wall - mono`` when the segment was opened."""
    suspended: float | None
    first_time: float | None
    """Recorded (uncorrected) wall times of the first and last records."""
    last_time: float | None
    min_time: float | None
    max_time: float | None
    first_mono: float | None
    last_mono: float | None
    records: int | None
    """Event records (header excluded), when known (indexed segments)."""
    names: Mapping[str, int] | None = None
    """Record count per message name, when known (indexed segments)."""
    shift: float = 0.0
    """Seconds added to recorded times to correct a clock that was later stepped."""
    plausible: bool = True
    """Its corrected times look like a set clock (see ``docs/history.md``)."""

    @property
    def start(self) -> float | None:
        """Corrected time of the earliest record."""
        t = self.min_time if self.min_time is not None else self.first_time
        return None if t is None else t + self.shift

    @property
    def end(self) -> float | None:
        """Corrected time of the latest record."""
        t = self.max_time if self.max_time is not None else self.last_time
        return None if t is None else t + self.shift

    @property
    def index_path(self) -> Path:
        return index_path(self.path)

    @property
    def total_size(self) -> int:
        return self.size + self.index_size

    def sort_key(self) -> tuple[int, int, str]:
        return (0, 0, self.stem) if self.number is None else (1, self.number, self.stem)
