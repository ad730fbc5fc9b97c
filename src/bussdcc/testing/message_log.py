"""MessageLog: what was delivered, in order, for a test to read and wait on.

Subscribe one to a bus (``runtime.events.subscribe(log)``: it sees everything, including
what is emitted before boot) or feed it from a process's ``handle_event`` (it then sees
what the runtime delivers to that process). It is thread-safe: services and other
threads may deliver while the test reads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from bussdcc.event import Event
from bussdcc.message import Message
from bussdcc.testing.simclock import SimClock

M = TypeVar("M", bound=Message)

Match = str | type[Message] | Callable[[Event[Message]], bool]
"""What ``wait_for`` looks for: a message name, a message class, or a predicate on events."""


def _matcher(match: Match) -> Callable[[Event[Message]], bool]:
    if isinstance(match, str):
        return lambda evt: evt.name == match
    if isinstance(match, type):
        cls = match
        return lambda evt: isinstance(evt.payload, cls)
    return match


class MessageLog:
    """Every event delivered to it, in delivery order."""

    def __init__(self) -> None:
        self._events: list[Event[Message]] = []
        self._changed = threading.Condition()

    def __call__(self, evt: Event[Message]) -> None:
        """Record one event (the bus subscriber and ``handle_event`` entry point)."""
        with self._changed:
            self._events.append(evt)
            self._changed.notify_all()

    # -- reading (each a copy: the log goes on filling) ---------------------------------

    @property
    def events(self) -> list[Event[Message]]:
        with self._changed:
            return list(self._events)

    @property
    def messages(self) -> list[Message]:
        """The payloads, without the event's time and sequence number."""
        return [e.payload for e in self.events]

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.events]

    def named(self, name: str) -> list[Event[Message]]:
        return [e for e in self.events if e.name == name]

    def data(self, name: str) -> list[dict[str, Any]]:
        """The fields (as JSON-safe data) of every message called ``name``."""
        return [e.data for e in self.named(name)]

    def of_type(self, cls: type[M]) -> list[M]:
        """Every message that is a ``cls``, typed as one."""
        return [e.payload for e in self.events if isinstance(e.payload, cls)]

    def clear(self) -> None:
        with self._changed:
            self._events.clear()

    def __len__(self) -> int:
        with self._changed:
            return len(self._events)

    def __iter__(self) -> Iterator[Event[Message]]:
        return iter(self.events)

    # -- waiting ------------------------------------------------------------------------

    def wait_for(
        self,
        match: Match,
        *,
        count: int = 1,
        timeout: float = 10.0,
        clock: SimClock | None = None,
        step: float = 0.1,
    ) -> Event[Message]:
        """The ``count``-th matching event (those already recorded count), once there.

        Without ``clock``, wait up to ``timeout`` real seconds for other threads to
        deliver it. With a ``SimClock``, move virtual time instead: advance ``step``
        seconds at a time, up to ``timeout`` virtual seconds, looking after each step
        has settled. Either way, fail with ``AssertionError`` naming what was seen.
        """
        if count < 1:
            raise ValueError("count starts at 1")
        matches = _matcher(match)

        def found() -> Event[Message] | None:
            hits = [e for e in self._events if matches(e)]
            return hits[count - 1] if len(hits) >= count else None

        if clock is None:
            with self._changed:
                if self._changed.wait_for(lambda: found() is not None, timeout):
                    evt = found()
                    assert evt is not None
                    return evt
        else:
            end = clock.monotonic() + timeout
            while True:
                with self._changed:
                    evt = found()
                if evt is not None:
                    return evt
                remaining = end - clock.monotonic()
                if remaining <= 0:
                    break
                clock.advance(min(step, remaining))
        unit = "virtual" if clock is not None else "real"
        raise AssertionError(
            f"no {_describe(match)} (#{count}) within {timeout}s of {unit} time; "
            f"delivered: {self.names}"
        )


def _describe(match: Match) -> str:
    if isinstance(match, str):
        return f"{match!r}"
    if isinstance(match, type):
        return match.__name__
    return f"event matching {getattr(match, '__name__', repr(match))}"
