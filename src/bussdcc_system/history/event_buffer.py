"""The sink's bounded in-memory buffer between the dispatch thread and the writer.

``append`` is on the dispatch path: O(1), never waits for the writer or the disk. Routine
and urgent events (``durability.py``) are bounded separately, so that a flood of
telemetry never pushes a warning out: when ``size`` routine events wait, the oldest
routine one goes; urgent events are only ever dropped for other urgent ones (``size``
of them waiting, which takes a writer that has been failing for a long time). Every
drop is counted (``history.dropped`` says so later). The writer takes everything at
once, in the order it arrived. The drop count also covers events the writer had to
give up later (its own bound, or shutdown while writing fails).
"""

from __future__ import annotations

import heapq
import threading
from collections import deque

from bussdcc import Event, Message

Entry = tuple[int, Event[Message], bool]
"""(arrival number, event, urgent)"""


class EventBuffer:
    """At most ``size`` routine and ``size`` urgent events; thread-safe."""

    __slots__ = ("_arrived", "_lock", "_routine", "_urgent", "dropped", "size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("buffer_size must be at least 1")
        self.size = size
        self.dropped = 0
        """Events dropped since the buffer was created, here and by the writer."""
        self._routine: deque[Entry] = deque()
        self._urgent: deque[Entry] = deque()
        self._arrived = 0
        self._lock = threading.Lock()

    def append(self, evt: Event[Message], urgent: bool = False) -> None:
        with self._lock:
            self._arrived += 1
            events = self._urgent if urgent else self._routine
            if len(events) >= self.size:
                events.popleft()
                self.dropped += 1
            events.append((self._arrived, evt, urgent))

    def take(self) -> list[tuple[Event[Message], bool]]:
        """Every buffered ``(event, urgent)``, in arrival order; the buffer is empty
        afterwards."""
        with self._lock:
            routine, urgent = list(self._routine), list(self._urgent)
            self._routine.clear()
            self._urgent.clear()
        return _merged(routine, urgent)

    def peek(self) -> list[tuple[Event[Message], bool]]:
        """What ``take`` would return, leaving it buffered (chart queries read it)."""
        with self._lock:
            routine, urgent = list(self._routine), list(self._urgent)
        return _merged(routine, urgent)

    @property
    def urgent(self) -> int:
        """Urgent events waiting."""
        return len(self._urgent)

    def count_dropped(self, n: int) -> None:
        """Count ``n`` events the writer dropped after taking them."""
        with self._lock:
            self.dropped += n

    def __len__(self) -> int:
        return len(self._routine) + len(self._urgent)


def _merged(routine: list[Entry], urgent: list[Entry]) -> list[tuple[Event[Message], bool]]:
    if not urgent:
        return [(evt, False) for _, evt, _ in routine]
    return [(evt, u) for _, evt, u in heapq.merge(routine, urgent, key=lambda e: e[0])]
