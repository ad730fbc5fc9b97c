"""Context: the small set of capabilities every component receives."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bussdcc.clock import ClockProtocol
from bussdcc.event import Event, EventBus
from bussdcc.message import Message
from bussdcc.state import StateStore

if TYPE_CHECKING:
    from bussdcc.runtime import Runtime


class Context:
    """Clock, event bus, state and the runtime; ``emit`` is the one way to speak."""

    __slots__ = ("clock", "emit", "events", "runtime", "state")

    def __init__(
        self, *, clock: ClockProtocol, events: EventBus, state: StateStore, runtime: Runtime
    ) -> None:
        self.clock = clock
        self.events = events
        self.state = state
        self.runtime = runtime
        # ``ctx.emit(message)`` is the bus's own emit, bound once: one call less per message.
        self.emit: Callable[[Message], Event[Message]] = events.emit
