"""Supervision in virtual time: fixed-grid ticks, real restarts, backoff, intensity, failure."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import pytest
from kernel_helpers import Ping

from bussdcc import Context, Event, Message, Runtime, Service, ServiceState, ThreadedRuntime
from bussdcc.testing import MessageLog, SimClock

T0 = 1000.0  # SimClock's monotonic start


class Scripted(Service):
    """A service whose start/tick behaviour is given per call, recording what happened."""

    def __init__(
        self,
        name: str = "svc",
        *,
        tick: Callable[[Context, int], None] | None = None,
        start: Callable[[Context, int], None] | None = None,
        **settings: object,
    ) -> None:
        self.name = name
        self._tick = tick
        self._start = start
        for key, value in settings.items():
            setattr(self, key, value)
        self.calls: list[tuple[str, float, str, int | None]] = []
        self.ticks = 0
        self.starts = 0
        self._lock = threading.Lock()

    def _note(self, ctx: Context, what: str) -> None:
        t = threading.current_thread()
        with self._lock:
            self.calls.append((what, ctx.clock.monotonic() - T0, t.name, t.ident))

    def start(self, ctx: Context) -> None:
        self.starts += 1
        self._note(ctx, "start")
        if self._start is not None:
            self._start(ctx, self.starts)

    def tick(self, ctx: Context) -> None:
        self.ticks += 1
        self._note(ctx, "tick")
        if self._tick is not None:
            self._tick(ctx, self.ticks)

    def stop(self, ctx: Context) -> None:
        self._note(ctx, "stop")

    def times(self, what: str) -> list[float]:
        with self._lock:
            return [c[1] for c in self.calls if c[0] == what]

    def sequence(self) -> list[str]:
        with self._lock:
            return [c[0] for c in self.calls]


def boom(ctx: Context, n: int) -> None:
    raise RuntimeError(f"sensor read failed #{n}")


def test_ticks_keep_a_fixed_grid_however_long_they_take(runtime: Runtime, clock: SimClock) -> None:
    def slow_tick(ctx: Context, n: int) -> None:
        ctx.clock.sleep(0.25)  # each tick takes a quarter of its period

    svc = Scripted(tick=slow_tick, interval=1.0)
    runtime.register_service(svc)
    runtime.boot()
    clock.advance(5.5)  # ends between ticks, so that shutdown finds the thread asleep
    assert svc.times("tick") == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_an_overrunning_tick_skips_missed_periods_and_keeps_the_grid(
    runtime: Runtime, clock: SimClock
) -> None:
    def tick(ctx: Context, n: int) -> None:
        if n == 2:
            ctx.clock.sleep(2.5)

    svc = Scripted(tick=tick, interval=1.0, deadline=10.0)
    runtime.register_service(svc)
    runtime.boot()
    clock.advance(6.0)
    # tick 2 runs 1.0 .. 3.5: the ticks due at 2 and 3 are skipped, the grid is kept
    assert svc.times("tick") == [0.0, 1.0, 4.0, 5.0, 6.0]


def test_failing_tick_is_reported_and_the_service_really_restarted(
    runtime: Runtime, clock: SimClock, message_log: MessageLog
) -> None:
    def tick(ctx: Context, n: int) -> None:
        if n == 2:
            raise RuntimeError("sensor read failed")

    svc = Scripted(tick=tick, interval=1.0)
    runtime.register_service(svc)
    runtime.boot()
    clock.advance(1.0)  # tick 2 fails at t=1
    errors = message_log.data("service.error")
    assert len(errors) == 1
    assert errors[0]["service"] == "svc" and errors[0]["phase"] == "tick"
    assert "sensor read failed" in errors[0]["error"]
    assert "RuntimeError" in errors[0]["traceback"]
    restart = message_log.data("service.restart")
    assert restart == [
        {
            "service": "svc",
            "attempt": 1,
            "delay": 0.5,
            "reason": "tick failed: RuntimeError('sensor read failed')",
        }
    ]
    assert runtime.services.state("svc") is ServiceState.RESTARTING
    clock.advance(0.5)
    assert svc.sequence() == ["start", "tick", "tick", "stop", "start", "tick"]
    first, second = svc.calls[0], svc.calls[4]
    assert svc.calls[3][2:] == first[2:]  # stop ran in the crashed thread
    assert second[2] != first[2] and second[3] != first[3]  # start in a NEW thread
    assert second[1] == 1.5  # after the 0.5 s backoff, in virtual time
    assert runtime.services.state("svc") is ServiceState.RUNNING
    assert message_log.names.count("service.started") == 2


def test_backoff_doubles_then_the_intensity_limit_fails_the_service(
    runtime: Runtime, clock: SimClock, message_log: MessageLog
) -> None:
    svc = Scripted(tick=boom, interval=1.0, max_restarts=5, restart_window=60.0)
    runtime.register_service(svc)
    runtime.boot()
    clock.advance(40.0)
    restarts = message_log.data("service.restart")
    assert [r["attempt"] for r in restarts] == [1, 2, 3, 4, 5]
    assert [r["delay"] for r in restarts] == [0.5, 1.0, 2.0, 4.0, 8.0]
    # the same delays in virtual time between the starts
    assert svc.times("start") == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5]
    failure = message_log.data("service.failure")
    assert len(failure) == 1
    assert failure[0]["service"] == "svc" and failure[0]["critical"] is False
    assert "gave up after 5 restarts within 60s" in failure[0]["error"]
    assert runtime.services.state("svc") is ServiceState.FAILED
    assert runtime.booted  # a non-critical failure does not stop the runtime
    assert len(message_log.data("service.error")) == 6


def test_backoff_is_capped(runtime: Runtime, clock: SimClock, message_log: MessageLog) -> None:
    svc = Scripted(tick=boom, max_restarts=10, backoff_initial=1.0, backoff_max=3.0)
    runtime.register_service(svc)
    runtime.boot()
    clock.advance(20.0)
    delays = [r["delay"] for r in message_log.data("service.restart")]
    assert delays[:5] == [1.0, 2.0, 3.0, 3.0, 3.0]


def test_restarts_older_than_the_window_do_not_count(
    runtime: Runtime, clock: SimClock, message_log: MessageLog
) -> None:
    # crashes every 4 s; at most 2 restarts in 5 s: never reached, so it runs on
    svc = Scripted(
        tick=boom, max_restarts=2, restart_window=5.0, backoff_initial=4.0, backoff_max=4.0
    )
    runtime.register_service(svc)
    runtime.boot()
    clock.advance(40.0)
    assert message_log.data("service.failure") == []
    assert len(message_log.data("service.restart")) == 11  # crashes at 0, 4, ..., 40
    assert svc.times("start") == [4.0 * k for k in range(11)]


def test_the_same_crashes_within_the_window_fail_the_service(
    runtime: Runtime, clock: SimClock, message_log: MessageLog
) -> None:
    svc = Scripted(
        tick=boom, max_restarts=2, restart_window=60.0, backoff_initial=4.0, backoff_max=4.0
    )
    runtime.register_service(svc)
    runtime.boot()
    clock.advance(40.0)
    assert len(message_log.data("service.restart")) == 2
    assert len(message_log.data("service.failure")) == 1
    assert svc.times("start") == [0.0, 4.0, 8.0]


def test_failing_start_is_reported_like_a_failing_tick(
    runtime: Runtime, clock: SimClock, message_log: MessageLog
) -> None:
    def start(ctx: Context, n: int) -> None:
        if n == 1:
            raise OSError("i2c bus busy")

    svc = Scripted(start=start, interval=1.0)
    runtime.register_service(svc)
    runtime.boot()
    clock.settle()
    errors = message_log.data("service.error")
    assert len(errors) == 1 and errors[0]["phase"] == "start"
    assert "i2c bus busy" in errors[0]["error"]
    assert message_log.data("service.restart")[0]["reason"].startswith("start failed")
    assert "service.started" not in message_log.names
    clock.advance(0.5)
    assert svc.sequence() == ["start", "start", "tick"]  # no stop() for a failed start
    assert svc.calls[0][2] != svc.calls[1][2]
    assert message_log.data("service.started") == [{"service": "svc"}]


def test_non_restartable_service_fails_at_once(
    runtime: Runtime, clock: SimClock, message_log: MessageLog
) -> None:
    svc = Scripted(tick=boom, restart=False)
    runtime.register_service(svc)
    runtime.boot()
    clock.advance(10.0)
    assert message_log.data("service.restart") == []
    failure = message_log.data("service.failure")
    assert len(failure) == 1 and "not restartable" in failure[0]["error"]
    assert svc.sequence() == ["start", "tick", "stop"]
    assert runtime.booted


def test_critical_failure_shuts_the_runtime_down_with_ex_software(
    runtime: Runtime, clock: SimClock
) -> None:
    rt = runtime
    log = MessageLog()
    rt.events.subscribe(log)
    rt.register_service(Scripted("vital", tick=boom, critical=True, restart=False))
    rt.boot()
    clock.settle()
    assert rt.wait_shutdown(10)
    assert rt.exit_code == os.EX_SOFTWARE == 70
    assert log.data("service.failure")[0]["critical"] is True
    assert log.data("runtime.shutdown") == [{"version": rt.version, "exit_code": 70}]
    assert "critical service 'vital' failed" in log.data("runtime.shutting_down")[0]["reason"]
    assert rt.shutdown() == 70  # idempotent


def test_critical_failure_makes_threaded_run_return_ex_software(clock: SimClock) -> None:
    rt = ThreadedRuntime(clock=clock, join_timeout=2.0)
    running = threading.Event()

    def on_started(evt: Event[Message]) -> None:
        if evt.name == "service.started":
            running.set()

    rt.events.subscribe(on_started)
    failing = threading.Event()

    def tick(ctx: Context, n: int) -> None:
        if failing.is_set():
            raise RuntimeError("lost the bus")

    rt.register_service(Scripted("vital", tick=tick, critical=True, max_restarts=1))
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(rt.run()), name="runner", daemon=True)
    runner.start()
    assert running.wait(10)  # the service thread exists: from here virtual time is safe
    clock.advance(3.0)
    assert rt.booted and result == []
    failing.set()
    clock.advance(3.0)  # fails at t=4, restarts at 4.5, fails at 5: past the limit
    runner.join(10)
    assert result == [os.EX_SOFTWARE]
    assert not rt.booted


def test_service_handle_event_sees_events_while_running(runtime: Runtime, clock: SimClock) -> None:
    seen: list[str] = []

    class Listener(Service):
        name = "listener"

        def handle_event(self, ctx: Context, evt: Event[Message]) -> None:
            if evt.name == "test.ping":
                seen.append(evt.name)
                raise ValueError("listener broke")

    runtime.register_service(Listener())
    log = MessageLog()
    runtime.events.subscribe(log)
    runtime.emit(Ping())  # before boot: not running, not delivered
    runtime.boot()
    clock.settle()
    runtime.emit(Ping())
    assert seen == ["test.ping"]
    err = [d for d in log.data("service.error") if d["phase"] == "handle_event"]
    assert len(err) == 1 and err[0]["service"] == "listener"


def test_duplicate_service_name_is_refused(runtime: Runtime) -> None:
    runtime.register_service(Scripted("x"))
    with pytest.raises(ValueError, match="already registered"):
        runtime.register_service(Scripted("x"))


def test_service_registered_after_boot_starts(
    runtime: Runtime, clock: SimClock, message_log: MessageLog
) -> None:
    runtime.boot()
    svc = Scripted("late", interval=2.0)
    runtime.register_service(svc)
    clock.advance(4.0)
    assert svc.times("tick") == [0.0, 2.0, 4.0]
    assert runtime.remove_service("late") is True
    assert message_log.data("service.stopped") == [{"service": "late"}]
    assert runtime.services.names() == []
