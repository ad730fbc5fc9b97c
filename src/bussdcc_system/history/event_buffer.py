"""The sink's bounded in-memory buffer between the dispatch thread and the writer.

``append`` is on the dispatch path: O(1), never waits for the writer or the disk. When
the buffer is full the oldest event goes and is counted (``history.dropped`` says so
later). The writer takes everything at once. The drop count also covers events the
writer had to give up later (its own bound, or shutdown while writing fails).
"""

from __future__ import annotations

import threading
from collections import deque

from bussdcc import Event, Message


class EventBuffer:
    """At most ``size`` events; thread-safe."""

    __slots__ = ("_events", "_lock", "dropped", "size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("buffer_size must be at least 1")
        self.size = size
        self.dropped = 0
        """Events dropped since the buffer was created, here and by the writer."""
        self._events: deque[Event[Message]] = deque()
        self._lock = threading.Lock()

    def append(self, evt: Event[Message]) -> None:
        with self._lock:
            events = self._events
            if len(events) >= self.size:
                events.popleft()
                self.dropped += 1
            events.append(evt)

    def take(self) -> list[Event[Message]]:
        """Every buffered event, oldest first; the buffer is empty afterwards."""
        with self._lock:
            taken = list(self._events)
            self._events.clear()
        return taken

    def count_dropped(self, n: int) -> None:
        """Count ``n`` events the writer dropped after taking them."""
        with self._lock:
            self.dropped += n

    def __len__(self) -> int:
        return len(self._events)
