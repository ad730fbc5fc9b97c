"""StateStore: nothing held outside can change it; update is atomic; snapshot is consistent."""

from __future__ import annotations

import copy
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bussdcc import StateStore


@contextmanager
def busy_switching() -> Iterator[None]:
    """Switch threads as often as possible, so that races show up in a short test."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def test_values_from_get_are_copies() -> None:
    s = StateStore()
    s.set("a.b", {"list": [1, 2], "nested": {"x": 1}})
    got = s.get("a.b")
    got["list"].append(3)
    got["nested"]["x"] = 99
    got["new"] = True
    assert s.get("a.b") == {"list": [1, 2], "nested": {"x": 1}}
    parent = s.get("a")
    parent["b"] = "replaced"
    assert s.get("a.b.list") == [1, 2]


def test_values_passed_to_set_are_copied() -> None:
    s = StateStore()
    value: dict[str, Any] = {"list": [1], "tuple": ([1],)}
    s.set("k", value)
    value["list"].append(2)
    value["tuple"][0].append(2)
    value["other"] = 1
    assert s.get("k") == {"list": [1], "tuple": ([1],)}


def test_snapshot_is_a_copy() -> None:
    s = StateStore()
    s.set("a.b.c", [1])
    snap = s.snapshot()
    snap["a"]["b"]["c"].append(2)
    snap["a"]["z"] = 1
    assert s.snapshot() == {"a": {"b": {"c": [1]}}}


def test_update_gets_a_copy_and_stores_a_copy() -> None:
    s = StateStore()
    s.set("k", {"items": [1]})
    kept: list[Any] = []

    def fn(old: Any) -> Any:
        old["items"].append(2)  # mutating the argument is fine: it is a copy
        kept.append(old)
        return old

    result = s.update("k", fn)
    assert result == {"items": [1, 2]}
    kept[0]["items"].append(3)  # the object fn returned is not the stored one
    result["items"].append(4)  # neither is the returned value
    assert s.get("k") == {"items": [1, 2]}


def test_update_that_raises_half_way_changes_nothing() -> None:
    s = StateStore()
    s.set("acct", {"a": 10, "b": 0})
    version = s.version

    def half_transfer(old: Any) -> Any:
        old["a"] -= 5
        raise RuntimeError("crashed before crediting b")

    with pytest.raises(RuntimeError):
        s.update("acct", half_transfer)
    assert s.get("acct") == {"a": 10, "b": 0}
    assert s.version == version


def test_update_of_missing_path_starts_from_none() -> None:
    s = StateStore()
    assert s.update("counters.boots", lambda old: (old or 0) + 1) == 1
    assert s.update("counters.boots", lambda old: (old or 0) + 1) == 2


def test_custom_objects_are_deep_copied() -> None:
    class Box:
        def __init__(self) -> None:
            self.items = [1]

    s = StateStore()
    box = Box()
    s.set("box", box)
    box.items.append(2)
    got = s.get("box")
    assert got.items == [1]
    got.items.append(3)
    assert s.get("box").items == [1]


def test_paths_get_delete_contains_and_errors() -> None:
    s = StateStore()
    s.set("system.clock.uptime", 42)
    assert s.get("system.clock.uptime") == 42
    assert "system.clock" in s and "system.nope" not in s
    assert s.get("system.nope", "dflt") == "dflt"
    assert s.get("system.clock.uptime.deeper") is None
    version = s.version
    assert s.delete("system.clock.uptime") is True
    assert s.delete("system.clock.uptime") is False
    assert s.version == version + 1
    with pytest.raises(TypeError, match="crosses a leaf"):
        s.set("a", 1) or s.set("a.b", 2)
    for bad in ("", "a..b", ".a", "a."):
        with pytest.raises(ValueError, match="invalid state path"):
            s.get(bad)


def test_update_is_atomic_under_threads() -> None:
    s = StateStore()
    threads, increments = 8, 500
    barrier = threading.Barrier(threads)

    def work() -> None:
        barrier.wait()
        for _ in range(increments):
            s.update("counter", lambda old: (old or 0) + 1)

    with busy_switching():
        ts = [threading.Thread(target=work) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    assert s.get("counter") == threads * increments


def test_snapshot_is_consistent_while_writers_run() -> None:
    """Two keys moved together by one update on their parent are never seen half-moved.

    Other writers add and remove keys next to them, so a snapshot taken without the lock
    would also trip over a tree that changes while it is being copied.
    """
    s = StateStore()
    total = 1_000
    s.set("acct", {"a": total, "b": 0})
    stop = threading.Event()
    errors: list[str] = []

    def transfer(old: Any) -> Any:
        moved = 1 if old["a"] > 0 else -old["b"]
        old["a"] -= moved
        old["b"] += moved
        return old

    def mover() -> None:
        while not stop.is_set():
            s.update("acct", transfer)

    def churn(k: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            s.set(f"acct.log.w{k}.e{n % 50}", n)
            s.set(f"side.w{k}.e{n % 50}", {"n": n})
            if n % 7 == 0:
                s.delete(f"side.w{k}.e{(n - 3) % 50}")

    def reader() -> None:
        for _ in range(400):
            try:
                snap = s.snapshot()
            except RuntimeError as exc:  # "dictionary changed size during iteration"
                errors.append(repr(exc))
                continue
            acct = snap["acct"]
            if acct["a"] + acct["b"] != total:
                errors.append(f"inconsistent: {acct['a']} + {acct['b']}")

    with busy_switching():
        writers = [threading.Thread(target=mover)] + [
            threading.Thread(target=churn, args=(k,)) for k in range(2)
        ]
        for t in writers:
            t.start()
        readers = [threading.Thread(target=reader) for _ in range(2)]
        for t in readers:
            t.start()
        for t in readers:
            t.join()
        stop.set()
        for t in writers:
            t.join()
    assert errors == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=20,
)
segments = st.sampled_from(["a", "b", "c"])
paths = st.lists(segments, min_size=1, max_size=3).map(".".join)
operations = st.lists(
    st.tuples(st.sampled_from(["set", "delete", "update"]), paths, json_values), max_size=30
)


def _model_set(model: dict[str, Any], keys: list[str], value: Any) -> bool:
    node = model
    for k in keys[:-1]:
        if node.get(k) is None:  # the store treats a None on the way as absent
            node[k] = {}
        nxt = node[k]
        if not isinstance(nxt, dict):
            return False
        node = nxt
    node[keys[-1]] = value
    return True


@settings(max_examples=150, deadline=None)
@given(ops=operations)
def test_store_behaves_like_a_nested_dict_and_never_aliases(
    ops: list[tuple[str, str, Any]],
) -> None:
    s = StateStore()
    model: dict[str, Any] = {}
    for op, path, value in ops:
        keys = path.split(".")
        if op in ("set", "update"):
            expected_model = copy.deepcopy(model)
            ok = _model_set(expected_model, keys, copy.deepcopy(value))
            mine = copy.deepcopy(value)  # the caller's object, mutated below
            try:
                if op == "set":
                    s.set(path, mine)
                else:
                    s.update(path, lambda _old, v=mine: v)
            except TypeError:
                assert not ok
                continue
            assert ok
            model = expected_model
            if isinstance(mine, list | dict):
                mine.clear()  # the caller's object is not the stored one
        else:
            node: Any = model
            for k in keys[:-1]:
                node = node.get(k) if isinstance(node, dict) else None
            present = isinstance(node, dict) and keys[-1] in node
            assert s.delete(path) is present
            if present:
                del node[keys[-1]]
        snap = s.snapshot()
        assert snap == model
        if isinstance(snap.get("a"), dict | list):
            snap["a"].clear()  # mutating a snapshot changes nothing
            assert s.snapshot() == model
