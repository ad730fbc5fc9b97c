"""The Runtime: boot order, authoritative dispatch, supervision and bounded shutdown.

Boot attaches devices, then attaches and starts processes, then interfaces, then starts
services; shutdown runs the reverse, calling every component's stop/detach even when an
earlier one raised, with bounded thread joins. A boot that fails half-way rolls back
what it had started. Every kind of component can also be added and removed while the
runtime runs (a reload does both). The runtime is itself the first subscriber of the
event bus, so processes, interfaces and services see every event in the bus's single
total order. A process registered before boot sees every message from
``runtime.booting`` on: what is emitted while components start (``device.attached``,
``process.started``, ...) is held until the processes and interfaces have started, then
delivered in order, before anything emitted later.
"""

from __future__ import annotations

import logging
import os
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self, TypedDict, TypeVar

import bussdcc.message as message
from bussdcc.clock import ClockProtocol, SystemClock
from bussdcc.context import Context, DeviceStatus
from bussdcc.device import Device
from bussdcc.event import Event, EventBus, Subscription
from bussdcc.message import Message, Severity
from bussdcc.process import Interface, Process
from bussdcc.service import Service, ServiceLiveness, Supervisor
from bussdcc.state import StateStore
from bussdcc.version import __version__

log = logging.getLogger("bussdcc.runtime")

_P = TypeVar("_P", bound=Process)


class BootError(RuntimeError):
    """Boot failed half-way; what had started was rolled back."""


class BootCancelled(BootError):
    """Shutdown was requested (e.g. SIGTERM) while booting."""


@dataclass(frozen=True, slots=True)
class Liveness:
    """Is the runtime making progress? What the systemd watchdog is fed from."""

    ok: bool
    dispatch_ok: bool
    queue_depth: int
    services: tuple[ServiceLiveness, ...]
    reasons: tuple[str, ...]


class RuntimeOptions(TypedDict, total=False):
    """:class:`Runtime`'s keyword arguments, for a subclass that passes them on unchanged."""

    clock: ClockProtocol | None
    state: StateStore | None
    join_timeout: float
    dispatch_deadline: float


class Runtime:
    """The coordination authority. Usable as a context manager (boot ... shutdown)."""

    def __init__(
        self,
        *,
        clock: ClockProtocol | None = None,
        state: StateStore | None = None,
        join_timeout: float = 5.0,
        dispatch_deadline: float = 5.0,
    ) -> None:
        self.clock: ClockProtocol = clock or SystemClock()
        self.events = EventBus(self.clock)
        self.state = state or StateStore()
        self.version = __version__
        self.ctx = Context(
            clock=self.clock, events=self.events, state=self.state, devices=self._device_statuses
        )
        self.join_timeout = join_timeout
        self.dispatch_deadline = dispatch_deadline
        self.services = Supervisor(self.ctx, on_critical_failure=self._critical_failure)
        self._devices: dict[str, Device] = {}
        self._processes: list[Process] = []
        self._interfaces: list[Interface] = []
        self._started: list[Process] = []
        self._handlers: tuple[Callable[[Context, Event[Message]], None], ...] = ()
        self._held: list[Event[Message]] | None = None
        """While booting: what dispatch has seen but not yet delivered to the components."""
        self._release_held = False
        self._service_targets: tuple[Service, ...] = ()
        self._lock = threading.RLock()
        self._booted = False
        self._boot_cancel = threading.Event()
        self._shutdown_requested = threading.Event()
        self._shutdown_done = threading.Event()
        self._stopping_thread: int | None = None
        self._shutdown_reason: str | None = None
        self.exit_code = 0
        self._dispatch_sub: Subscription | None = None
        self._beat = 0
        self._pending_beat: tuple[int, float] | None = None

    # -- registration -------------------------------------------------------------------

    def attach_device(self, device: Device, *, attached: bool = False) -> bool:
        """Register a device; attach it now if booted. False if it failed (reported).

        ``attached``: the owner has already attached it to ``ctx`` (a reload prepares its
        devices before it changes anything); it is only registered and reported
        (``device.attached``). Only while booted, and only for a device that is online.
        """
        with self._lock:
            if device.id in self._devices:
                raise ValueError(f"a device with id {device.id!r} is already attached")
            if attached and not (self._booted and device.online):
                raise ValueError(
                    f"device {device.id!r} is not attached, or the runtime is not booted"
                )
            self._devices[device.id] = device
            if attached:
                self.emit(message.DeviceAttached(device.id, device.kind))
                return True
            if self._booted:
                return self._attach(device)
            return True

    def detach_device(self, device_id: str) -> None:
        with self._lock:
            device = self._devices.pop(device_id)
        self._detach(device)

    def devices(self) -> dict[str, Device]:
        with self._lock:
            return dict(self._devices)

    def _device_statuses(self) -> dict[str, DeviceStatus]:
        """What ``ctx.devices()`` shows components: a snapshot, not the devices themselves."""
        with self._lock:
            devices = list(self._devices.values())
        return {d.id: DeviceStatus(d.id, d.kind, d.online, d.error) for d in devices}

    def register_process(self, process: Process) -> None:
        """Register a process; attach and start it now if booted (a failure is reported)."""
        self._register(self._processes, process, "process")

    def register_interface(self, interface: Interface) -> None:
        """Register an interface; attach and start it now if booted (a failure is reported)."""
        self._register(self._interfaces, interface, "interface")

    def unregister_process(self, name: str) -> None:
        """Stop, detach and forget a process (e.g. on reload); KeyError if there is none."""
        self._unregister(self._processes, name, "process")

    def unregister_interface(self, name: str) -> None:
        """Stop, detach and forget an interface (e.g. on reload); KeyError if there is none."""
        self._unregister(self._interfaces, name, "interface")

    def _register(self, group: list[_P], comp: _P, kind: str) -> None:
        with self._lock:
            # One namespace for both: ``process.started``/``process.stopped`` name them alike.
            if any(c.name == comp.name for c in (*self._processes, *self._interfaces)):
                raise ValueError(
                    f"a process or interface named {comp.name!r} is already registered"
                )
            group.append(comp)
            if self._booted:
                self._start_component(comp, kind)
            self._retarget()

    def _unregister(self, group: list[_P], name: str, kind: str) -> None:
        with self._lock:
            comp = next((c for c in group if c.name == name), None)
            if comp is None:
                raise KeyError(f"no {kind} named {name!r}")
            group.remove(comp)
            # While booted it is ours to stop; otherwise a shutdown under way (which took
            # its list of components when it began) stops it, or it was never started.
            stop = self._booted
            if comp in self._started:
                self._started.remove(comp)
            self._retarget()
        if stop:
            self._stop_component(comp)

    def register_service(self, service: Service) -> None:
        with self._lock:
            self.services.add(service)
            self._retarget()
            if self._booted:
                self.services.start(service.name)

    def remove_service(self, name: str) -> bool:
        """Stop and forget a service (e.g. on reload); False if its thread would not end."""
        ok = self.services.remove(name, self.join_timeout)
        with self._lock:
            self._retarget()
        return ok

    def _retarget(self) -> None:
        # Only started components receive events, processes before interfaces.
        started = self._started
        targets = [p for p in self._processes if p in started]
        targets += [i for i in self._interfaces if i in started]
        # The hot path calls bound methods, skipping components that ignore events.
        self._handlers = tuple(
            t.handle_event
            for t in targets
            if getattr(t.handle_event, "__func__", None) is not Process.handle_event
        )
        names = self.services.names()
        services = [self.services.get(n) for n in names]
        self._service_targets = tuple(
            s
            for s in services
            if s is not None and type(s).handle_event is not Service.handle_event
        )

    # -- dispatch -----------------------------------------------------------------------

    def emit(self, msg: Message) -> Event[Message]:
        return self.events.emit(msg)

    def _dispatch(self, evt: Event[Message]) -> None:
        held = self._held
        if held is not None:
            # Booting: hold everything until the components have started, then deliver
            # it first. Dispatch is serialised by the bus, so what is held precedes, in
            # the total order, every event dispatched after the release.
            if not self._release_held:
                held.append(evt)
                return
            self._held = None
            for earlier in held:
                self._deliver(earlier)
        self._deliver(evt)

    def _deliver(self, evt: Event[Message]) -> None:
        ctx = self.ctx
        for handle in self._handlers:
            try:
                handle(ctx, evt)
            except Exception as exc:
                if self._quiet_failure(evt, exc):
                    continue
                name = getattr(getattr(handle, "__self__", None), "name", repr(handle))
                self.events.emit(
                    message.ProcessError(name, repr(exc), "handle_event", evt.name, _tb(exc))
                )
        if self._service_targets:
            running = self.services.running_services()
            for svc in self._service_targets:
                if svc not in running:
                    continue
                try:
                    svc.handle_event(ctx, evt)
                except Exception as exc:
                    if self._quiet_failure(evt, exc):
                        continue
                    self.events.emit(
                        message.ServiceError(svc.name, repr(exc), "handle_event", _tb(exc))
                    )

    @staticmethod
    def _quiet_failure(evt: Event[Message], exc: Exception) -> bool:
        """Failures on error-level events go to the log only: reporting them could recurse."""
        if evt.severity < Severity.ERROR:
            return False
        log.error(
            "handler failed on error-level event %s (#%d): %r", evt.name, evt.seq, exc, exc_info=exc
        )
        return True

    # -- boot and shutdown --------------------------------------------------------------

    @property
    def booted(self) -> bool:
        return self._booted

    def boot(self) -> None:
        """Start everything in order; on failure roll back and raise ``BootError``."""
        with self._lock:
            if self._booted:
                return
            self._shutdown_done.clear()
            self._held, self._release_held = [], False
            self._dispatch_sub = self.events.subscribe(self._dispatch, name="runtime")
            self.emit(message.RuntimeBooting(self.version))
            started: list[tuple[str, object]] = []
            try:
                self._on_boot()
                for device in list(self._devices.values()):
                    self._check_cancel()
                    self._attach(device)
                    started.append(("device", device))
                for kind, group in (("process", self._processes), ("interface", self._interfaces)):
                    for comp in list(group):
                        self._check_cancel()
                        self._start_component(comp, kind, raise_errors=True)
                        started.append((kind, comp))
                self._check_cancel()
                self._booted = True
                self._retarget()
                self._release_held = True  # delivered (first) with the next event
                self.emit(message.RuntimeBooted(self.version))
                self.services.start_monitor()
                for name in self.services.names():
                    self.services.start(name)
            except BaseException as exc:
                self._rollback(started, exc)
                if isinstance(exc, BootError):
                    raise
                raise BootError(f"boot failed: {exc!r}") from exc

    def _check_cancel(self) -> None:
        if self._boot_cancel.is_set():
            raise BootCancelled("shutdown requested during boot")

    def _rollback(self, started: list[tuple[str, object]], exc: BaseException) -> None:
        component = started[-1][0] if started else "runtime"
        self._release_held = True  # what started sees the boot so far, then its failure
        if not isinstance(exc, BootCancelled):
            self.emit(message.RuntimeBootFailed(component, repr(exc)))
        self._booted = False
        self.services.stop_monitor(self.join_timeout)
        for kind, comp in reversed(started):
            if kind == "device":
                assert isinstance(comp, Device)
                self._detach(comp)
            else:
                assert isinstance(comp, Process)
                self._stop_component(comp)
        self._finish_shutdown(self._shutdown_reason or repr(exc))

    def _attach(self, device: Device) -> bool:
        try:
            device.attach(self.ctx)
        except Exception as exc:
            self.emit(message.DeviceFailed(device.id, device.kind, str(exc) or repr(exc)))
            return False
        self.emit(message.DeviceAttached(device.id, device.kind))
        return True

    def _detach(self, device: Device) -> None:
        was_online = device.online
        try:
            device.detach()
        except Exception as exc:
            self.emit(message.DeviceFailed(device.id, device.kind, f"detach failed: {exc!r}"))
            return
        if was_online:
            self.emit(message.DeviceDetached(device.id, device.kind))

    def _start_component(self, comp: Process, kind: str, raise_errors: bool = False) -> None:
        attached = False
        try:
            comp.attach(self.ctx)
            attached = True
            comp.start(self.ctx)
        except Exception as exc:
            self.emit(message.ProcessError(comp.name, repr(exc), "start", None, _tb(exc)))
            if raise_errors:
                if attached:  # the rollback covers what started before; undo our attach
                    try:
                        comp.detach()
                    except Exception as dexc:
                        self.emit(
                            message.ProcessError(comp.name, repr(dexc), "detach", None, _tb(dexc))
                        )
                raise BootError(f"{kind} {comp.name!r} failed to start: {exc!r}") from exc
            return
        with self._lock:
            self._started.append(comp)
            self._retarget()
        self.emit(message.ProcessStarted(comp.name))

    def _stop_component(self, comp: Process) -> None:
        with self._lock:
            if comp in self._started:
                self._started.remove(comp)
            self._retarget()
        try:
            comp.stop(self.ctx)
        except Exception as exc:
            self.emit(message.ProcessError(comp.name, repr(exc), "stop", None, _tb(exc)))
        try:
            comp.detach()
        except Exception as exc:
            self.emit(message.ProcessError(comp.name, repr(exc), "detach", None, _tb(exc)))
        self.emit(message.ProcessStopped(comp.name))

    def request_shutdown(self, reason: str | None = None, exit_code: int | None = None) -> None:
        """Ask for shutdown from any thread (or a signal); the owner of the runtime does it."""
        if exit_code is not None and exit_code != 0:
            self.exit_code = exit_code
        if self._shutdown_reason is None:
            self._shutdown_reason = reason
        self._boot_cancel.set()
        self._shutdown_requested.set()
        self._on_shutdown_requested()

    def _on_shutdown_requested(self) -> None:
        """Plain Runtime has no owner loop: shut down in a helper thread."""
        if self._booted:
            threading.Thread(target=self.shutdown, name="bussdcc-shutdown", daemon=True).start()

    def _critical_failure(self, reason: str) -> None:
        log.critical("%s: shutting down", reason)
        # sysexits.h's EX_SOFTWARE (70): systemd sees a failure and restarts the process.
        self.request_shutdown(reason, os.EX_SOFTWARE)

    def shutdown(self, reason: str | None = None) -> int:
        """Stop everything in reverse boot order; idempotent; returns the exit code."""
        me = threading.get_ident()
        with self._lock:
            other = self._stopping_thread
            mine = self._booted
            if mine:
                self._booted = False
                self._stopping_thread = me
                # Taken with the flag: what is unregistered from here on is ours to stop.
                interfaces, processes = list(self._interfaces), list(self._processes)
        if not mine:
            if other is not None and other != me:
                # Another thread is shutting down: return when it has finished, so that
                # e.g. a ``with`` block ending cannot let the process exit half-way.
                self._shutdown_done.wait()
            return self.exit_code
        reason = reason or self._shutdown_reason
        self.emit(message.RuntimeShuttingDown(reason))
        self.services.stop_monitor(self.join_timeout)
        for name in reversed(self.services.names()):
            try:
                self.services.stop(name, self.join_timeout)
            except Exception as exc:  # pragma: no cover - stop() reports its own errors
                log.exception("stopping service %s failed: %r", name, exc)
        for comp in reversed(interfaces):
            self._stop_component(comp)
        for proc in reversed(processes):
            self._stop_component(proc)
        with self._lock:
            devices = list(self._devices.values())
        for device in reversed(devices):
            self._detach(device)
        self._finish_shutdown(reason)
        return self.exit_code

    def _finish_shutdown(self, reason: str | None) -> None:
        try:
            self._on_shutdown(reason)
        except Exception:
            log.exception("shutdown hook failed")
        self.emit(message.RuntimeShutdown(self.version, self.exit_code))
        self.events.wait_idle(self.join_timeout)
        if self._dispatch_sub is not None:
            self._dispatch_sub.cancel()
            self._dispatch_sub = None
        self._boot_cancel.clear()
        self._shutdown_requested.clear()
        self._shutdown_reason = None
        self._stopping_thread = None
        self._shutdown_done.set()

    def _on_boot(self) -> None:
        """Hook for subclasses: acquire resources before devices attach."""

    def _on_shutdown(self, reason: str | None) -> None:
        """Hook for subclasses: release resources after everything stopped."""

    def wait_shutdown(self, timeout: float | None = None) -> bool:
        return self._shutdown_done.wait(timeout)

    @property
    def shutdown_requested(self) -> bool:
        return self._shutdown_requested.is_set()

    # -- liveness -----------------------------------------------------------------------

    def liveness(self) -> Liveness:
        """Dispatch delivered a recent heartbeat end to end, and critical services tick."""
        now = self.clock.monotonic()
        reasons: list[str] = []
        dispatch_ok = True
        pending = self._pending_beat
        if pending is not None:
            seq, emitted = pending
            if self.events.delivered_seq >= seq:
                self._pending_beat = None
            elif now - emitted > self.dispatch_deadline:
                dispatch_ok = False
                reasons.append(
                    f"dispatch stalled: heartbeat not delivered for {now - emitted:.1f}s "
                    f"({self.events.queue_depth} events queued)"
                )
        if self._pending_beat is None and self._booted:
            self._beat += 1
            evt = self.emit(message.RuntimeHeartbeat(self._beat))
            if self.events.delivered_seq < evt.seq:
                self._pending_beat = (evt.seq, now)
        services = tuple(self.services.liveness())
        for s in services:
            if s.critical and not s.ok and s.reason:
                reasons.append(s.reason)
        return Liveness(not reasons, dispatch_ok, self.events.queue_depth, services, tuple(reasons))

    def wait_idle(self, timeout: float | None = None) -> bool:
        return self.events.wait_idle(timeout)

    # -- context manager ----------------------------------------------------------------

    def __enter__(self) -> Self:
        self.boot()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown(None if exc_type is None else f"{exc_type.__name__}: {exc}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} booted={self._booted}>"


class ThreadedRuntime(Runtime):
    """A runtime with an owner loop: ``run()`` boots and blocks until shutdown."""

    def _on_shutdown_requested(self) -> None:
        return None  # the owner loop in run()/start() performs the shutdown

    def run(self) -> int:
        """Boot, block until shutdown is requested, shut down; return the exit status."""
        self.boot()
        try:
            self._shutdown_requested.wait()
        finally:
            self.shutdown()
        return self.exit_code

    def start(self) -> None:
        """Boot, then wait for shutdown requests in a background thread."""
        self.boot()
        threading.Thread(target=self._owner, name="bussdcc-runtime", daemon=True).start()

    def _owner(self) -> None:
        self._shutdown_requested.wait()
        self.shutdown()

    def stop(self, reason: str | None = None, timeout: float | None = None) -> int:
        self.request_shutdown(reason)
        self.wait_shutdown(timeout)
        return self.exit_code


def _tb(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))
