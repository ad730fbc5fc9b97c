"""Processes and interfaces: every event in order; failures isolated and never silent."""

from __future__ import annotations

import logging
import threading

import pytest
from kernel_helpers import Ping, Recorder

from bussdcc import Context, Event, Interface, Message, Process, Runtime, message
from bussdcc.testing import MessageLog


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
    runtime: Runtime, message_log: MessageLog
) -> None:
    bad = Failing("bad", {"test.ping"})
    after = Recorder("after")
    runtime.register_process(bad)
    runtime.register_process(after)
    runtime.boot()
    runtime.emit(Ping(n=1))
    errors = message_log.data("process.error")
    assert len(errors) == 1
    assert errors[0]["process"] == "bad"
    assert errors[0]["event"] == "test.ping"
    assert errors[0]["phase"] == "handle_event"
    assert "cannot handle test.ping" in errors[0]["error"]
    assert "ValueError" in errors[0]["traceback"]
    # the failure did not stop delivery to the next process
    assert "test.ping" in after.log.names
    assert after.log.names[-2:] == ["test.ping", "process.error"]


def test_failure_on_error_level_event_logs_and_emits_nothing(
    runtime: Runtime, message_log: MessageLog, caplog: pytest.LogCaptureFixture
) -> None:
    bad = Failing("bad", {"service.error"})
    runtime.register_process(bad)
    runtime.boot()
    before = len(message_log.events)
    with caplog.at_level(logging.ERROR, logger="bussdcc"):
        runtime.emit(message.ServiceError("svc", "boom"))
    assert message_log.names[before:] == ["service.error"]  # no process.error: no recursion
    records = [r for r in caplog.records if "cannot handle service.error" in r.getMessage()]
    assert len(records) == 1
    assert "service.error" in records[0].getMessage()
    assert records[0].exc_info is not None


def test_process_raising_on_every_event_does_not_loop(
    runtime: Runtime, message_log: MessageLog, caplog: pytest.LogCaptureFixture
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

    class Face(Interface, Tap):
        pass

    runtime.register_interface(Face("web"))
    runtime.register_process(Tap("p1"))
    runtime.register_process(Tap("p2"))
    runtime.boot()
    runtime.emit(Ping())
    assert order == ["p1", "p2", "web"]


def test_process_registered_after_boot_is_started_and_receives_events(
    runtime: Runtime, message_log: MessageLog
) -> None:
    runtime.boot()
    late = Recorder("late")
    runtime.register_process(late)
    assert message_log.data("process.started")[-1] == {"process": "late"}
    runtime.emit(Ping())
    assert late.log.names == ["process.started", "test.ping"]


def test_process_whose_late_start_fails_receives_nothing(
    runtime: Runtime, message_log: MessageLog
) -> None:
    class NoStart(Recorder):
        def start(self, ctx: Context) -> None:
            raise RuntimeError("no hardware")

    runtime.boot()
    late = NoStart("nostart")
    runtime.register_process(late)
    err = message_log.data("process.error")[-1]
    assert err["process"] == "nostart" and err["phase"] == "start"
    runtime.emit(Ping())
    assert late.log.names == []


# -- removal: the counterpart of register_process/register_interface --------------------


class Tracked(Process):
    """Notes its lifecycle calls and the events it receives in one shared list."""

    def __init__(self, name: str, notes: list[str], fail_stop: bool = False) -> None:
        self.name, self.notes, self.fail_stop = name, notes, fail_stop
        self.seen: list[int] = []

    def attach(self, ctx: Context) -> None:
        self.notes.append(f"attach {self.name}")

    def start(self, ctx: Context) -> None:
        self.notes.append(f"start {self.name}")

    def handle_event(self, ctx: Context, evt: Event[Message]) -> None:
        self.seen.append(evt.seq)

    def stop(self, ctx: Context) -> None:
        self.notes.append(f"stop {self.name}")
        if self.fail_stop:
            raise RuntimeError(f"{self.name} stop failed")

    def detach(self) -> None:
        self.notes.append(f"detach {self.name}")


class TrackedInterface(Interface, Tracked):  # type: ignore[misc]
    pass


KINDS = [
    pytest.param(Tracked, "register_process", "unregister_process", id="process"),
    pytest.param(TrackedInterface, "register_interface", "unregister_interface", id="interface"),
]


@pytest.mark.parametrize(("cls", "register", "unregister"), KINDS)
def test_unregister_after_boot_stops_detaches_and_reports(
    runtime: Runtime, message_log: MessageLog, cls: type[Tracked], register: str, unregister: str
) -> None:
    notes: list[str] = []
    comp = cls("gone", notes)
    getattr(runtime, register)(comp)
    runtime.boot()
    runtime.emit(Ping(n=1))
    getattr(runtime, unregister)("gone")
    assert notes == ["attach gone", "start gone", "stop gone", "detach gone"]
    assert message_log.data("process.stopped") == [{"process": "gone"}]
    seen = len(comp.seen)
    runtime.emit(Ping(n=2))
    assert len(comp.seen) == seen  # no longer a target
    runtime.shutdown()
    assert notes.count("stop gone") == 1  # shutdown does not stop it again
    assert message_log.data("process.stopped") == [{"process": "gone"}]


@pytest.mark.parametrize(("cls", "register", "unregister"), KINDS)
def test_unregister_before_boot_forgets_without_starting(
    runtime: Runtime, message_log: MessageLog, cls: type[Tracked], register: str, unregister: str
) -> None:
    notes: list[str] = []
    getattr(runtime, register)(cls("early", notes))
    getattr(runtime, unregister)("early")
    runtime.boot()
    runtime.shutdown()
    assert notes == []
    assert message_log.data("process.started") == [] and message_log.data("process.stopped") == []


@pytest.mark.parametrize(("cls", "register", "unregister"), KINDS)
def test_a_name_is_free_again_once_unregistered(
    runtime: Runtime, message_log: MessageLog, cls: type[Tracked], register: str, unregister: str
) -> None:
    notes: list[str] = []
    runtime.boot()
    getattr(runtime, register)(cls("web", notes))
    with pytest.raises(ValueError, match="already registered"):
        getattr(runtime, register)(cls("web", notes))
    getattr(runtime, unregister)("web")
    again = cls("web", notes)
    getattr(runtime, register)(again)
    runtime.emit(Ping())
    assert len(again.seen) == 2  # its own process.started, then the ping
    assert [d["process"] for d in message_log.data("process.started")] == ["web", "web"]
    assert [d["process"] for d in message_log.data("process.stopped")] == ["web"]


def test_processes_and_interfaces_share_one_namespace(runtime: Runtime) -> None:
    runtime.register_process(Tracked("x", []))
    with pytest.raises(ValueError, match="already registered"):
        runtime.register_interface(TrackedInterface("x", []))
    with pytest.raises(KeyError, match="no interface named 'x'"):
        runtime.unregister_interface("x")  # removal names the kind it removes
    with pytest.raises(KeyError, match="no process named 'y'"):
        runtime.unregister_process("y")


def test_unregister_reports_a_failing_stop_and_still_detaches(
    runtime: Runtime, message_log: MessageLog
) -> None:
    notes: list[str] = []
    runtime.register_interface(TrackedInterface("web", notes, fail_stop=True))
    runtime.boot()
    runtime.unregister_interface("web")
    assert notes[-2:] == ["stop web", "detach web"]
    err = message_log.data("process.error")
    assert [(e["process"], e["phase"]) for e in err] == [("web", "stop")]
    assert message_log.data("process.stopped") == [{"process": "web"}]


def test_unregister_while_another_thread_emits(runtime: Runtime) -> None:
    """Safe while running: stopped once, and nothing emitted after the call reaches it."""
    notes: list[str] = []
    comp = Tracked("busy", notes)
    runtime.register_process(comp)
    runtime.boot()
    go, done = threading.Event(), threading.Event()

    def emitter() -> None:
        go.set()
        while not done.is_set():
            runtime.emit(Ping(source="emitter"))

    thread = threading.Thread(target=emitter, name="emitter")
    thread.start()
    try:
        assert go.wait(10)
        while len(comp.seen) < 100:  # it is receiving events from the other thread
            runtime.emit(Ping(source="main"))
        runtime.unregister_process("busy")
        mark = runtime.events.last_seq
        for _ in range(200):
            runtime.emit(Ping(source="main"))
    finally:
        done.set()
        thread.join(10)
    assert runtime.wait_idle(10)
    assert notes.count("stop busy") == 1 and notes.count("detach busy") == 1
    assert all(seq <= mark for seq in comp.seen)


def test_unregister_during_shutdown_leaves_the_stop_to_the_shutdown(runtime: Runtime) -> None:
    """Shutdown already took its list: the component is stopped once, by the shutdown."""
    notes: list[str] = []
    entered, release = threading.Event(), threading.Event()

    class SlowStop(TrackedInterface):
        def stop(self, ctx: Context) -> None:
            entered.set()
            assert release.wait(10)
            super().stop(ctx)

    runtime.register_interface(TrackedInterface("web", notes))
    runtime.register_interface(SlowStop("slow", notes))  # stopped first (reverse order)
    runtime.boot()
    stopper = threading.Thread(target=runtime.shutdown, name="shutdown")
    stopper.start()
    try:
        assert entered.wait(10)
        runtime.unregister_interface("web")  # shutdown is under way: only forgotten here
        assert "stop web" not in notes
    finally:
        release.set()
        stopper.join(10)
    assert notes[-4:] == ["stop slow", "detach slow", "stop web", "detach web"]
    assert notes.count("stop web") == 1
