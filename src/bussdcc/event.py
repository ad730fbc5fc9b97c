"""Events and the EventBus: one total order, run-to-completion delivery.

Every emitted message becomes an ``Event`` with a sequence number taken under one lock,
so all subscribers see all events in the same order. Delivery is run-to-completion:
an event emitted from inside a handler is queued and delivered after the current event
has reached every subscriber, never depth-first. Whichever thread finds the bus idle
drains the queue (no thread hand-off on the fast path); other emitters only enqueue.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Generic, TypeVar

from bussdcc.clock import ClockProtocol, SystemClock
from bussdcc.message import EventSubscriberError, Message, Severity

M = TypeVar("M", bound=Message, covariant=True)

log = logging.getLogger("bussdcc.event")


@dataclass(frozen=True, slots=True)
class Event(Generic[M]):
    """A message stamped with wall time, monotonic time and its place in the total order."""

    payload: M
    time: datetime
    monotonic: float
    seq: int

    @property
    def name(self) -> str:
        return self.payload.name

    @property
    def severity(self) -> Severity:
        return self.payload.severity

    @property
    def data(self) -> dict[str, Any]:
        return self.payload.to_dict()

    def to_record(self) -> dict[str, Any]:
        """The seed's line format: ``{"time", "name", "data"}``."""
        return {"time": self.time.isoformat(), "name": self.name, "data": self.data}


Handler = Callable[[Event[Message]], None]

# The hot path builds events through the slot descriptors: same frozen Event, but about
# half the cost of the dataclass __init__ (which goes through object.__setattr__).
_new_object = object.__new__
_set_payload = vars(Event)["payload"].__set__
_set_time = vars(Event)["time"].__set__
_set_monotonic = vars(Event)["monotonic"].__set__
_set_seq = vars(Event)["seq"].__set__


def _clock_readers(
    clock: ClockProtocol,
) -> tuple[Callable[[], datetime], Callable[[], float]]:
    """The clock's two readers, bound once (the host's clocks directly, without a hop)."""
    if type(clock) is SystemClock:
        return partial(datetime.now, UTC), time.monotonic
    return clock.now_utc, clock.monotonic


class Subscription:
    """A handle returned by ``EventBus.subscribe``; ``cancel()`` stops delivery."""

    __slots__ = ("_bus", "cancelled", "handler", "name")

    def __init__(self, bus: EventBus, handler: Handler, name: str) -> None:
        self._bus = bus
        self.handler = handler
        self.name = name
        self.cancelled = False

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            self._bus._remove(self)

    def __repr__(self) -> str:
        return f"<Subscription {self.name}{' cancelled' if self.cancelled else ''}>"


class EventBus:
    """Synchronous, thread-safe, totally ordered in-process event bus."""

    def __init__(self, clock: ClockProtocol | None = None) -> None:
        self.clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._idle_waiters = 0
        self._queue: deque[Event[Message]] = deque()
        self._subs: tuple[Subscription, ...] = ()
        self._dispatching = False
        self._seq = 0
        self.delivered_seq = 0
        """Sequence number of the last event delivered to every subscriber."""

    @property
    def clock(self) -> ClockProtocol:
        return self._clock

    @clock.setter
    def clock(self, clock: ClockProtocol) -> None:
        self._clock = clock
        self._now_utc, self._monotonic = _clock_readers(clock)

    # -- subscriptions ------------------------------------------------------------

    def subscribe(self, handler: Handler, *, name: str | None = None) -> Subscription:
        """Deliver every event to ``handler`` (in subscription order) until cancelled."""
        label = name or str(getattr(handler, "__qualname__", repr(handler)))
        sub = Subscription(self, handler, label)
        with self._lock:
            self._subs = (*self._subs, sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            self._subs = tuple(s for s in self._subs if s is not sub)

    # -- emission -----------------------------------------------------------------

    def emit(self, message: Message) -> Event[Message]:
        """Stamp ``message`` into the total order and deliver it (now or after the current one).

        The caller that finds the bus idle delivers, then drains whatever was queued
        meanwhile (by its own handlers or other threads); everyone else only enqueues.
        """
        lock = self._lock
        with lock:
            self._seq = seq = self._seq + 1
            evt: Event[Message] = _new_object(Event)
            _set_payload(evt, message)
            _set_time(evt, self._now_utc())
            _set_monotonic(evt, self._monotonic())
            _set_seq(evt, seq)
            if self._dispatching:
                self._queue.append(evt)
                return evt
            self._dispatching = True
        first = evt
        queue = self._queue
        try:
            while True:
                for sub in self._subs:
                    if sub.cancelled:
                        continue
                    try:
                        sub.handler(evt)
                    except Exception as exc:
                        self._report(sub.name, evt, exc)
                self.delivered_seq = evt.seq
                with lock:
                    if not queue:
                        self._dispatching = False
                        if self._idle_waiters:
                            self._idle.notify_all()
                        return first
                    evt = queue.popleft()
        except BaseException:
            # KeyboardInterrupt/SystemExit in a handler: hand dispatch to the next emitter.
            with lock:
                self._dispatching = False
            raise

    def _report(self, who: str, evt: Event[Message], exc: Exception) -> None:
        """Turn a handler failure into a message, never recursively for error-level events."""
        if evt.payload.severity >= Severity.ERROR:
            log.error(
                "%s failed while handling %s (#%d): %r", who, evt.name, evt.seq, exc, exc_info=exc
            )
            return
        self.emit(
            EventSubscriberError(
                subscriber=who,
                error=repr(exc),
                event=evt.name,
                traceback="".join(traceback.format_exception(exc)),
            )
        )

    # -- introspection ------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    @property
    def last_seq(self) -> int:
        return self._seq

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until the queue is empty and nobody is dispatching (for tests and shutdown)."""
        with self._lock:
            self._idle_waiters += 1
            try:
                return self._idle.wait_for(
                    lambda: not self._dispatching and not self._queue, timeout
                )
            finally:
                self._idle_waiters -= 1
