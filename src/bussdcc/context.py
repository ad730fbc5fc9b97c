"""Context: the small set of capabilities every component receives.

A component gets what it needs to take part, not the runtime: the clock, the event bus,
the shared state, ``emit``, and a read-only view of the attached devices. Registering,
removing or shutting things down is the runtime owner's business, not a component's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bussdcc.clock import ClockProtocol
from bussdcc.event import Event, EventBus
from bussdcc.message import Message
from bussdcc.state import StateStore


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """One device the runtime has, as it is at the moment of asking.

    ``online`` once attached; ``error`` says why its last attach failed. A device that
    is neither has not been attached yet (registered before boot).
    """

    id: str
    kind: str
    online: bool
    error: str | None


class Context:
    """Clock, event bus, state and the devices in view; ``emit`` is the one way to speak."""

    __slots__ = ("_devices", "clock", "emit", "events", "state")

    def __init__(
        self,
        *,
        clock: ClockProtocol,
        events: EventBus,
        state: StateStore,
        devices: Callable[[], Mapping[str, DeviceStatus]],
    ) -> None:
        self.clock = clock
        self.events = events
        self.state = state
        self._devices = devices
        # ``ctx.emit(message)`` is the bus's own emit, bound once: one call less per message.
        self.emit: Callable[[Message], Event[Message]] = events.emit

    def devices(self) -> dict[str, DeviceStatus]:
        """The runtime's devices by id, in attach order: a snapshot, not the devices."""
        return dict(self._devices())
