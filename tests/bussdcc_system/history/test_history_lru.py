"""The bounded LRU map behind every history cache."""

from __future__ import annotations

import threading

import pytest

from bussdcc_system.history.lru import Lru


def test_forgets_the_least_recently_used_entry_beyond_its_size() -> None:
    lru: Lru[str, int] = Lru(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # "a" is now the most recently used
    lru.put("c", 3)
    assert lru.get("b") is None and lru.get("a") == 1 and lru.get("c") == 3
    assert len(lru) == 2
    lru.put("a", 10)  # replacing keeps one entry per key
    assert len(lru) == 2 and lru.get("a") == 10
    lru.clear()
    assert len(lru) == 0 and lru.get("a") is None


def test_stays_bounded_under_concurrent_use() -> None:
    lru: Lru[int, int] = Lru(64)

    def work(offset: int) -> None:
        for i in range(5000):
            lru.put(offset + i % 200, i)
            lru.get(offset + (i * 7) % 200)

    threads = [threading.Thread(target=work, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(lru) == 64


def test_needs_room_for_one_entry() -> None:
    with pytest.raises(ValueError):
        Lru(0)
