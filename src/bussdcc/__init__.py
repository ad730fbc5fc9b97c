"""bussdcc: a small typed event kernel with real supervision.

All coordination flows through typed ``Message`` events in one total order; the
``Runtime`` is the authoritative dispatcher. See ``docs/kernel.md``. Test support
(``SimClock``, ``MessageLog``, pytest fixtures) is in ``bussdcc.testing``.
"""

import bussdcc.message as message
from bussdcc.clock import ClockProtocol, SystemClock
from bussdcc.context import Context, DeviceStatus
from bussdcc.device import Device, DeviceError
from bussdcc.event import Event, EventBus, Subscription
from bussdcc.message import Message, Severity
from bussdcc.process import Interface, Process
from bussdcc.runtime import (
    BootCancelled,
    BootError,
    Liveness,
    Runtime,
    ThreadedRuntime,
)
from bussdcc.service import Service, ServiceLiveness, ServiceState, Supervisor
from bussdcc.signals import SignalRuntime
from bussdcc.state import StateStore
from bussdcc.version import __version__

__all__ = [
    "BootCancelled",
    "BootError",
    "ClockProtocol",
    "Context",
    "Device",
    "DeviceError",
    "DeviceStatus",
    "Event",
    "EventBus",
    "Interface",
    "Liveness",
    "Message",
    "Process",
    "Runtime",
    "Service",
    "ServiceLiveness",
    "ServiceState",
    "Severity",
    "SignalRuntime",
    "StateStore",
    "Subscription",
    "Supervisor",
    "SystemClock",
    "ThreadedRuntime",
    "__version__",
    "message",
]
