"""Typed messages: the only thing that flows through the kernel.

A message is a frozen dataclass with a dotted ``name`` and a ``Severity``. The kernel's
own lifecycle messages live here too, so ``from bussdcc import message`` gives a whole
vocabulary (``message.ServiceFailure``, ``message.SystemSignal``, ...).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar


class Severity(enum.IntEnum):
    """How much a message matters; ERROR and above never trigger further error reports."""

    DEBUG = 10
    INFO = 20
    WARNING = 30
    ERROR = 40
    CRITICAL = 50

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.strip().upper()]


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(cls))
        _FIELD_NAMES[cls] = names
    return names


def to_jsonable(value: Any) -> Any:
    """Convert a message field to plain JSON types (dict, list, str, int, float, bool, None)."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Message):
        return value.to_dict()
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {n: to_jsonable(getattr(value, n)) for n in _field_names(type(value))}
    return repr(value)


@dataclass(slots=True, frozen=True)
class Message:
    """Base of every message. Subclasses set ``name`` and may raise ``severity``."""

    name: ClassVar[str] = "message"
    severity: ClassVar[Severity] = Severity.INFO

    def to_dict(self) -> dict[str, Any]:
        """The message's fields as JSON-safe data (what sinks and the browser see)."""
        return {n: to_jsonable(getattr(self, n)) for n in _field_names(type(self))}


# --- runtime lifecycle -------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class RuntimeBooting(Message):
    name = "runtime.booting"
    version: str


@dataclass(slots=True, frozen=True)
class RuntimeBooted(Message):
    name = "runtime.booted"
    version: str


@dataclass(slots=True, frozen=True)
class RuntimeBootFailed(Message):
    name = "runtime.boot_failed"
    severity = Severity.CRITICAL
    component: str
    error: str


@dataclass(slots=True, frozen=True)
class RuntimeShuttingDown(Message):
    name = "runtime.shutting_down"
    reason: str | None = None


@dataclass(slots=True, frozen=True)
class RuntimeShutdown(Message):
    name = "runtime.shutdown"
    version: str
    exit_code: int = 0


@dataclass(slots=True, frozen=True)
class RuntimeHeartbeat(Message):
    """Emitted by the liveness check; its delivery proves dispatch is moving."""

    name = "runtime.heartbeat"
    severity = Severity.DEBUG
    beat: int


@dataclass(slots=True, frozen=True)
class ComponentStopTimeout(Message):
    name = "runtime.stop_timeout"
    severity = Severity.ERROR
    component: str
    timeout: float


# --- devices -----------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class DeviceAttached(Message):
    name = "device.attached"
    device: str
    kind: str


@dataclass(slots=True, frozen=True)
class DeviceDetached(Message):
    name = "device.detached"
    device: str
    kind: str


@dataclass(slots=True, frozen=True)
class DeviceFailed(Message):
    name = "device.failed"
    severity = Severity.ERROR
    device: str
    kind: str
    error: str


# --- processes and interfaces ----------------------------------------------------------


@dataclass(slots=True, frozen=True)
class ProcessStarted(Message):
    name = "process.started"
    process: str


@dataclass(slots=True, frozen=True)
class ProcessStopped(Message):
    name = "process.stopped"
    process: str


@dataclass(slots=True, frozen=True)
class ProcessError(Message):
    name = "process.error"
    severity = Severity.ERROR
    process: str
    error: str
    phase: str = "handle_event"
    event: str | None = None
    traceback: str | None = None


# --- services ----------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class ServiceStarted(Message):
    name = "service.started"
    service: str


@dataclass(slots=True, frozen=True)
class ServiceStopped(Message):
    name = "service.stopped"
    service: str


@dataclass(slots=True, frozen=True)
class ServiceError(Message):
    name = "service.error"
    severity = Severity.ERROR
    service: str
    error: str
    phase: str = "tick"
    traceback: str | None = None


@dataclass(slots=True, frozen=True)
class ServiceRestart(Message):
    name = "service.restart"
    severity = Severity.WARNING
    service: str
    attempt: int
    delay: float
    reason: str


@dataclass(slots=True, frozen=True)
class ServiceFailure(Message):
    name = "service.failure"
    severity = Severity.CRITICAL
    service: str
    error: str
    critical: bool = False


@dataclass(slots=True, frozen=True)
class ServiceStalled(Message):
    name = "service.stalled"
    severity = Severity.ERROR
    service: str
    running_for: float
    deadline: float
    critical: bool = False


@dataclass(slots=True, frozen=True)
class ServiceRecovered(Message):
    name = "service.recovered"
    service: str
    stalled_for: float


# --- events and signals ------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class EventSubscriberError(Message):
    name = "event.subscriber_error"
    severity = Severity.ERROR
    subscriber: str
    error: str
    event: str
    traceback: str | None = None


@dataclass(slots=True, frozen=True)
class SystemSignal(Message):
    name = "system.signal"
    signal: int
    action: str


@dataclass(slots=True, frozen=True)
class SystemReload(Message):
    name = "system.reload"
