"""The event bus: one total order, run-to-completion, isolated but never silent failures."""

from __future__ import annotations

import logging
import threading
from collections import deque

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kernel_helpers import Nested, Ping

from bussdcc import Context, Event, EventBus, Message, Process, Runtime
from bussdcc.testing import MessageLog, SimClock

THREADS = 4
PER_THREAD = 2_000
NEST_EVERY = 50  # every 50th ping makes one process emit a nested event


class OrderRecorder(Process):
    """Records the seq of every event; checks run-to-completion when a nested event arrives."""

    def __init__(
        self, name: str, everyone: list[set[int]], violations: list[str], nests: bool
    ) -> None:
        self.name = name
        self.seen: list[int] = []
        self.seen_set: set[int] = set()
        self.everyone = everyone
        self.violations = violations
        self.nests = nests

    def handle_event(self, ctx: Context, evt: Event[Message]) -> None:
        self.seen.append(evt.seq)
        self.seen_set.add(evt.seq)
        payload = evt.payload
        if isinstance(payload, Nested):
            # run-to-completion: the parent reached every recorder before any child
            missing = [i for i, seen in enumerate(self.everyone) if payload.parent not in seen]
            if missing:
                self.violations.append(f"{self.name}: #{evt.seq} before parent reached {missing}")
        elif self.nests and isinstance(payload, Ping) and payload.n % NEST_EVERY == 0:
            ctx.emit(Nested(parent=evt.seq, by=self.name))


def test_total_order_under_concurrent_emitters_and_nested_emits(runtime: Runtime) -> None:
    rt = runtime
    violations: list[str] = []
    everyone: list[set[int]] = []
    recorders = [OrderRecorder(f"p{i}", everyone, violations, nests=i in (0, 2)) for i in range(3)]
    everyone.extend(r.seen_set for r in recorders)
    tail_set: set[int] = set()
    everyone.append(tail_set)
    tail: list[Event[Message]] = []

    def tail_seen(evt: Event[Message]) -> None:
        tail.append(evt)
        tail_set.add(evt.seq)
        if isinstance(evt.payload, Nested) and evt.payload.parent not in tail_set:
            violations.append(f"tail: #{evt.seq} before its parent")

    for r in recorders:
        rt.register_process(r)
    rt.events.subscribe(tail_seen, name="tail")  # after the runtime: sees events last
    rt.boot()
    start = rt.events.last_seq
    barrier = threading.Barrier(THREADS)

    def emitter(k: int) -> None:
        barrier.wait()
        for n in range(PER_THREAD):
            rt.emit(Ping(source=f"t{k}", n=n))

    threads = [threading.Thread(target=emitter, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert rt.wait_idle(10)
    end = rt.events.last_seq
    rt.shutdown()

    assert violations == []
    # every recorder saw the identical sequence of the emitted events, strictly increasing
    sequences = [[s for s in r.seen if start < s <= end] for r in recorders]
    sequences.append([e.seq for e in tail if start < e.seq <= end])
    assert sequences[0] == list(range(start + 1, end + 1))
    for seq in sequences[1:]:
        assert seq == sequences[0]
    # nothing lost, nothing duplicated
    pings = [e.payload for e in tail if isinstance(e.payload, Ping)]
    assert len(pings) == THREADS * PER_THREAD
    assert {(p.source, p.n) for p in pings} == {
        (f"t{k}", n) for k in range(THREADS) for n in range(PER_THREAD)
    }
    # each thread's own emits keep their program order
    for k in range(THREADS):
        ns = [p.n for p in pings if p.source == f"t{k}"]
        assert ns == list(range(PER_THREAD))
    nested = [e.payload for e in tail if isinstance(e.payload, Nested)]
    assert len(nested) == 2 * THREADS * (PER_THREAD // NEST_EVERY)
    assert len({(n.parent, n.by) for n in nested}) == len(nested)
    assert end - start == len(pings) + len(nested)


def test_nested_emit_is_delivered_breadth_first() -> None:
    bus = EventBus(SimClock())
    log: list[str] = []

    def first(evt: Event[Message]) -> None:
        log.append(f"first:{evt.name}")
        if evt.name == "test.ping":
            bus.emit(Nested(parent=evt.seq))
            log.append("first:emitted")

    def second(evt: Event[Message]) -> None:
        log.append(f"second:{evt.name}")

    bus.subscribe(first)
    bus.subscribe(second)
    parent = bus.emit(Ping())
    assert log == [
        "first:test.ping",
        "first:emitted",  # emit returned at once: the child is queued
        "second:test.ping",  # the current event reaches every handler first
        "first:test.nested",
        "second:test.nested",
    ]
    assert bus.delivered_seq == parent.seq + 1


@st.composite
def emission_plans(draw: st.DrawFn) -> list[list[int]]:
    """For each event (by index of emission), how many children each subscriber emits."""
    subscribers = draw(st.integers(1, 3))
    size = draw(st.integers(1, 40))
    return [
        draw(st.lists(st.integers(0, 2), min_size=subscribers, max_size=subscribers))
        for _ in range(size)
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=emission_plans())
def test_delivery_order_is_fifo_for_any_nesting(plan: list[list[int]]) -> None:
    """Whatever handlers emit, every subscriber sees events in the same FIFO order."""
    bus = EventBus(SimClock())
    subscribers = len(plan[0])
    seen: list[list[int]] = [[] for _ in range(subscribers)]
    limit = len(plan)

    def make(i: int) -> object:
        def handler(evt: Event[Message]) -> None:
            seen[i].append(evt.seq)
            index = evt.seq - 1
            if index < len(plan):
                for _ in range(plan[index][i]):
                    if bus.last_seq < limit:
                        bus.emit(Ping(source=f"s{i}", n=evt.seq))

        return handler

    for i in range(subscribers):
        bus.subscribe(make(i))  # type: ignore[arg-type]
    bus.emit(Ping(source="root"))

    # model: a FIFO queue; children are numbered in the order they are emitted
    expected: list[int] = []
    queue: deque[int] = deque([1])
    emitted = 1
    while queue:
        seq = queue.popleft()
        expected.append(seq)
        if seq - 1 < len(plan):
            for i in range(subscribers):
                for _ in range(plan[seq - 1][i]):
                    if emitted < limit:
                        emitted += 1
                        queue.append(emitted)
    for s in seen:
        assert s == expected


def test_subscriber_failure_becomes_a_message(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus(SimClock())
    log = MessageLog()

    def broken(evt: Event[Message]) -> None:
        if evt.name == "test.ping":
            raise ValueError("cannot handle pings")

    bus.subscribe(broken, name="broken")
    bus.subscribe(log)
    bus.emit(Ping())
    assert log.names == ["test.ping", "event.subscriber_error"]
    err = log.data("event.subscriber_error")[0]
    assert err["subscriber"] == "broken"
    assert err["event"] == "test.ping"
    assert "cannot handle pings" in err["error"]
    assert "ValueError" in err["traceback"]


def test_failure_on_error_level_event_is_logged_not_emitted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus(SimClock())
    log = MessageLog()

    def broken(evt: Event[Message]) -> None:
        if evt.name == "event.subscriber_error":
            raise RuntimeError("also broken on errors")
        if evt.name == "test.ping":
            raise ValueError("first failure")

    bus.subscribe(broken, name="broken")
    bus.subscribe(log)
    with caplog.at_level(logging.ERROR, logger="bussdcc"):
        bus.emit(Ping())
    # the second failure produced no message (no recursion) ...
    assert log.names == ["test.ping", "event.subscriber_error"]
    # ... but it is not silent: it is in the log, with what failed on what
    records = [r for r in caplog.records if "also broken on errors" in r.getMessage()]
    assert len(records) == 1
    assert "broken" in records[0].getMessage()
    assert "event.subscriber_error" in records[0].getMessage()


def test_handler_raising_on_every_event_does_not_loop(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus(SimClock())
    calls: list[str] = []

    def always(evt: Event[Message]) -> None:
        calls.append(evt.name)
        if len(calls) < 1_000:  # a safety valve so a regression ends instead of hanging
            raise RuntimeError("always")

    bus.subscribe(always, name="always")
    with caplog.at_level(logging.CRITICAL + 1):
        bus.emit(Ping())
    assert calls == ["test.ping", "event.subscriber_error"]


def test_cancelled_subscription_stops_delivery() -> None:
    bus = EventBus(SimClock())
    log = MessageLog()
    sub = bus.subscribe(log)
    bus.emit(Ping(n=1))
    sub.cancel()
    sub.cancel()  # idempotent
    bus.emit(Ping(n=2))
    assert [e.data["n"] for e in log.events] == [1]
    assert "cancelled" in repr(sub)


def test_event_carries_time_order_and_record() -> None:
    clock = SimClock()
    bus = EventBus(clock)
    evt = bus.emit(Ping(source="a", n=3))
    assert evt.seq == 1 and bus.last_seq == 1
    assert evt.time == clock.now_utc()
    assert evt.monotonic == clock.monotonic()
    assert evt.to_record() == {
        "time": "2026-01-01T00:00:00+00:00",
        "name": "test.ping",
        "data": {"source": "a", "n": 3},
    }


def test_emit_from_another_thread_while_dispatching_is_queued_not_lost() -> None:
    """An emitter that finds the bus busy only enqueues; the dispatching thread delivers."""
    bus = EventBus(SimClock())
    entered = threading.Event()
    release = threading.Event()
    delivered: list[tuple[str, str]] = []

    def slow(evt: Event[Message]) -> None:
        delivered.append((evt.name, threading.current_thread().name))
        if evt.name == "test.ping":
            entered.set()
            assert release.wait(10)

    bus.subscribe(slow)
    first = threading.Thread(target=bus.emit, args=(Ping(),), name="first")
    first.start()
    assert entered.wait(10)
    evt = bus.emit(Nested(parent=1))  # returns at once although the bus is busy
    assert evt.seq == 2 and bus.queue_depth == 1
    assert bus.wait_idle(0.01) is False
    release.set()
    first.join(10)
    assert bus.wait_idle(10)
    assert delivered == [("test.ping", "first"), ("test.nested", "first")]
