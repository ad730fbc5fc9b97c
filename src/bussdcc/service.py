"""Services and their supervisor: time-driven workers that are really supervised.

Each service runs in its own thread: ``start``, then ``tick`` every ``interval`` seconds
on a fixed grid (no drift by tick duration; missed periods are skipped), then ``stop``.
A failing ``start`` or ``tick`` is reported (``service.error``); a restartable service
is stopped and started again in a fresh thread after an exponential backoff, at most
``max_restarts`` times within ``restart_window`` seconds (the Erlang/OTP intensity
rule); past that, or when not restartable, it has *failed* (``service.failure``) and a
failed critical service asks the runtime to shut down with a non-zero exit status.
A tick that runs past its ``deadline`` is reported once as ``service.stalled``;
Python cannot kill a thread, so a stalled critical service makes liveness fail and
the daemon stops feeding the systemd watchdog.
"""

from __future__ import annotations

import enum
import math
import threading
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import bussdcc.message as message

if TYPE_CHECKING:
    from bussdcc.context import Context
    from bussdcc.event import Event
    from bussdcc.message import Message


class Service:
    """Override ``tick`` (and optionally ``start``, ``stop``, ``handle_event``)."""

    name: str = "service"
    interval: float = 1.0
    restart: bool = True
    critical: bool = False
    deadline: float | None = None
    """Seconds a tick may run before it counts as stalled (default: max(5, 3 x interval))."""
    max_restarts: int = 5
    restart_window: float = 60.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0

    def start(self, ctx: Context) -> None:
        return None

    def tick(self, ctx: Context) -> None:
        return None

    def stop(self, ctx: Context) -> None:
        return None

    def handle_event(self, ctx: Context, evt: Event[Message]) -> None:
        return None

    def tick_deadline(self) -> float:
        return self.deadline if self.deadline is not None else max(5.0, 3.0 * self.interval)


class ServiceState(enum.Enum):
    PENDING = "pending"
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class ServiceLiveness:
    """One service as the watchdog sees it."""

    name: str
    state: ServiceState
    critical: bool
    stalled: bool
    last_tick_age: float | None
    ok: bool
    reason: str | None


class _Supervised:
    __slots__ = (
        "generation",
        "last_progress",
        "restarts",
        "service",
        "stalled",
        "state",
        "stop_event",
        "thread",
        "tick_started",
    )

    def __init__(self, service: Service) -> None:
        self.service = service
        self.state = ServiceState.PENDING
        self.thread: threading.Thread | None = None
        self.stop_event = threading.Event()
        self.restarts: deque[float] = deque()
        self.tick_started: float | None = None
        self.last_progress: float | None = None
        self.stalled = False
        self.generation = 0


class Supervisor:
    """Runs services in threads, restarts them, detects stalls, reports everything."""

    def __init__(
        self,
        ctx: Context,
        *,
        on_critical_failure: Callable[[str], None],
        monitor_interval: float = 1.0,
    ) -> None:
        self._ctx = ctx
        self._on_critical = on_critical_failure
        self._entries: dict[str, _Supervised] = {}
        self._lock = threading.RLock()
        self.monitor_interval = monitor_interval
        self._monitor_stop = threading.Event()
        self._monitor: threading.Thread | None = None

    # -- registry -----------------------------------------------------------------------

    def add(self, service: Service) -> None:
        with self._lock:
            if service.name in self._entries:
                raise ValueError(f"a service named {service.name!r} is already registered")
            self._entries[service.name] = _Supervised(service)

    def get(self, name: str) -> Service | None:
        with self._lock:
            entry = self._entries.get(name)
            return entry.service if entry else None

    def names(self) -> list[str]:
        with self._lock:
            return list(self._entries)

    def state(self, name: str) -> ServiceState:
        with self._lock:
            return self._entries[name].state

    def running_services(self) -> list[Service]:
        with self._lock:
            return [
                e.service
                for e in self._entries.values()
                if e.state in (ServiceState.RUNNING, ServiceState.STARTING)
            ]

    # -- lifecycle ----------------------------------------------------------------------

    def start_monitor(self) -> None:
        self._monitor_stop.clear()
        thread = threading.Thread(
            target=self._monitor_loop, name="bussdcc-stall-monitor", daemon=True
        )
        self._monitor = thread
        self._ctx.clock.adopt(thread)
        thread.start()

    def start(self, name: str) -> None:
        with self._lock:
            entry = self._entries[name]
            if entry.thread is not None and entry.thread.is_alive():
                return
            entry.stop_event = threading.Event()
            entry.restarts.clear()
            self._spawn(entry)

    def _spawn(self, entry: _Supervised) -> None:
        entry.generation += 1
        entry.state = ServiceState.STARTING
        thread = threading.Thread(
            target=self._run,
            args=(entry, entry.stop_event),
            name=f"service:{entry.service.name}#{entry.generation}",
            daemon=True,
        )
        entry.thread = thread
        self._ctx.clock.adopt(thread)
        thread.start()

    def stop(self, name: str, timeout: float) -> bool:
        """Stop one service; return False if its thread did not end within ``timeout``."""
        with self._lock:
            entry = self._entries[name]
            entry.stop_event.set()
            thread = entry.thread
        ok = True
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                ok = False
                self._ctx.emit(message.ComponentStopTimeout(f"service:{name}", timeout))
        was_active = entry.state in (ServiceState.RUNNING, ServiceState.STARTING)
        if was_active:
            try:
                entry.service.stop(self._ctx)
            except Exception as exc:
                self._ctx.emit(message.ServiceError(name, repr(exc), "stop", _tb(exc)))
            self._ctx.emit(message.ServiceStopped(name))
        if entry.state is not ServiceState.FAILED:
            entry.state = ServiceState.STOPPED
        entry.tick_started = None
        return ok

    def remove(self, name: str, timeout: float) -> bool:
        ok = self.stop(name, timeout)
        with self._lock:
            self._entries.pop(name, None)
        return ok

    def stop_monitor(self, timeout: float) -> None:
        self._monitor_stop.set()
        if self._monitor is not None:
            self._monitor.join(timeout)
            self._monitor = None

    # -- the service thread -------------------------------------------------------------

    def _run(self, entry: _Supervised, stop: threading.Event) -> None:
        svc, ctx = entry.service, self._ctx
        try:
            svc.start(ctx)
        except Exception as exc:
            ctx.emit(message.ServiceError(svc.name, repr(exc), "start", _tb(exc)))
            self._after_crash(entry, stop, f"start failed: {exc!r}", call_stop=False)
            return
        if stop.is_set():
            return
        entry.state = ServiceState.RUNNING
        entry.last_progress = ctx.clock.monotonic()
        ctx.emit(message.ServiceStarted(svc.name))
        error = self._tick_loop(entry, stop)
        if error is not None:
            self._after_crash(entry, stop, f"tick failed: {error!r}", call_stop=True)

    def _tick_loop(self, entry: _Supervised, stop: threading.Event) -> Exception | None:
        svc, ctx, clock = entry.service, self._ctx, self._ctx.clock
        next_due = clock.monotonic()
        while not stop.is_set():
            entry.tick_started = clock.monotonic()
            try:
                svc.tick(ctx)
            except Exception as exc:
                entry.tick_started = None
                entry.stalled = False  # the stall (if any) ended with the crash
                ctx.emit(message.ServiceError(svc.name, repr(exc), "tick", _tb(exc)))
                return exc
            end = clock.monotonic()
            started, entry.tick_started = entry.tick_started, None
            entry.last_progress = end
            if entry.stalled:
                entry.stalled = False
                ctx.emit(message.ServiceRecovered(svc.name, round(end - started, 3)))
            interval = max(svc.interval, 1e-3)
            next_due += interval
            if next_due <= end:  # overran: skip the periods we missed, keep the grid
                next_due += math.ceil((end - next_due) / interval + 1e-9) * interval
                if next_due <= end:
                    next_due += interval
            if clock.sleep(next_due - end, stop):
                break
        return None

    def _after_crash(
        self, entry: _Supervised, stop: threading.Event, reason: str, *, call_stop: bool
    ) -> None:
        svc, ctx, clock = entry.service, self._ctx, self._ctx.clock
        if call_stop:
            try:
                svc.stop(ctx)
            except Exception as exc:
                ctx.emit(message.ServiceError(svc.name, repr(exc), "stop", _tb(exc)))
        if stop.is_set():
            return
        now = clock.monotonic()
        while entry.restarts and now - entry.restarts[0] > svc.restart_window:
            entry.restarts.popleft()
        if not svc.restart:
            self._fail(entry, f"{reason} (not restartable)")
            return
        if len(entry.restarts) >= svc.max_restarts:
            self._fail(
                entry,
                f"{reason}; gave up after {len(entry.restarts)} restarts "
                f"within {svc.restart_window:g}s",
            )
            return
        entry.restarts.append(now)
        attempt = len(entry.restarts)
        delay = min(svc.backoff_max, svc.backoff_initial * 2 ** (attempt - 1))
        entry.state = ServiceState.RESTARTING
        ctx.emit(message.ServiceRestart(svc.name, attempt, delay, reason))
        if clock.sleep(delay, stop):
            return
        with self._lock:
            if not stop.is_set():
                self._spawn(entry)

    def _fail(self, entry: _Supervised, reason: str) -> None:
        svc = entry.service
        entry.state = ServiceState.FAILED
        self._ctx.emit(message.ServiceFailure(svc.name, reason, svc.critical))
        if svc.critical:
            self._on_critical(f"critical service {svc.name!r} failed: {reason}")

    # -- stall detection and liveness ---------------------------------------------------

    def _monitor_loop(self) -> None:
        clock = self._ctx.clock
        while not clock.sleep(self.monitor_interval, self._monitor_stop):
            self.check_stalls()

    def check_stalls(self) -> None:
        """Report, once per stall, every tick running past its deadline."""
        now = self._ctx.clock.monotonic()
        with self._lock:
            entries = list(self._entries.values())
        for entry in entries:
            started = entry.tick_started
            if started is None or entry.stalled:
                continue
            deadline = entry.service.tick_deadline()
            if now - started > deadline:
                entry.stalled = True
                svc = entry.service
                self._ctx.emit(
                    message.ServiceStalled(
                        svc.name, round(now - started, 3), deadline, svc.critical
                    )
                )

    def liveness(self) -> list[ServiceLiveness]:
        now = self._ctx.clock.monotonic()
        with self._lock:
            entries = list(self._entries.values())
        out = []
        for e in entries:
            svc = e.service
            deadline = svc.tick_deadline()
            started = e.tick_started
            stalled = e.stalled or (started is not None and now - started > deadline)
            age = None if e.last_progress is None else now - e.last_progress
            reason: str | None = None
            if e.state is ServiceState.FAILED:
                reason = f"service {svc.name} has failed"
            elif stalled and started is not None:
                reason = f"service {svc.name} stalled: tick running for {now - started:.1f}s"
            elif (
                e.state is ServiceState.RUNNING
                and started is None
                and age is not None
                and age > svc.interval + deadline
            ):
                reason = f"service {svc.name} has not ticked for {age:.1f}s"
            out.append(
                ServiceLiveness(
                    svc.name, e.state, svc.critical, stalled, age, reason is None, reason
                )
            )
        return out


def _tb(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))
