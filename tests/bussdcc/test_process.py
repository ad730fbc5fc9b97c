"""Processes and interfaces: every event in order; failures isolated and never silent."""

from __future__ import annotations

import logging

import pytest
from kernel_helpers import BusLog, Ping, Recorder

from bussdcc import Context, Event, Interface, Message, Process, Runtime, message


class Failing(Process):
    """Raises on the events named in ``on`` (or on every event when ``on`` is None)."""

    def __init__(self, name: str, on: set[str] | None) -> None:
        self.name = name
        self.on = on
        self.calls: list[str] = []

    def handle_event(self, ctx: Context, evt: Event[Message]) -> None:
        self.calls.append(evt.name)
        if len(self.calls) >= 1_000:  # a safety valve so a regression ends instead of hanging
            return
        if self.on is None or evt.name in self.on:
            raise ValueError(f"{self.name} cannot handle {evt.name}")


def test_process_failure_becomes_process_error_with_event_name(
    runtime: Runtime, buslog: BusLog
) -> None:
    bad = Failing("bad", {"test.ping"})
    after = Recorder("after")
    runtime.register_process(bad)
    runtime.register_process(after)
    runtime.boot()
    runtime.emit(Ping(n=1))
    errors = buslog.data("process.error")
    assert len(errors) == 1
    assert errors[0]["process"] == "bad"
    assert errors[0]["event"] == "test.ping"
    assert errors[0]["phase"] == "handle_event"
    assert "cannot handle test.ping" in errors[0]["error"]
    assert "ValueError" in errors[0]["traceback"]
    # the failure did not stop delivery to the next process
    assert "test.ping" in after.names()
    assert after.names()[-2:] == ["test.ping", "process.error"]


def test_failure_on_error_level_event_logs_and_emits_nothing(
    runtime: Runtime, buslog: BusLog, caplog: pytest.LogCaptureFixture
) -> None:
    bad = Failing("bad", {"service.error"})
    runtime.register_process(bad)
    runtime.boot()
    before = len(buslog.events)
    with caplog.at_level(logging.ERROR, logger="bussdcc"):
        runtime.emit(message.ServiceError("svc", "boom"))
    assert buslog.names()[before:] == ["service.error"]  # no process.error: no recursion
    records = [r for r in caplog.records if "cannot handle service.error" in r.getMessage()]
    assert len(records) == 1
    assert "service.error" in records[0].getMessage()
    assert records[0].exc_info is not None


def test_process_raising_on_every_event_does_not_loop(
    runtime: Runtime, buslog: BusLog, caplog: pytest.LogCaptureFixture
) -> None:
    bad = Failing("always", None)
    runtime.register_process(bad)
    runtime.boot()
    start = len(bad.calls)
    with caplog.at_level(logging.CRITICAL + 1):
        runtime.emit(Ping())
    assert bad.calls[start:] == ["test.ping", "process.error"]


def test_processes_before_interfaces_in_registration_order(
    runtime: Runtime,
) -> None:
    order: list[str] = []

    class Tap(Process):
        def __init__(self, name: str) -> None:
            self.name = name

        def handle_event(self, ctx: Context, evt: Event[Message]) -> None:
            if evt.name == "test.ping":
                order.append(self.name)

    class Face(Interface):
        def __init__(self, name: str) -> None:
            self.name = name

        def handle_event(self, ctx: Context, evt: Event[Message]) -> None:
            if evt.name == "test.ping":
                order.append(self.name)

    runtime.register_interface(Face("web"))
    runtime.register_process(Tap("p1"))
    runtime.register_process(Tap("p2"))
    runtime.boot()
    runtime.emit(Ping())
    assert order == ["p1", "p2", "web"]


def test_process_registered_after_boot_is_started_and_receives_events(
    runtime: Runtime, buslog: BusLog
) -> None:
    runtime.boot()
    late = Recorder("late")
    runtime.register_process(late)
    assert buslog.data("process.started")[-1] == {"process": "late"}
    runtime.emit(Ping())
    assert late.names() == ["process.started", "test.ping"]


def test_process_whose_late_start_fails_receives_nothing(runtime: Runtime, buslog: BusLog) -> None:
    class NoStart(Recorder):
        def start(self, ctx: Context) -> None:
            raise RuntimeError("no hardware")

    runtime.boot()
    late = NoStart("nostart")
    runtime.register_process(late)
    err = buslog.data("process.error")[-1]
    assert err["process"] == "nostart" and err["phase"] == "start"
    runtime.emit(Ping())
    assert late.names() == []
