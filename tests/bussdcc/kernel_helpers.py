"""Helpers for the kernel tests: test messages and a process that records what it gets."""

from __future__ import annotations

from dataclasses import dataclass

from bussdcc import Context, Event, Message, Process
from bussdcc.testing import MessageLog


@dataclass(slots=True, frozen=True)
class Ping(Message):
    """A test message: ``source`` says who emitted it, ``n`` its number there."""

    name = "test.ping"
    source: str = ""
    n: int = 0


@dataclass(slots=True, frozen=True)
class Nested(Message):
    """Emitted from inside a handler while handling event ``parent``."""

    name = "test.nested"
    parent: int = 0
    by: str = ""


class Recorder(Process):
    """A process that logs what the runtime delivers to it (only once it has started)."""

    def __init__(self, name: str = "recorder") -> None:
        self.name = name
        self.log = MessageLog()

    def handle_event(self, ctx: Context, evt: Event[Message]) -> None:
        self.log(evt)
