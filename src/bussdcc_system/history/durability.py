"""Durability by importance: which events must be on disk within a second.

What a person asks about after a power cut is what mattered: a message at WARNING or
above (under-voltage, health changes, failures) and the kernel's lifecycle messages
(runtime, process, service and device started, stopped, failed). Those are *urgent*:
the writer writes and syncs them within a second (``sink.py``). Routine telemetry waits
in memory for the next flush (``history.flush_interval``), because on an SD card each
small ``write()`` costs a whole ext4 journal commit, whatever its size.

The message that ends an urgent state is urgent too: the next message of a name whose
last one was urgent (the all-clear after an under-voltage, health back to ok), since an
episode needs its end as much as its start.
"""

from __future__ import annotations

from bussdcc import Event, Message, Severity, message
from bussdcc_system.history.lru import Lru

URGENT_SEVERITY = Severity.WARNING
"""Messages at this severity and above are urgent."""

LIFECYCLE_NAMES: frozenset[str] = frozenset(
    cls.name
    for cls in vars(message).values()
    if isinstance(cls, type)
    and issubclass(cls, Message)
    and cls is not Message
    and cls.__module__ == message.__name__
    and cls.severity > Severity.DEBUG  # not the liveness heartbeat
)
"""The kernel's own messages (``bussdcc.message``): runtime, process, service, device
lifecycle, signals and reloads."""


class Importance:
    """Tells on the dispatch thread whether an event is urgent (one instance per sink)."""

    __slots__ = ("_raised",)

    def __init__(self) -> None:
        self._raised: Lru[str, bool] = Lru(1024)
        """Names whose last message was urgent by severity (bounded: names come from
        whatever is emitted)."""

    def urgent(self, evt: Event[Message]) -> bool:
        name = evt.name
        if evt.severity >= URGENT_SEVERITY:
            self._raised.put(name, True)
            return True
        if name in LIFECYCLE_NAMES:
            return True
        if self._raised.get(name):
            self._raised.put(name, False)  # the all-clear
            return True
        return False
