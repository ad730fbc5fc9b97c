"""Replay: feed a recorded range back through a bussdcc Runtime, at a chosen speed.

``ReplayClock`` is a ``ClockProtocol`` whose wall time is the recorded time: it starts
at the first replayed record and runs ``speed`` times as fast as its base clock
(``SystemClock`` live, ``SimClock`` in tests). The runtime built on it stamps every
replayed event with (very nearly, exactly on a SimClock) its recorded time, so the
dashboard shows a past day as if live. ``replay()`` emits the records in recorded
order, each rebuilt as its typed message when the name is known and its data round-trips
(``messages.py`` and the kernel's vocabulary), otherwise as a ``RecordedMessage`` whose
``to_dict()`` is the recorded data.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Union

from bussdcc import ClockProtocol, Message, Severity, SystemClock
from bussdcc_system.history.reader import Record
from bussdcc_system.history.record_format import HEADER_NAME
from bussdcc_system.history.times import TimeLike, to_epoch


class ReplayClock:
    """Recorded time at ``speed`` x the base clock; ``seek`` jumps forward over gaps."""

    def __init__(
        self, start: TimeLike, *, speed: float = 1.0, base: ClockProtocol | None = None
    ) -> None:
        t = to_epoch(start)
        if t is None:
            raise ValueError("a replay clock needs a start time")
        if not speed > 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        self.base: ClockProtocol = base or SystemClock()
        self._lock = threading.Lock()
        self._wall = t
        self._mono = 0.0
        self._anchor = self.base.monotonic()

    def _elapsed(self) -> float:
        return (self.base.monotonic() - self._anchor) * self.speed

    def time(self) -> float:
        with self._lock:
            return self._wall + self._elapsed()

    def now_utc(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def monotonic(self) -> float:
        with self._lock:
            return self._mono + self._elapsed()

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> bool:
        return self.base.sleep(max(0.0, seconds) / self.speed, cancel)

    def adopt(self, thread: threading.Thread) -> None:
        self.base.adopt(thread)

    def anchor(self, t: float) -> None:
        """Set the recorded time to ``t`` now (before a replay starts; may go back)."""
        with self._lock:
            self._mono += self._elapsed()
            self._wall = t
            self._anchor = self.base.monotonic()

    def seek(self, t: float) -> None:
        """Move the recorded time forward to ``t`` (never backwards)."""
        with self._lock:
            elapsed = self._elapsed()
            now = self._wall + elapsed
            if t <= now:
                return
            self._mono += elapsed + (t - now)
            self._wall = t
            self._anchor = self.base.monotonic()


# -- rebuilding messages ----------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class RecordedMessage(Message):
    """A recorded event whose type is not known here: its data as recorded."""

    name = "history.recorded"
    data: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)


_recorded_types: dict[str, type[RecordedMessage]] = {}
_registry: dict[str, type[Message]] | None = None
_hints: dict[type, dict[str, Any]] = {}


def recorded_message(name: str, data: Mapping[str, Any]) -> RecordedMessage:
    cls = _recorded_types.get(name)
    if cls is None:
        cls = typing.cast(
            type[RecordedMessage],
            type(
                f"Recorded_{name.replace('.', '_')}",
                (RecordedMessage,),
                {"__slots__": (), "name": name, "severity": Severity.INFO, "__module__": __name__},
            ),
        )
        _recorded_types[name] = cls
    return cls(dict(data))


def _known_types() -> dict[str, type[Message]]:
    global _registry
    if _registry is None:
        # the message types to know: the kernel's, the sink's and the appliance's
        import bussdcc.message  # noqa: F401
        import bussdcc_system.history.failure_reports
        import bussdcc_system.messages  # noqa: F401

        found: dict[str, type[Message]] = {}
        todo: list[type[Message]] = list(Message.__subclasses__())
        while todo:
            cls = todo.pop(0)
            todo.extend(cls.__subclasses__())
            if issubclass(cls, RecordedMessage) or not _importable(cls):
                continue
            found.setdefault(cls.name, cls)  # base classes come first
        _registry = found
    return _registry


def _importable(cls: type) -> bool:
    """The class its module exports (``dataclass(slots=True)`` leaves a stale twin)."""
    module = sys.modules.get(cls.__module__)
    return module is not None and getattr(module, cls.__qualname__, None) is cls


def _type_hints(cls: type) -> dict[str, Any]:
    hints = _hints.get(cls)
    if hints is None:
        hints = typing.get_type_hints(cls)
        _hints[cls] = hints
    return hints


def _convert(tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is Union or origin is types.UnionType:
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value)
            except (TypeError, ValueError, KeyError):
                continue
        raise TypeError(f"{value!r} does not fit {tp}")
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, list | tuple):
            raise TypeError("expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        return tuple(_convert(a, v) for a, v in zip(args, value, strict=True))
    if origin is list:
        (arg,) = typing.get_args(tp)
        return [_convert(arg, v) for v in value]
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise TypeError("expected an object")
        return _build(tp, value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float, str, bool) and not isinstance(value, tp):
        raise TypeError(f"{value!r} is not {tp.__name__}")
    return value


def _build(cls: type, data: Mapping[str, Any]) -> Any:
    hints = _type_hints(cls)
    kwargs = {f.name: _convert(hints[f.name], data[f.name]) for f in dataclasses.fields(cls)}
    return cls(**kwargs)


def rebuild_message(name: str, data: Mapping[str, Any]) -> Message:
    """The typed message a record came from, or a ``RecordedMessage`` with its data."""
    cls = _known_types().get(name)
    if cls is not None:
        try:
            msg = _rebuild_typed(cls, data)
            if msg.to_dict() == dict(data):
                return msg
        except Exception:
            pass
    return recorded_message(name, data)


def _rebuild_typed(cls: type[Message], data: Mapping[str, Any]) -> Message:
    from bussdcc_system import messages as m

    if issubclass(cls, m.ThrottlingUpdated):
        return m.throttling_updated(
            device=data["device"],
            source=data["source"],
            raw=data["raw"],
            flags={f: data.get(f) for f in m.THROTTLING_FLAGS},
            changed=tuple(data["changed"]),
        )
    if issubclass(cls, m.HealthChanged):
        return m.health_changed(data["level"], data["previous"], tuple(data["reasons"]))
    msg = _build(cls, data)
    assert isinstance(msg, Message)
    return msg


# -- the replay loop ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplayResult:
    events: int
    gaps_skipped: int
    first: float | None
    last: float | None
    cancelled: bool


def replay(
    emit: Callable[[Message], object],
    clock: ReplayClock,
    records: Iterable[Record],
    *,
    max_gap: float | None = None,
    cancel: threading.Event | None = None,
) -> ReplayResult:
    """Emit ``records`` in order, each when ``clock`` reaches its recorded time.

    Gaps longer than ``max_gap`` seconds (a night the Pi was off) are skipped by
    moving the clock forward. Returns early (``cancelled``) when ``cancel`` is set.
    """
    events = gaps = 0
    first: float | None = None
    last: float | None = None
    for rec in records:
        if rec.name == HEADER_NAME:
            continue
        wait = rec.time - clock.time()
        if max_gap is not None and wait > max_gap:
            clock.seek(rec.time)
            gaps += 1
            wait = 0.0
        if wait > 0 and clock.sleep(wait, cancel):
            return ReplayResult(events, gaps, first, last, True)
        if cancel is not None and cancel.is_set():
            return ReplayResult(events, gaps, first, last, True)
        clock.seek(rec.time)
        emit(rebuild_message(rec.name, rec.data))
        events += 1
        first = rec.time if first is None else first
        last = rec.time
    return ReplayResult(events, gaps, first, last, False)
