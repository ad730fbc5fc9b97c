"""MessageLog: what a bus delivered, in order, read by name or type, waited on."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from bussdcc import Context, Event, EventBus, Message, Runtime, Service, message
from bussdcc.testing import MessageLog, SimClock


@dataclass(slots=True, frozen=True)
class Reading(Message):
    name = "test.reading"
    value: int = 0


def test_records_every_delivered_event_in_order() -> None:
    bus = EventBus(SimClock())
    log = MessageLog()
    bus.subscribe(log)
    bus.emit(Reading(1))
    bus.emit(message.SystemSignal(1, "user1"))
    bus.emit(Reading(2))
    assert log.names == ["test.reading", "system.signal", "test.reading"]
    assert [e.seq for e in log.events] == [1, 2, 3]
    assert log.messages == [Reading(1), message.SystemSignal(1, "user1"), Reading(2)]
    assert [e.seq for e in log] == [1, 2, 3] and len(log) == 3
    assert log.of_type(Reading) == [Reading(1), Reading(2)]
    assert log.of_type(message.SystemSignal)[0].action == "user1"
    assert [e.seq for e in log.named("test.reading")] == [1, 3]
    assert log.data("test.reading") == [{"value": 1}, {"value": 2}]
    log.clear()
    assert log.names == [] and len(log) == 0


def test_what_it_returns_does_not_change_as_it_fills() -> None:
    bus = EventBus(SimClock())
    log = MessageLog()
    bus.subscribe(log)
    bus.emit(Reading(1))
    events = log.events
    bus.emit(Reading(2))
    assert len(events) == 1 and len(log.events) == 2


def test_wait_for_an_event_another_thread_delivers() -> None:
    bus = EventBus(SimClock())
    log = MessageLog()
    bus.subscribe(log)
    bus.emit(Reading(0))
    looking = threading.Event()

    def wanted(evt: Event[Message]) -> bool:
        looking.set()  # the waiter has looked at least once: what follows comes later
        return evt.data.get("value") == 2

    def later() -> None:
        assert looking.wait(10)
        for n in (1, 2):
            bus.emit(Reading(n))

    thread = threading.Thread(target=later)
    thread.start()
    assert log.wait_for(wanted).payload == Reading(2)  # by predicate, woken by delivery
    thread.join(10)
    assert log.wait_for(Reading, count=3).seq == 3  # by type, the third one
    assert log.wait_for("test.reading").payload == Reading(0)  # by name: the first


def test_wait_for_gives_up_and_says_what_came() -> None:
    bus = EventBus(SimClock())
    log = MessageLog()
    bus.subscribe(log)
    bus.emit(Reading(1))
    with pytest.raises(AssertionError, match=r"no 'system.signal' \(#1\).*\['test.reading'\]"):
        log.wait_for("system.signal", timeout=0.01)
    with pytest.raises(AssertionError, match=r"no Reading \(#2\)"):
        log.wait_for(Reading, count=2, timeout=0.01)
    with pytest.raises(ValueError):
        log.wait_for(Reading, count=0)


class Counter(Service):
    name = "counter"
    interval = 5.0

    def __init__(self) -> None:
        self.n = 0

    def tick(self, ctx: Context) -> None:
        self.n += 1
        ctx.emit(Reading(self.n))


def test_wait_for_on_a_simclock_moves_virtual_time(
    runtime: Runtime, clock: SimClock, message_log: MessageLog
) -> None:
    runtime.register_service(Counter())
    runtime.boot()
    start = clock.monotonic()
    evt = message_log.wait_for(Reading, count=3, clock=clock, timeout=60, step=1.0)
    assert evt.payload == Reading(3)
    assert evt.monotonic - start == 10.0  # ticks at 0, 5, 10: no further than needed
    assert clock.monotonic() - start == 10.0
    with pytest.raises(AssertionError, match=r"within 4\.0s of virtual time"):
        message_log.wait_for(Reading, count=4, clock=clock, timeout=4.0, step=1.0)
    assert clock.monotonic() - start == 14.0  # it advanced the whole timeout, no more


def test_the_message_log_fixture_sees_the_whole_run(
    runtime: Runtime, message_log: MessageLog
) -> None:
    runtime.emit(Reading(0))  # before boot: only bus subscribers see it
    with runtime:
        pass
    assert message_log.names[0] == "test.reading"
    assert message_log.names[1] == "runtime.booting"
    assert message_log.names[-1] == "runtime.shutdown"
