"""The dashboard's recent events, each in a sentence a person reads.

The list shows what the journal keeps (warnings and worse, health changes, devices,
reloads, starts): ``event_sentence(name, data)`` turns one into "Health is critical:
Under-voltage detected now (check the power supply and cable)" or "The throttling
device failed: vcgencmd is not installed", never into a field dump such as
``changes=['devices: added throttling (throttling)']``. A message it has no sentence
for still reads as words: its name without dots, then its fields as "field: value".
Durations and sizes go through ``bussdcc_system.formatting``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from bussdcc_system import throttling_flags
from bussdcc_system.formatting import duration, exact_duration

MAX_SENTENCE: Final = 240
"""Characters at most (an error message can be a page long); longer ends in "…"."""

Data = Mapping[str, Any]


def _f(d: Data, key: str, default: str = "?") -> str:
    """A field as text; ``default`` when it is absent or empty."""
    value = d.get(key)
    return default if value in (None, "") else str(value)


def _kind(kind: Any) -> str:
    return str(kind or "device").replace("_", " ")


def _first_and_more(items: Sequence[Any], noun: str) -> str:
    if not items:
        return ""
    more = len(items) - 1
    return str(items[0]) + (f" (and {more} more {noun}{'s' if more > 1 else ''})" if more else "")


def _health(d: Data) -> str:
    level, previous = str(d.get("level") or "unknown"), d.get("previous")
    reasons = list(d.get("reasons") or [])
    if level == "ok":
        if previous in (None, "ok"):
            return "Health is ok: every reading is within its limits"
        return "Health is back to ok: every reading is within its limits"
    head = (
        f"Health is {level}" if previous in (None, level) else f"Health went {previous} → {level}"
    )
    return head + (": " + _first_and_more(reasons, "reason") if reasons else "")


def _throttling(d: Data) -> str:
    now = [flag.now_words for flag in throttling_flags.FLAGS if d.get(flag.field)]
    if not now:
        return "Power and clocks are fine again"
    text = "; ".join(now)
    return text[0].upper() + text[1:]


def _service(verb: str) -> Callable[[Data], str]:
    def words(d: Data) -> str:
        service, why = _f(d, "service"), _f(d, "error", "no reason given")
        if verb == "error":
            return f"Service {service} failed in {_f(d, 'phase', 'tick')}: {why}"
        if verb == "restart":
            return (
                f"Service {service} restarts in {exact_duration(float(d.get('delay') or 0))}"
                f" (attempt {_f(d, 'attempt')}): {_f(d, 'reason', 'no reason given')}"
            )
        if verb == "failure":
            tail = "; the daemon stops (systemd restarts it)" if d.get("critical") else ""
            return f"Service {service} gave up: {why}{tail}"
        if verb == "stalled":
            stuck = duration(float(d.get("running_for") or 0))
            allowed = exact_duration(float(d.get("deadline") or 0))
            return f"Service {service} has been stuck for {stuck} (allowed: {allowed})"
        return f"Service {service} recovered after {duration(float(d.get('stalled_for') or 0))}"

    return words


def _device(state: str) -> Callable[[Data], str]:
    def words(d: Data) -> str:
        head = f"The {_f(d, 'device')} device ({_kind(d.get('kind'))})"
        if state == "failed":
            return f"{head} is not working: {_f(d, 'error', 'no reason given')}"
        return f"{head} {state}"

    return words


def _config_reloaded(d: Data) -> str:
    changes = [str(c) for c in d.get("changes") or []]
    if not changes:
        return "Configuration reloaded: nothing changed"
    return "Configuration reloaded: " + "; ".join(changes)


def _config_failed(d: Data) -> str:
    errors = list(d.get("errors") or [])
    return "Configuration reload failed, the running one stays: " + (
        _first_and_more(errors, "error") or "no reason given"
    )


def _process_error(d: Data) -> str:
    where = f" handling {_f(d, 'event')}" if d.get("event") else f" in {_f(d, 'phase', 'a call')}"
    return f"Process {_f(d, 'process')} failed{where}: {_f(d, 'error', 'no reason given')}"


def _history_failed(d: Data) -> str:
    why = _f(d, "reason", _f(d, "error", "no reason given"))
    return (
        f"History cannot be written to {_f(d, 'directory')}: {why}"
        f" ({_f(d, 'pending', '0')} events wait in memory)"
    )


def _history_resumed(d: Data) -> str:
    lost = f"; {_f(d, 'dropped')} events were lost" if d.get("dropped") else ""
    return f"History is written again after {duration(float(d.get('failed_for') or 0))}{lost}"


def _history_lost(d: Data) -> str:
    how = "deleted" if d.get("how") == "deleted" else "replaced"
    text = f"The history directory {_f(d, 'directory')} was {how} while running and was made again"
    if d.get("segment"):
        text += f"; the open segment {_f(d, 'segment')} was carried over"
    return text


SENTENCES: Final[dict[str, Callable[[Data], str]]] = {
    "system.health.changed": _health,
    "system.throttling.updated": _throttling,
    "device.attached": _device("is working"),
    "device.failed": _device("failed"),
    "device.detached": _device("was removed"),
    "config.reloaded": _config_reloaded,
    "config.reload_failed": _config_failed,
    "runtime.booted": lambda d: f"The daemon started (version {_f(d, 'version')})",
    "runtime.boot_failed": lambda d: (
        f"The daemon could not start {_f(d, 'component', 'a component')}: {_f(d, 'error')}"
    ),
    "runtime.shutting_down": lambda d: (
        "The daemon is stopping" + (f": {_f(d, 'reason')}" if d.get("reason") else "")
    ),
    "runtime.stop_timeout": lambda d: (
        f"{_f(d, 'component', 'A component')} did not stop within"
        f" {exact_duration(float(d.get('timeout') or 0))}"
    ),
    "service.error": _service("error"),
    "service.restart": _service("restart"),
    "service.failure": _service("failure"),
    "service.stalled": _service("stalled"),
    "service.recovered": _service("recovered"),
    "process.error": _process_error,
    "event.subscriber_error": lambda d: (
        f"A subscriber ({_f(d, 'subscriber')}) failed on {_f(d, 'event')}: {_f(d, 'error')}"
    ),
    "history.write_failed": _history_failed,
    "history.write_resumed": _history_resumed,
    "history.directory_lost": _history_lost,
    "history.dropped": lambda d: (
        f"History dropped {_f(d, 'dropped')} events: {_f(d, 'reason', 'no reason given')}"
    ),
    "daemon.watchdog_withheld": lambda d: (
        "Liveness check failing, systemd restarts the daemon unless it recovers: "
        + (_first_and_more(list(d.get("reasons") or []), "reason") or "no reason given")
    ),
    "daemon.watchdog_resumed": lambda d: "Liveness check passes again",
}
"""Message name -> its sentence, from the message's data."""


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list | tuple):
        return ", ".join(_value(x) for x in v)
    if isinstance(v, Mapping):
        return ", ".join(f"{k} {_value(x)}" for k, x in v.items())
    return str(v)


def generic_sentence(name: str, data: Data) -> str:
    """A message without a sentence of its own: its name in words, then its fields."""
    head = name.replace(".", " ").replace("_", " ")
    fields = [
        f"{k.replace('_', ' ')}: {_value(v)}"
        for k, v in data.items()
        if k not in ("traceback", "changed") and v not in (None, "", [], {}, ())
    ]
    text = head[0].upper() + head[1:] if head else "An event"
    return text + (" (" + "; ".join(fields) + ")" if fields else "")


def event_sentence(name: str, data: Data) -> str:
    """One event in a sentence (at most ``MAX_SENTENCE`` characters)."""
    words = SENTENCES.get(name)
    try:
        text = words(data) if words is not None else generic_sentence(name, data)
    except (TypeError, ValueError):  # a field of an unexpected type: still say something
        text = generic_sentence(name, data)
    return text if len(text) <= MAX_SENTENCE else text[: MAX_SENTENCE - 1] + "…"


__all__ = ["MAX_SENTENCE", "SENTENCES", "event_sentence", "generic_sentence"]
