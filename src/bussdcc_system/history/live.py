"""What the writer in this process knows that the files do not say yet.

Routine telemetry waits in memory for minutes before it is written (``durability.py``),
and the open segment has no sidecar index until it is closed. A chart in the daemon must
still show the last minutes at full resolution, so the writer publishes, per directory:

- the per-minute rollup of its open segment (what is written so far), so minute-step
  queries need not scan it;
- a way to read the records it holds and has not written (``Unwritten``).

A chart query reads the files (and the rollup) first and the unwritten records after:
a record is removed from the unwritten ones in the same step as it is written (under
the writer's lock), so a query never counts one twice. Another process (the CLI) sees
the files only.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bussdcc_system.history.rollup import Rollup

Unwritten = Callable[[str], list[tuple[float, Mapping[str, Any]]]]
"""``unwritten(message name)`` -> ``(time, data)`` of the records not yet written."""

_open: dict[str, Rollup] = {}
_unwritten: dict[str, Unwritten] = {}
_lock = threading.Lock()


def _key(directory: str | os.PathLike[str]) -> str:
    return os.path.realpath(directory)


def publish_open_segment(segment: Path, rollup: Rollup | None) -> None:
    """The writer announces the rollup of its open segment (None when it closes it)."""
    with _lock:
        if rollup is None:
            _open.pop(str(segment), None)
        else:
            _open[str(segment)] = rollup


def open_rollup(segment: Path) -> Rollup | None:
    """The rollup of ``segment`` if a writer in this process has it open."""
    with _lock:
        return _open.get(str(segment))


def is_open(segment: Path) -> bool:
    """Is a writer in this process appending to ``segment`` (a torn tail is expected)?"""
    with _lock:
        return str(segment) in _open


def publish_unwritten(directory: str | os.PathLike[str], source: Unwritten | None) -> None:
    """The writer of ``directory`` offers (or, with None, withdraws) its unwritten records."""
    with _lock:
        if source is None:
            _unwritten.pop(_key(directory), None)
        else:
            _unwritten[_key(directory)] = source


def unwritten(
    directory: str | os.PathLike[str], name: str
) -> list[tuple[float, Mapping[str, Any]]]:
    """``(time, data)`` of the records named ``name`` the writer of ``directory`` in this
    process holds and has not written, oldest first ([] without such a writer)."""
    with _lock:
        source = _unwritten.get(_key(directory))
    return [] if source is None else source(name)
