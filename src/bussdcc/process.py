"""Processes and Interfaces: synchronous, event-driven logic inside the total order."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bussdcc.context import Context
    from bussdcc.event import Event
    from bussdcc.message import Message


class Process:
    """Receives every event, one at a time, in the runtime's single order."""

    name: str = "process"

    def attach(self, ctx: Context) -> None:
        return None

    def start(self, ctx: Context) -> None:
        return None

    def handle_event(self, ctx: Context, evt: Event[Message]) -> None:
        return None

    def stop(self, ctx: Context) -> None:
        return None

    def detach(self) -> None:
        return None


class Interface(Process):
    """A process by role: adapts the outside world (HTTP, UI, CLI) to messages."""

    name: str = "interface"
