"""What is worth telling the owner, in a title and a sentence: :class:`Notice`.

:class:`NoticeWatcher` reads the events the runtime delivers and answers the notices
they make:

- ``system.health.changed`` to another level (not the first evaluation at start, and
  not a new reason at the same level): "pi-kitchen: health critical" with the reasons;
  back to ok: "pi-kitchen: healthy again".
- ``system.throttling.updated`` where under-voltage or throttling (``NOTIFIED_FLAGS``)
  starts or ends: "pi-kitchen: under-voltage" with what it means and what to do, then
  "pi-kitchen: under-voltage ended" with how long it lasted. A flag already set in the
  first reading after start is a start (the owner should know); a clear one is not news.

It keeps only the flags of each device and when each episode started (monotonic), and
is called on the dispatch thread: no I/O here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from bussdcc_system import messages as m
from bussdcc_system import throttling_flags
from bussdcc_system.formatting import duration, iso_time

if TYPE_CHECKING:
    from bussdcc import Event, Message

__all__ = ["NOTIFIED_FLAGS", "Notice", "NoticeWatcher"]

NOTIFIED_FLAGS: Final[tuple[throttling_flags.ThrottlingFlag, ...]] = (
    throttling_flags.UNDER_VOLTAGE,
    throttling_flags.THROTTLED,
)
"""The power episodes that make a notice when they start and end."""


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing to tell: ``kind`` is ``health`` or a flag field (``under_voltage``)."""

    kind: str
    level: str
    """``ok``, ``warning`` or ``critical``: how loud (ntfy priority)."""
    title: str
    text: str
    time: str
    """When it happened (ISO 8601, UTC)."""

    def to_json(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "level": self.level,
            "title": self.title,
            "text": self.text,
            "time": self.time,
        }


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


class NoticeWatcher:
    """Events in, notices out (see the module doc)."""

    def __init__(
        self, hostname: Callable[[], str], *, health: bool = True, power: bool = True
    ) -> None:
        self.hostname = hostname
        self.health = health
        self.power = power
        self._flags: dict[tuple[str, str], float] = {}  # (device, flag) -> started (monotonic)
        self._seen: set[str] = set()  # devices with a first reading

    def notices(self, evt: Event[Message]) -> list[Notice]:
        payload = evt.payload
        if isinstance(payload, m.HealthChanged) and self.health:
            return self._health(payload, iso_time(evt.time))
        if isinstance(payload, m.ThrottlingUpdated):
            found = self._power(payload, evt.monotonic, iso_time(evt.time))
            return found if self.power else []
        return []

    def _health(self, msg: m.HealthChanged, when: str) -> list[Notice]:
        if msg.previous is None or msg.previous == msg.level:
            return []
        host = self.hostname()
        if msg.level == "ok":
            return [Notice("health", "ok", f"{host}: healthy again", f"was {msg.previous}", when)]
        text = "; ".join(msg.reasons) or f"health is {msg.level}"
        return [Notice("health", msg.level, f"{host}: health {msg.level}", text, when)]

    def _power(self, msg: m.ThrottlingUpdated, now: float, when: str) -> list[Notice]:
        out: list[Notice] = []
        first = msg.device not in self._seen
        self._seen.add(msg.device)
        for flag in NOTIFIED_FLAGS:
            key = (msg.device, flag.field)
            on = getattr(msg, flag.field)
            if on and key not in self._flags:
                self._flags[key] = now
                hint = f" ({flag.health_hint})" if flag.health_hint else ""
                since = " (already when monitoring started)" if first else ""
                out.append(
                    Notice(
                        flag.field,
                        flag.health_level,
                        f"{self.hostname()}: {flag.past_words}",
                        f"{_capital(flag.now_words)}{hint}{since}",
                        when,
                    )
                )
            elif on is False and key in self._flags:
                lasted = duration(max(0.0, now - self._flags.pop(key)))
                out.append(
                    Notice(
                        flag.field,
                        "ok",
                        f"{self.hostname()}: {flag.past_words} ended",
                        f"{_capital(flag.past_words)} ended after {lasted}",
                        when,
                    )
                )
        return out

    def forget(self, device: str) -> None:
        """A device gone (detached): its episodes cannot be seen to end."""
        for key in [k for k in self._flags if k[0] == device]:
            del self._flags[key]
        self._seen.discard(device)
