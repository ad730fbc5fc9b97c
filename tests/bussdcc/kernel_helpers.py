"""Helpers for the kernel tests: test messages and recorders of what flows."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from bussdcc import Context, Event, Message, Process


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
    """A process that keeps every event it receives, in order."""

    def __init__(self, name: str = "recorder") -> None:
        self.name = name
        self.events: list[Event[Message]] = []
        self._lock = threading.Lock()

    def handle_event(self, ctx: Context, evt: Event[Message]) -> None:
        with self._lock:
            self.events.append(evt)

    def names(self) -> list[str]:
        with self._lock:
            return [e.name for e in self.events]

    def of(self, name: str) -> list[Event[Message]]:
        with self._lock:
            return [e for e in self.events if e.name == name]

    def data(self, name: str) -> list[dict[str, Any]]:
        return [e.data for e in self.of(name)]


class BusLog:
    """A bus subscriber (sees everything, including what is emitted before boot)."""

    def __init__(self) -> None:
        self.events: list[Event[Message]] = []
        self._lock = threading.Lock()

    def __call__(self, evt: Event[Message]) -> None:
        with self._lock:
            self.events.append(evt)

    def names(self) -> list[str]:
        with self._lock:
            return [e.name for e in self.events]

    def of(self, name: str) -> list[Event[Message]]:
        with self._lock:
            return [e for e in self.events if e.name == name]

    def data(self, name: str) -> list[dict[str, Any]]:
        return [e.data for e in self.of(name)]
