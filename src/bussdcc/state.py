"""StateStore: thread-safe hierarchical coordination state addressed by dot paths.

Values go in and come out as copies, so nothing a caller holds can change the store
behind its lock; ``update`` applies a function atomically; ``snapshot`` is one
consistent copy of the whole tree.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from typing import Any

_IMMUTABLE = (str, int, float, bool, bytes, type(None), frozenset)


def _copy(value: Any) -> Any:
    """Fast deep copy for JSON-like data; falls back to ``copy.deepcopy`` for the rest."""
    if isinstance(value, _IMMUTABLE):
        return value
    if type(value) is dict:
        return {k: _copy(v) for k, v in value.items()}
    if type(value) is list:
        return [_copy(v) for v in value]
    if type(value) is tuple:
        return tuple(_copy(v) for v in value)
    return copy.deepcopy(value)


@functools.lru_cache(maxsize=4096)
def parse_path(path: str) -> tuple[str, ...]:
    """``"a.b.c"`` -> ``("a", "b", "c")``; cached: the same few paths are used all the time."""
    parts = tuple(path.split("."))
    if "" in parts:
        raise ValueError(f"invalid state path {path!r}: use dot-separated names like 'a.b.c'")
    return parts


class StateStore:
    """Schema-free, policy-free shared state (coordination, not storage)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._root: dict[str, Any] = {}
        self.version = 0
        """Incremented on every change; cheap to compare for "anything new?"."""

    def _parent(self, keys: tuple[str, ...], create: bool) -> dict[str, Any] | None:
        node = self._root
        for k in keys[:-1]:
            nxt = node.get(k)
            if nxt is None:
                if not create:
                    return None
                nxt = node[k] = {}
            elif not isinstance(nxt, dict):
                if not create:
                    return None
                raise TypeError(f"state path conflict: {'.'.join(keys)} crosses a leaf at {k!r}")
            node = nxt
        return node

    def set(self, path: str, value: Any) -> None:
        keys = parse_path(path)
        value = _copy(value)
        with self._lock:
            parent = self._parent(keys, create=True)
            assert parent is not None
            parent[keys[-1]] = value
            self.version += 1

    def get(self, path: str, default: Any = None) -> Any:
        keys = parse_path(path)
        with self._lock:
            parent = self._parent(keys, create=False)
            if parent is None or keys[-1] not in parent:
                return default
            return _copy(parent[keys[-1]])

    def __contains__(self, path: str) -> bool:
        keys = parse_path(path)
        with self._lock:
            parent = self._parent(keys, create=False)
            return parent is not None and keys[-1] in parent

    def update(self, path: str, fn: Callable[[Any], Any]) -> Any:
        """Atomically replace the value at ``path`` with ``fn(copy of old value or None)``."""
        keys = parse_path(path)
        with self._lock:
            parent = self._parent(keys, create=True)
            assert parent is not None
            new = _copy(fn(_copy(parent.get(keys[-1]))))
            parent[keys[-1]] = new
            self.version += 1
            return _copy(new)

    def delete(self, path: str) -> bool:
        keys = parse_path(path)
        with self._lock:
            parent = self._parent(keys, create=False)
            if parent is None or keys[-1] not in parent:
                return False
            del parent[keys[-1]]
            self.version += 1
            return True

    def snapshot(self) -> dict[str, Any]:
        """A consistent deep copy of the whole tree."""
        with self._lock:
            return _copy(self._root)  # type: ignore[no-any-return]
