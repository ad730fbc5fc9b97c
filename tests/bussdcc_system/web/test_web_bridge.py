"""The bridge: per-client acknowledged, coalescing patches from one broadcast thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from web_helpers import wait_for

from bussdcc_system.web.bridge import Bridge, diff


class Recorder:
    """Stands in for socketio.Server.emit: records pushes, lets the test acknowledge."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], Callable[..., Any]]] = []
        self.lock = threading.Lock()

    def emit(
        self,
        event: str,
        data: Any = None,
        to: str | None = None,
        callback: Callable[..., Any] | None = None,
    ) -> None:
        assert event == "s" and to is not None and callback is not None
        with self.lock:
            self.sent.append((to, data, callback))

    def to(self, sid: str) -> list[tuple[dict[str, Any], Callable[..., Any]]]:
        with self.lock:
            return [(d, cb) for s, d, cb in self.sent if s == sid]


class Source:
    def __init__(self) -> None:
        self.view: dict[str, Any] = {"a": 1, "b": "x"}
        self.version = 0

    def set(self, **kw: Any) -> None:
        self.view = {**self.view, **kw}
        self.version += 1


@pytest.fixture
def parts() -> Iterator[tuple[Bridge, Recorder, Source]]:
    rec, src = Recorder(), Source()
    bridge = Bridge(rec, lambda: dict(src.view), lambda: src.version, build_id="b1")
    bridge.start()
    yield bridge, rec, src
    assert bridge.stop(2.0)


def pushed(bridge: Bridge, rec: Recorder, src: Source, sid: str, **values: Any) -> dict[str, Any]:
    """Change the view, notify the bridge and wait for ``sid``'s first push: its patch."""
    src.set(**values)
    bridge.notify()
    wait_for(lambda: rec.to(sid), what=f"a push to {sid}")
    return rec.to(sid)[0][0]


def test_diff_names_changes_and_removals() -> None:
    assert diff({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == {"c": {"b": 3, "c": 4}}
    assert diff({"a": 1, "gone": 2}, {"a": 1}) == {"c": {}, "r": ["gone"]}


def test_hello_returns_the_full_view_then_patches_follow(parts: Any) -> None:
    bridge, rec, src = parts
    assert bridge.hello("s1") == {"build": "b1", "view": {"a": 1, "b": "x"}}
    assert pushed(bridge, rec, src, "s1", a=2) == {"c": {"a": 2}}


def test_an_unacknowledged_client_gets_the_latest_values_not_a_backlog(parts: Any) -> None:
    bridge, rec, src = parts
    bridge.hello("slow")
    assert pushed(bridge, rec, src, "slow", a=2) == {"c": {"a": 2}}
    for i in range(3, 50):
        src.set(a=i, b=f"v{i}")
        bridge.notify()
    wait_for(lambda: bridge.stats().coalesced >= 1, what="changes held back")
    assert len(rec.to("slow")) == 1  # one push in flight, no matter how many changes
    _first, ack = rec.to("slow")[0]
    ack()
    wait_for(lambda: len(rec.to("slow")) == 2, what="the catch-up push")
    catch_up, ack2 = rec.to("slow")[1]
    assert catch_up == {"c": {"a": 49, "b": "v49"}}
    ack2()


def test_a_stalled_client_does_not_hold_back_another(parts: Any) -> None:
    bridge, rec, src = parts
    bridge.hello("stalled")
    bridge.hello("good")
    for i in range(2, 30):
        src.set(a=i)
        bridge.notify()
        wait_for(
            lambda i=i: any(d["c"].get("a") == i for d, _ in rec.to("good")),
            what=f"good client sees a={i}",
        )
        for _d, ack in rec.to("good"):
            ack()
    assert len(rec.to("stalled")) == 1
    assert len(rec.to("good")) == 28


def test_disconnect_and_stale_acks_are_harmless(parts: Any) -> None:
    bridge, rec, src = parts
    bridge.hello("c")
    pushed(bridge, rec, src, "c", a=5)
    bridge.disconnect("c")
    _d, ack = rec.to("c")[0]
    ack()  # acknowledging after disconnect: ignored
    assert bridge.stats().clients == 0
    src.set(a=6)
    bridge.notify()
    bridge.hello("d")
    assert bridge.hello("d")["view"]["a"] == 6


def test_a_failing_view_builder_does_not_end_the_thread() -> None:
    rec = Recorder()
    calls = {"n": 0}

    def build() -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("bad state")
        return {"n": calls["n"]}

    bridge = Bridge(rec, build, lambda: calls["n"])
    bridge.start()
    try:
        bridge.hello("c")
        bridge.notify()  # build #2 raises inside the thread
        wait_for(lambda: calls["n"] >= 2, what="the failing build")
        bridge.notify()
        wait_for(lambda: rec.to("c"), what="a push after the failure")
    finally:
        assert bridge.stop(2.0)


def test_nothing_is_built_while_no_client_is_connected() -> None:
    rec, src = Recorder(), Source()
    builds: list[int] = []

    def build() -> dict[str, Any]:
        builds.append(src.version)
        return dict(src.view)

    bridge = Bridge(rec, build, lambda: src.version, build_id="b1")
    bridge.start()
    try:
        for i in range(200):
            src.set(a=i)
            bridge.notify()
        assert bridge.hello("s1")["view"]["a"] == 199  # built on connect, current
        assert builds == [200]
        bridge.disconnect("s1")
        for i in range(200, 300):
            src.set(a=i)
            bridge.notify()
        assert builds == [200] and not rec.sent
        assert bridge.hello("s2")["view"]["a"] == 299
        assert pushed(bridge, rec, src, "s2", a=300) == {"c": {"a": 300}}
    finally:
        assert bridge.stop(2.0)
