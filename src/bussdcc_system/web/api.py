"""The JSON API: current state, health, history series, power episodes, one write action.

Everything is read-only except ``POST /api/led/test``, which needs ``Authorization:
Bearer <token>`` matching ``web.token``; with no token configured every write answers
403 with the reason. Parameters are validated and a bad one is a 400 that says which
and why; the OpenAPI description is ``/api/openapi.json``.
"""

from __future__ import annotations

import hmac
import logging
import math
import re
import typing
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from flask import Blueprint, Response, abort, jsonify, request

from bussdcc_system import messages as m
from bussdcc_system.web.core import Web, current_web
from bussdcc_system.web.episode_words import episode_words
from bussdcc_system.web.errors import json_error
from bussdcc_system.web.request_bodies import json_object_body

if TYPE_CHECKING:
    from collections.abc import Mapping

log = logging.getLogger("bussdcc_system.web")

api = Blueprint("api", __name__, url_prefix="/api")

RANGES: Final[dict[str, int]] = {
    "1h": 3600,
    "6h": 6 * 3600,
    "24h": 86400,
    "7d": 7 * 86400,
    "30d": 30 * 86400,
}
MAX_SPAN: Final = 400 * 86400
MAX_POINTS: Final = 1000
DEFAULT_POINTS: Final = 120
MAX_EPISODE_DAYS: Final = 90
OPENAPI_PATH: Final = Path(__file__).resolve().parent / "openapi.json"


def _bad(message: str) -> typing.NoReturn:
    abort(400, description=message)


# -- metric catalogue -----------------------------------------------------------------


def _numeric(annotation: Any) -> bool:
    text = str(annotation).replace(" ", "")
    return text in ("float", "int", "bool", "float|None", "int|None", "bool|None")


def _fields_of(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


_NESTED: Final[dict[str, tuple[type, ...]]] = {
    m.NetworkUsageUpdated.name: (m.InterfaceUsage,),
    m.IdentityUpdated.name: (m.Address,),
}
"""Messages with lists of records: their elements' fields are metrics too (summed, or
one element by name: ``interfaces.eth0.rx_bytes_per_s``)."""

CHARTS: Final[tuple[str, ...]] = (
    "system.cpu.usage.updated:percent",
    "system.cpu.usage.updated:freq_mhz",
    "system.memory.usage.updated:percent",
    "system.temperature.updated:celsius",
    "system.network.usage.updated:rx_bytes_per_s",
    "system.network.usage.updated:tx_bytes_per_s",
    "system.disk.io.updated:write_bytes_per_s",
    "system.disk.io.updated:read_bytes_per_s",
    "system.load.updated:load1",
    "system.disk.usage.updated[mount=/]:percent",
    "system.process.usage.updated:cpu_percent",
    "system.process.usage.updated:rss",
)
"""What the dashboard charts (always valid, whether or not history has them yet)."""


def known_metrics() -> list[str]:
    """``message.name:field`` for every numeric field of every telemetry message."""
    out = set(CHARTS)
    for name, cls in m.MESSAGE_TYPES.items():
        for f in fields(cls):
            if _numeric(f.type):
                out.add(f"{name}:{f.name}")
        for nested in _NESTED.get(name, ()):
            for f in fields(nested):
                if _numeric(f.type):
                    out.add(f"{name}:{f.name}")
    return sorted(out)


_METRIC_RE = re.compile(
    r"^(?P<name>[a-z0-9_.]{1,80})"
    r"(?:\[(?P<key>zone|mount|interface|device)=(?P<value>[A-Za-z0-9_./@+-]{1,100})\])?"
    r":(?P<path>[A-Za-z0-9_@.+/-]{1,150})$"
)


def _metric(value: str | None) -> str:
    """A metric the history can answer: a telemetry message and one of its fields."""
    if not value:
        _bad("parameter 'metric' is required, e.g. system.cpu.usage.updated:percent")
    match = _METRIC_RE.match(value)
    if match is None:
        _bad(
            "parameter 'metric' must look like 'message.name:field' or "
            "'message.name[mount=/]:field'"
        )
    name, path = match.group("name"), match.group("path")
    cls = m.MESSAGE_TYPES.get(name)
    if cls is None:
        _bad(
            f"unknown metric {value!r}: no telemetry message {name!r} "
            "(GET /api/history/metrics lists them)"
        )
    head = path.split(".", 1)[0]
    allowed = _fields_of(cls)
    for nested in _NESTED.get(name, ()):
        allowed |= _fields_of(nested)
    key = match.group("key")
    if head not in allowed or (key is not None and key not in _fields_of(cls)):
        _bad(
            f"unknown metric {value!r}: {name} has no field {head!r}"
            + (f" nor {key!r}" if key else "")
        )
    return value


def _time(name: str, value: str) -> float:
    try:
        t = float(value)
    except ValueError:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            _bad(f"parameter {name!r} must be POSIX seconds or an ISO 8601 time")
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        t = dt.timestamp()
    if not math.isfinite(t) or not 0 <= t < 1e11:
        _bad(f"parameter {name!r} is out of range")
    return t


def _int(name: str, value: str | None, default: int, lo: int, hi: int) -> int:
    if value is None:
        return default
    try:
        n = int(value)
    except ValueError:
        _bad(f"parameter {name!r} must be an integer")
    if not lo <= n <= hi:
        _bad(f"parameter {name!r} must be between {lo} and {hi}")
    return n


def _window(args: Mapping[str, str], now: float) -> tuple[float, float]:
    rng, start, end = args.get("range"), args.get("start"), args.get("end")
    if rng is not None and (start is not None or end is not None):
        _bad("give either 'range' or 'start'/'end', not both")
    if start is None and end is None:
        rng = rng or "1h"
        if rng not in RANGES:
            _bad(f"parameter 'range' must be one of {', '.join(RANGES)}")
        return now - RANGES[rng], now
    t1 = _time("end", end) if end is not None else now
    t0 = _time("start", start) if start is not None else t1 - RANGES["1h"]
    if t1 <= t0:
        _bad("'end' must be after 'start'")
    if t1 - t0 > MAX_SPAN:
        _bad(f"the time window may span at most {MAX_SPAN // 86400} days")
    return t0, t1


# -- history adapter ------------------------------------------------------------------


def _history_dir(web: Web) -> str:
    if not web.history_dir:
        abort(503, description="history is disabled in the configuration (history.enabled)")
    return web.history_dir


def query_history(web: Web, metric: str, start: float, end: float, points: int) -> dict[str, Any]:
    """The series as JSON: epoch-aligned buckets of ``step`` seconds (see history.query)."""
    from bussdcc_system.history.query import query_series

    series = query_series(_history_dir(web), metric, start, end, points)
    return {
        "metric": metric,
        "start": series.start,
        "end": series.end,
        "step": series.step,
        "points": len(series.buckets),
        "buckets": [
            {"t": b.start, "min": _r(b.min), "avg": _r(b.avg), "max": _r(b.max), "count": b.count}
            for b in series.buckets
        ],
    }


def _r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def recent_power_episodes(web: Web, *, days: int) -> list[dict[str, Any]]:
    """Under-voltage and throttling episodes of the last ``days``, newest first; [] when
    history is off or unreadable (the page must render anyway)."""
    if not web.history_dir:
        return []
    try:
        return power_episodes(web, web.wall() - days * 86400, web.wall())
    except Exception:
        log.exception("reading power episodes from %s failed", web.history_dir)
        return []


def power_episodes(web: Web, start: float, end: float) -> list[dict[str, Any]]:
    """Episodes overlapping ``[start, end)``, newest first, each with ``text`` (the
    sentence the dashboard shows for it) and ``words``: the table's cells (``what``,
    ``start``, ``end``, ``lasted``) and whether its start was ``observed``."""
    from bussdcc_system.history.episodes import find_episodes

    found = find_episodes(_history_dir(web), start, end)
    now = web.wall()
    out = []
    for episode in sorted(found, key=lambda e: e.start, reverse=True):
        record = episode.to_dict()
        words = episode_words(record, now=now)
        record["text"] = None if words is None else words.sentence
        record["words"] = (
            None
            if words is None
            else {
                "what": words.what,
                "start": words.start,
                "end": words.end,
                "lasted": words.lasted,
                "observed": words.observed,
            }
        )
        out.append(record)
    return out


# -- routes -----------------------------------------------------------------------------


@api.get("/state")
def state() -> Response:
    s = current_web().state
    return jsonify({"system": s.get("system") or {}, "devices": s.get("devices") or {}})


@api.get("/health")
def health() -> Response:
    h = current_web().state.get("system.health")
    if not isinstance(h, dict) or "level" not in h:
        return jsonify(
            {
                "level": "unknown",
                "reasons": ["health has not been evaluated yet"],
                "previous": None,
                "since": None,
            }
        )
    return jsonify(
        {
            "level": h.get("level"),
            "reasons": list(h.get("reasons") or []),
            "previous": h.get("previous"),
            "since": h.get("since"),
        }
    )


@api.get("/history/metrics")
def history_metrics() -> Response:
    web = current_web()
    recorded: list[str] = []
    if web.history_dir:
        from bussdcc_system.history.query import list_metrics

        recorded = list_metrics(web.history_dir)
    return jsonify(
        {
            "metrics": known_metrics(),
            "recorded": recorded,
            "charts": list(CHARTS),
            "ranges": list(RANGES),
        }
    )


@api.get("/history")
def history() -> Response:
    web = current_web()
    metric = _metric(request.args.get("metric"))
    start, end = _window(request.args, web.wall())
    points = _int("points", request.args.get("points"), DEFAULT_POINTS, 1, MAX_POINTS)
    return jsonify(query_history(web, metric, start, end, points))


@api.get("/power/episodes")
def episodes() -> Response:
    web = current_web()
    days = _int("days", request.args.get("days"), 7, 1, MAX_EPISODE_DAYS)
    end = web.wall()
    return jsonify({"days": days, "episodes": power_episodes(web, end - days * 86400, end)})


@api.get("/openapi.json")
def openapi() -> Response:
    return Response(OPENAPI_PATH.read_bytes(), content_type="application/json")


def _authorize() -> Response | None:
    """None when the request carries the configured token, else the error to answer."""
    token = current_web().settings.token
    if not token:
        return json_error(
            403, "Forbidden", "write actions are disabled: no web.token is configured"
        )
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return json_error(
            401,
            "Unauthorized",
            "this action needs 'Authorization: Bearer <token>'",
            {"WWW-Authenticate": 'Bearer realm="bussdcc-system"'},
        )
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return json_error(403, "Forbidden", "the token is not valid")
    return None


@api.post("/led/test")
def led_test() -> Response | tuple[Response, int]:
    denied = _authorize()
    if denied is not None:
        return denied
    web = current_web()
    seconds = 5.0
    body = json_object_body()
    if body is not None:
        raw = body.get("seconds", seconds)
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 < raw <= 60:
            _bad("'seconds' must be a number between 0 and 60")
        seconds = float(raw)
    if web.emit is None:
        abort(503, description="not connected to a runtime")
    web.emit(m.LedTestRequested(seconds=seconds, requested_by=request.remote_addr or "?"))
    return jsonify({"accepted": True, "seconds": seconds}), 202


@api.errorhandler(ValueError)
def valuejson_error(exc: ValueError) -> Response:  # e.g. a history reader rejecting a query
    return json_error(400, "Bad Request", str(exc) or "invalid request")
