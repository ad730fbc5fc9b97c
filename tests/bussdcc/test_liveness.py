"""Stall detection and liveness: what the systemd watchdog is fed from, in virtual time."""

from __future__ import annotations

import threading
from collections.abc import Collection

from kernel_helpers import Ping

from bussdcc import Context, Event, Message, Process, Runtime, Service
from bussdcc.testing import MessageLog, SimClock


class Sticky(Service):
    """Ticks every second; the ticks numbered in ``stall_on`` sleep ``stall_for`` virtual
    seconds, and those in ``crash_on`` then raise (counted across restarts)."""

    interval = 1.0
    deadline = 3.0

    def __init__(
        self,
        name: str,
        critical: bool,
        stall_on: Collection[int] = (2,),
        stall_for: float = 10.0,
        crash_on: Collection[int] = (),
    ):
        self.name = name
        self.critical = critical
        self.stall_on, self.stall_for, self.crash_on = stall_on, stall_for, crash_on
        self.ticks = 0

    def tick(self, ctx: Context) -> None:
        self.ticks += 1
        if self.ticks in self.stall_on:
            ctx.clock.sleep(self.stall_for)
        if self.ticks in self.crash_on:
            raise RuntimeError("gave up waiting for the sensor")


def test_stalled_critical_tick_is_reported_once_and_fails_liveness(
    runtime: Runtime, clock: SimClock, message_log: MessageLog
) -> None:
    runtime.register_service(Sticky("sensor", critical=True))
    runtime.boot()
    clock.advance(1.0)  # tick 2 starts at t=1 and will run until t=11
    assert runtime.liveness().ok
    clock.advance(4.0)  # t=5: running for 4 s, past its 3 s deadline
    stalled = message_log.data("service.stalled")
    assert len(stalled) == 1
    assert stalled[0]["service"] == "sensor" and stalled[0]["critical"] is True
    assert stalled[0]["deadline"] == 3.0 and stalled[0]["running_for"] > 3.0
    live = runtime.liveness()
    assert live.ok is False and live.dispatch_ok is True
    assert any("service sensor stalled" in r and "4.0s" in r for r in live.reasons), live
    (svc,) = live.services
    assert svc.stalled and not svc.ok and svc.critical
    clock.advance(5.0)  # t=10: still stuck, still reported only once
    assert len(message_log.data("service.stalled")) == 1
    assert not runtime.liveness().ok
    clock.advance(1.0)  # t=11: the tick returns
    assert message_log.data("service.recovered") == [{"service": "sensor", "stalled_for": 10.0}]
    assert runtime.liveness().ok
    clock.advance(3.0)
    assert runtime.liveness().ok
    assert len(message_log.data("service.stalled")) == 1


def test_a_second_stall_is_reported_again(
    runtime: Runtime, clock: SimClock, message_log: MessageLog
) -> None:
    runtime.register_service(Sticky("twice", critical=False, stall_on=(2, 4), stall_for=5.0))
    runtime.boot()
    clock.advance(20.0)
    assert len(message_log.data("service.stalled")) == 2
    assert len(message_log.data("service.recovered")) == 2


def test_a_stalled_tick_that_crashes_does_not_hide_the_next_stall(
    runtime: Runtime, clock: SimClock, message_log: MessageLog
) -> None:
    flaky = Sticky("flaky", critical=False, stall_on=(2, 3), stall_for=5.0, crash_on=(2,))
    runtime.register_service(flaky)
    runtime.boot()
    clock.advance(6.0)  # tick 2: stalls (t=5), crashes at t=6, restarts at t=6.5
    assert len(message_log.data("service.stalled")) == 1
    assert len(message_log.data("service.error")) == 1
    clock.advance(0.5)  # the restarted service's first tick (tick 3) starts at 6.5
    (svc,) = runtime.liveness().services
    assert svc.stalled is False  # the stall ended with the crash
    clock.advance(4.0)  # tick 3 running for 4 s: a new stall
    assert len(message_log.data("service.stalled")) == 2
    clock.advance(2.0)
    assert message_log.data("service.recovered") == [{"service": "flaky", "stalled_for": 5.0}]


def test_stalled_non_critical_service_does_not_fail_liveness(
    runtime: Runtime, clock: SimClock, message_log: MessageLog
) -> None:
    runtime.register_service(Sticky("optional", critical=False))
    runtime.boot()
    clock.advance(6.0)
    assert len(message_log.data("service.stalled")) == 1
    live = runtime.liveness()
    assert live.ok is True and live.reasons == ()
    (svc,) = live.services
    assert svc.stalled is True and svc.ok is False  # visible, but not a reason to restart
    assert "stalled" in (svc.reason or "")
    clock.advance(6.0)  # let the tick return
    assert len(message_log.data("service.recovered")) == 1


def test_failed_critical_service_fails_liveness(runtime: Runtime, clock: SimClock) -> None:
    class Broken(Service):
        name = "broken"
        critical = True
        restart = False

        def tick(self, ctx: Context) -> None:
            raise RuntimeError("gone")

    # a critical failure shuts the runtime down; liveness says why until then
    rt = runtime
    rt.register_service(Broken())
    rt.boot()
    clock.settle()
    assert rt.wait_shutdown(10)
    live = rt.liveness()
    assert not live.ok and "service broken has failed" in live.reasons


class Blocker(Process):
    """Blocks the dispatch path on a real threading.Event when it sees ``test.ping``."""

    name = "blocker"

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def handle_event(self, ctx: Context, evt: Event[Message]) -> None:
        if evt.name == "test.ping":
            self.entered.set()
            assert self.release.wait(30)


def test_blocked_dispatch_fails_liveness_and_recovers(runtime: Runtime, clock: SimClock) -> None:
    rt = runtime
    rt.dispatch_deadline = 5.0
    blocker = Blocker()
    rt.register_process(blocker)
    beats: list[int] = []
    rt.events.subscribe(
        lambda evt: beats.append(evt.seq) if evt.name == "runtime.heartbeat" else None
    )
    rt.boot()
    assert rt.liveness().dispatch_ok  # idle bus: the heartbeat is delivered at once
    assert len(beats) == 1

    stuck = threading.Thread(target=rt.emit, args=(Ping(),), name="stuck-emitter")
    stuck.start()
    assert blocker.entered.wait(10)
    live = rt.liveness()  # heartbeat queued behind the blocked handler
    assert live.dispatch_ok and live.ok and live.queue_depth == 1
    clock.advance(4.0)
    assert rt.liveness().dispatch_ok  # within the deadline
    clock.advance(2.0)
    live = rt.liveness()
    assert live.dispatch_ok is False and live.ok is False
    assert any("dispatch stalled" in r for r in live.reasons), live.reasons
    assert len(beats) == 1

    blocker.release.set()
    stuck.join(10)
    assert rt.wait_idle(10)
    assert len(beats) == 2  # the queued heartbeat went through end to end
    live = rt.liveness()
    assert live.dispatch_ok is True and live.ok is True
    rt.shutdown()
