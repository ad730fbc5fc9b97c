"""A small bounded LRU map: the one cache helper of the history package.

The daemon runs for months, so none of its caches (catalogue entries, sidecar cells,
segment scans, parsed metric names, the sink's name filter, the places already warned
about) may grow without bound: each keeps at most ``size`` entries and forgets the
least recently used one first.

Thread-safe: chart queries run on web threads while the writer works. ``get`` is on
the dispatch path (the sink's name filter), so it takes no lock: each ``OrderedDict``
operation is atomic under the GIL, and an entry evicted between the lookup and the
move makes that ``get`` a miss, never an error. ``put`` and ``clear`` take the lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """At most ``size`` entries; ``get`` returns None for a missing key."""

    __slots__ = ("_data", "_lock", "size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("an LRU cache needs room for at least one entry")
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        data = self._data
        try:
            value = data[key]
            data.move_to_end(key)
        except KeyError:
            return None
        return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            data = self._data
            data[key] = value
            data.move_to_end(key)
            while len(data) > self.size:
                data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
