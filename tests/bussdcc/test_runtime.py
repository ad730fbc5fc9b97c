"""The runtime: boot order, bounded complete shutdown, rollback, the seed's quick start."""

from __future__ import annotations

import threading

import pytest
from kernel_helpers import Ping, Recorder

from bussdcc import (
    BootError,
    Context,
    Device,
    Event,
    Interface,
    Message,
    Process,
    Runtime,
    Service,
    ThreadedRuntime,
    message,
)
from bussdcc.testing import MessageLog, SimClock

STOP_ORDER = [
    "stop s2", "stop s1",
    "stop i2", "detach i2", "stop i1", "detach i1",
    "stop p2", "detach p2", "stop p1", "detach p1",
    "disconnect d2", "disconnect d1",
]  # fmt: skip
"""Shutdown: services, interfaces, processes, devices, each newest first (the reverse of
start), every one stopped even when another failed."""


class Journal:
    """One ordered list of lifecycle calls across every kind of component."""

    def __init__(self) -> None:
        self.entries: list[str] = []
        self._lock = threading.Lock()

    def add(self, entry: str) -> None:
        with self._lock:
            self.entries.append(entry)

    def matching(self, *verbs: str) -> list[str]:
        with self._lock:
            return [e for e in self.entries if e.split()[0] in verbs]


class JDevice(Device):
    kind = "test"

    def __init__(self, id: str, journal: Journal, fail_stop: bool = False) -> None:
        super().__init__(id)
        self.journal, self.fail_stop = journal, fail_stop

    def connect(self) -> None:
        self.journal.add(f"connect {self.id}")

    def disconnect(self) -> None:
        self.journal.add(f"disconnect {self.id}")
        if self.fail_stop:
            raise OSError(f"{self.id} disconnect failed")


class Journaled:
    """``start`` and ``stop`` written to the shared journal (``stop`` fails with
    ``fail_stop``), whatever kind of component mixes it in."""

    name: str
    journal: Journal
    fail_stop: bool

    def start(self, ctx: Context) -> None:
        self.journal.add(f"start {self.name}")

    def stop(self, ctx: Context) -> None:
        self.journal.add(f"stop {self.name}")
        if self.fail_stop:
            raise RuntimeError(f"{self.name} stop failed")


class JProcess(Journaled, Process):
    def __init__(
        self, name: str, journal: Journal, fail_stop: bool = False, fail_start: bool = False
    ) -> None:
        self.name, self.journal = name, journal
        self.fail_stop, self.fail_start = fail_stop, fail_start

    def attach(self, ctx: Context) -> None:
        self.journal.add(f"attach {self.name}")

    def start(self, ctx: Context) -> None:
        super().start(ctx)
        if self.fail_start:
            raise RuntimeError(f"{self.name} cannot start")

    def detach(self) -> None:
        self.journal.add(f"detach {self.name}")
        if self.fail_stop:
            raise RuntimeError(f"{self.name} detach failed")


class JInterface(Interface, JProcess):  # type: ignore[misc]
    pass


class JService(Journaled, Service):
    interval = 1.0

    def __init__(self, name: str, journal: Journal, fail_stop: bool = False) -> None:
        self.name, self.journal, self.fail_stop = name, journal, fail_stop


def build(rt: Runtime, journal: Journal, fail_stop: bool = False) -> None:
    for d in ("d1", "d2"):
        rt.attach_device(JDevice(d, journal, fail_stop))
    for p in ("p1", "p2"):
        rt.register_process(JProcess(p, journal, fail_stop))
    for i in ("i1", "i2"):
        rt.register_interface(JInterface(i, journal, fail_stop))
    for s in ("s1", "s2"):
        rt.register_service(JService(s, journal, fail_stop))


def test_boot_in_order_and_shutdown_in_reverse(
    runtime: Runtime, clock: SimClock, message_log: MessageLog
) -> None:
    journal = Journal()
    build(runtime, journal)
    runtime.boot()
    clock.settle()
    boot = journal.entries[:]
    assert boot[:10] == [
        "connect d1", "connect d2",
        "attach p1", "start p1", "attach p2", "start p2",
        "attach i1", "start i1", "attach i2", "start i2",
    ]  # fmt: skip
    assert sorted(boot[10:]) == ["start s1", "start s2"]  # services run in their own threads
    names = message_log.names
    assert names[0] == "runtime.booting"
    assert names.index("runtime.booted") < names.index("service.started")
    runtime.shutdown()
    assert journal.matching("stop", "detach", "disconnect") == STOP_ORDER
    names = message_log.names
    assert names[-1] == "runtime.shutdown"
    assert names.index("runtime.shutting_down") < names.index("service.stopped")


class Absent(Device):
    def connect(self) -> None:
        raise OSError("no such chip")


class Chatty(Recorder):
    """A recorder whose ``start`` speaks, from its own thread and from another one."""

    def start(self, ctx: Context) -> None:
        ctx.emit(Ping(self.name, 1))
        other = threading.Thread(target=ctx.emit, args=(Ping(f"{self.name}-thread", 2),))
        other.start()
        other.join(10)


def seqs(log: MessageLog) -> list[int]:
    return [e.seq for e in log.events]


def test_a_process_registered_before_boot_sees_every_message_from_booting_on(
    runtime: Runtime, message_log: MessageLog
) -> None:
    """Held while components start, then delivered in order before anything later."""
    runtime.attach_device(Device("d1"))
    runtime.attach_device(Absent("d2"))
    first, chatty, face = Recorder("first"), Chatty("chatty"), Recorder("face")
    runtime.register_process(first)
    runtime.register_process(chatty)

    class Face(Interface):
        name = "face"

        def handle_event(self, ctx: Context, evt: Event[Message]) -> None:
            face.log(evt)

    runtime.register_interface(Face())
    runtime.boot()
    runtime.emit(Ping("after"))
    runtime.wait_idle(10)
    assert first.log.names[:4] == [
        "runtime.booting", "device.attached", "device.failed", "process.started",
    ]  # fmt: skip
    assert first.log.data("device.attached") == [{"device": "d1", "kind": "device"}]
    assert first.log.data("device.failed")[0]["error"] == "no such chip"
    # Every component sees the whole bus, in the bus's own order, nothing twice.
    for log in (first.log, chatty.log, face.log):
        assert seqs(log) == seqs(message_log), log.names
    pings = [(p.source, p.n) for p in first.log.of_type(Ping)]
    assert pings == [("chatty", 1), ("chatty-thread", 2), ("after", 0)]
    names = first.log.names
    assert names.index("runtime.booted") < names.index("test.ping", names.index("runtime.booted"))


def test_what_started_before_a_failed_boot_sees_the_boot_and_its_failure(
    runtime: Runtime, message_log: MessageLog
) -> None:
    journal = Journal()
    runtime.attach_device(Device("d1"))
    first = Recorder("first")
    runtime.register_process(first)
    runtime.register_process(JProcess("broken", journal, fail_start=True))
    with pytest.raises(BootError):
        runtime.boot()
    # Everything up to the failure; then it is stopped (out of dispatch first).
    assert first.log.names == [
        "runtime.booting", "device.attached", "process.started", "process.error",
        "runtime.boot_failed",
    ]  # fmt: skip
    assert seqs(first.log) == seqs(message_log)[: len(first.log)]


def test_events_after_boot_are_not_held(runtime: Runtime) -> None:
    rec = Recorder()
    runtime.register_process(rec)
    runtime.boot()
    before = len(rec.log)
    runtime.emit(Ping("now"))
    assert rec.log.names[before:] == ["test.ping"]  # delivered at once, not on the next emit


def test_every_stop_runs_even_when_earlier_ones_raise(
    runtime: Runtime, clock: SimClock, message_log: MessageLog
) -> None:
    journal = Journal()
    build(runtime, journal, fail_stop=True)
    runtime.boot()
    clock.settle()
    assert runtime.shutdown() == 0
    assert journal.matching("stop", "detach", "disconnect") == STOP_ORDER
    phases = [(d["process"], d["phase"]) for d in message_log.data("process.error")]
    assert phases == [
        ("i2", "stop"), ("i2", "detach"), ("i1", "stop"), ("i1", "detach"),
        ("p2", "stop"), ("p2", "detach"), ("p1", "stop"), ("p1", "detach"),
    ]  # fmt: skip
    assert [(d["service"], d["phase"]) for d in message_log.data("service.error")] == [
        ("s2", "stop"),
        ("s1", "stop"),
    ]
    assert [d["device"] for d in message_log.data("device.failed")] == ["d2", "d1"]
    assert message_log.names[-1] == "runtime.shutdown"
    assert not runtime.booted


def test_a_hung_service_thread_is_reported_and_shutdown_completes(clock: SimClock) -> None:
    entered, release = threading.Event(), threading.Event()
    threads: list[threading.Thread] = []

    class Hung(Service):
        name = "hung"

        def tick(self, ctx: Context) -> None:
            threads.append(threading.current_thread())
            entered.set()
            release.wait(30)  # blocked outside the clock: cannot be cancelled

    rt = Runtime(clock=clock, join_timeout=0.2)
    log = MessageLog()
    rt.events.subscribe(log)
    journal = Journal()
    rt.register_process(JProcess("p1", journal))
    rt.register_service(Hung())
    rt.boot()
    assert entered.wait(10)
    try:
        assert rt.shutdown() == 0
        assert log.data("runtime.stop_timeout") == [{"component": "service:hung", "timeout": 0.2}]
        assert journal.matching("stop", "detach") == ["stop p1", "detach p1"]
        assert log.names[-1] == "runtime.shutdown"
        assert rt.wait_shutdown(0)
    finally:
        release.set()
        threads[0].join(10)
    assert not threads[0].is_alive()  # and it leaves its loop when it finally returns


def test_a_boot_that_fails_half_way_rolls_back(runtime: Runtime, message_log: MessageLog) -> None:
    journal = Journal()
    runtime.attach_device(JDevice("d1", journal))
    runtime.register_process(JProcess("p1", journal))
    runtime.register_process(JProcess("p2", journal, fail_start=True))
    runtime.register_process(JProcess("p3", journal))
    runtime.register_interface(JInterface("i1", journal))
    with pytest.raises(BootError, match="p2"):
        runtime.boot()
    assert not runtime.booted
    assert journal.entries == [
        "connect d1",
        "attach p1", "start p1",
        "attach p2", "start p2",
        # rollback, in reverse: p2's own attach is undone, then what started before it
        "detach p2",
        "stop p1", "detach p1",
        "disconnect d1",
    ]  # fmt: skip
    names = message_log.names
    assert "runtime.booted" not in names
    assert names[-1] == "runtime.shutdown"
    failed = message_log.data("runtime.boot_failed")
    assert len(failed) == 1 and "p2 cannot start" in failed[0]["error"]
    assert message_log.data("device.detached") == [{"device": "d1", "kind": "test"}]
    assert runtime.wait_shutdown(0)


def test_the_runtime_can_boot_again_after_shutdown(
    runtime: Runtime, clock: SimClock, message_log: MessageLog
) -> None:
    rec = Recorder()
    runtime.register_process(rec)
    runtime.boot()
    runtime.shutdown()
    runtime.boot()
    runtime.emit(Ping())
    assert rec.log.names.count("test.ping") == 1
    assert message_log.names.count("runtime.booted") == 2


def test_context_manager_boots_and_shuts_down(clock: SimClock) -> None:
    log = MessageLog()
    with Runtime(clock=clock) as rt:
        rt.events.subscribe(log)
        assert rt.booted
    assert not rt.booted
    assert log.names[-2:] == ["runtime.shutting_down", "runtime.shutdown"]

    log2 = MessageLog()
    with pytest.raises(KeyError), Runtime(clock=clock) as rt2:
        rt2.events.subscribe(log2)
        raise KeyError("boom")
    assert not rt2.booted
    assert log2.data("runtime.shutting_down") == [{"reason": "KeyError: 'boom'"}]


def test_threaded_runtime_start_and_stop(clock: SimClock) -> None:
    rt = ThreadedRuntime(clock=clock)
    log = MessageLog()
    rt.events.subscribe(log)
    rt.start()
    assert rt.booted
    assert rt.stop("tests are done", timeout=10) == 0
    assert rt.wait_shutdown(0)
    assert not rt.booted
    assert log.data("runtime.shutting_down") == [{"reason": "tests are done"}]
    assert log.names[-1] == "runtime.shutdown"


def test_shutdown_waits_for_a_shutdown_already_in_progress(clock: SimClock) -> None:
    """A second shutdown() (e.g. a ``with`` block ending) returns only when all stopped."""
    entered, release = threading.Event(), threading.Event()
    journal = Journal()

    class SlowStop(JProcess):
        def stop(self, ctx: Context) -> None:
            entered.set()
            assert release.wait(10)
            super().stop(ctx)

    rt = Runtime(clock=clock)
    rt.register_process(JProcess("p1", journal))
    rt.register_process(SlowStop("p2", journal))
    rt.boot()
    first = threading.Thread(target=rt.shutdown, name="first-shutdown")
    first.start()
    assert entered.wait(10)
    threading.Timer(0.05, release.set).start()
    rt.shutdown()  # must not return while the first one is still stopping things
    assert journal.matching("stop", "detach") == ["stop p2", "detach p2", "stop p1", "detach p1"]
    first.join(10)


def test_plain_runtime_shutdown_request_from_another_thread(clock: SimClock) -> None:
    rt = Runtime(clock=clock)
    rt.boot()
    threading.Thread(target=rt.request_shutdown, args=("asked",)).start()
    assert rt.wait_shutdown(10)
    assert not rt.booted and rt.exit_code == 0


def test_seed_readme_quick_start_works(capsys: pytest.CaptureFixture[str]) -> None:
    """The seed README's Quick Start, with a SimClock instead of waiting two real seconds."""
    from bussdcc import Device, Process, Runtime, Service

    class MySensor(Device):
        kind = "sensor"

        def connect(self) -> None:
            print("Sensor online")

        def disconnect(self) -> None:
            print("Sensor offline")

    class Logger(Process):
        name = "logger"

        def handle_event(self, ctx: Context, evt: Event[Message]) -> None:
            print(evt.payload.name, evt.payload.to_dict())

    class Heartbeat(Service):
        name = "heartbeat"
        interval = 2.0

        def tick(self, ctx: Context) -> None:
            ctx.emit(message.SystemSignal(signal=0, action="heartbeat"))

    clock = SimClock()
    rt = Runtime(clock=clock)
    rt.attach_device(MySensor(id="sensor-1"))
    rt.register_process(Logger())
    rt.register_service(Heartbeat())

    rt.boot()
    clock.advance(4.0)
    rt.shutdown()
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Sensor online"
    heartbeats = [line for line in out if line.startswith("system.signal")]
    assert heartbeats == ["system.signal {'signal': 0, 'action': 'heartbeat'}"] * 3
    assert "service.started {'service': 'heartbeat'}" in out
    assert out[-1] == "Sensor offline"
