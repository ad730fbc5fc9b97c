"""Metrics: what ``message.name:field`` means, and the values one record contributes.

``field`` is a top-level numeric field (``system.cpu.usage.updated:percent``), a dotted
path into nested data (``system.cpu.usage.updated:per_core.0``; list elements that
carry an ``interface``, ``mount``, ``zone``, ``device`` or ``name`` are addressed by
it: ``system.network.usage.updated:interfaces.eth0.rx_bytes_per_s``), or the bare name
of a field of such list elements, which sums it over the elements
(``system.network.usage.updated:rx_bytes``). A selector picks one instance of a
message sent per device: ``system.disk.usage.updated[mount=/]:percent``. Booleans
count as 0/1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from bussdcc_system.history.lru import Lru

IDENTITY_KEYS = ("interface", "mount", "zone", "device", "name")
"""Keys that name an element of a list (used instead of its index in metric paths)."""
SELECTOR_KEYS = ("zone", "mount", "interface", "device")
"""Top-level string fields that select one instance: ``name[mount=/]:percent``."""
MAX_KEYS = 512
MAX_DEPTH = 4


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        v = float(value)
        return v if math.isfinite(v) else None
    return None


def _identity(value: Any) -> str | None:
    if isinstance(value, Mapping):
        for key in IDENTITY_KEYS:
            ident = value.get(key)
            if isinstance(ident, str) and ident:
                return ident
    return None


def _flatten(prefix: str, value: Any, out: list[tuple[str, float]], depth: int) -> None:
    if len(out) >= MAX_KEYS:
        return
    v = _number(value)
    if v is not None:
        out.append((prefix, v))
        return
    if depth >= MAX_DEPTH:
        return
    if isinstance(value, Mapping):
        for k, item in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), item, out, depth + 1)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            key = _identity(item) or str(i)
            _flatten(f"{prefix}.{key}" if prefix else key, item, out, depth + 1)


def _fields(data: Mapping[str, Any]) -> list[tuple[str, float]]:
    flat: list[tuple[str, float]] = []
    _flatten("", data, flat, 0)
    sums: dict[str, float] = {}
    for value in data.values():
        if not isinstance(value, list | tuple):
            continue
        for item in value:
            if not isinstance(item, Mapping):
                continue
            for field, leaf in item.items():
                if field in data or isinstance(leaf, bool):
                    continue
                v = _number(leaf)
                if v is not None:
                    sums[field] = sums.get(field, 0.0) + v
    flat.extend(sums.items())
    return [(k, v) for k, v in flat if "\t" not in k and "\n" not in k]


def metric_values(name: str, data: Mapping[str, Any]) -> list[tuple[str, float]]:
    """Every ``(metric, value)`` one record contributes (what the rollup indexes)."""
    flat = _fields(data)
    out = [(f"{name}:{path}", v) for path, v in flat]
    for key in SELECTOR_KEYS:
        sel = data.get(key)
        if isinstance(sel, str) and sel and "]" not in sel and "\n" not in sel:
            out.extend((f"{name}[{key}={sel}]:{path}", v) for path, v in flat)
    return out[:MAX_KEYS]


def metric_name(metric: str) -> str:
    """The message name of a metric (``system.cpu.usage.updated`` for ``...:percent``)."""
    if ":" not in metric:
        raise ValueError(f"metric {metric!r} must look like 'message.name:field'")
    return metric.split("[", 1)[0].split(":", 1)[0]


_parsed: Lru[str, tuple[tuple[str, str] | None, str]] = Lru(4096)


def _parse_metric(metric: str) -> tuple[tuple[str, str] | None, str]:
    """``(selector, path)`` of a metric; the selector is ``(key, value)`` or None."""
    hit = _parsed.get(metric)
    if hit is not None:
        return hit
    head, sep, path = metric.partition("]:")
    selector: tuple[str, str] | None = None
    if sep and "[" in head:
        key, _, value = head.split("[", 1)[1].partition("=")
        selector = (key, value)
    else:
        path = metric.split(":", 1)[1] if ":" in metric else ""
    _parsed.put(metric, (selector, path))
    return selector, path


def _navigate(data: Mapping[str, Any], path: str) -> float | None:
    cur: Any = data
    for part in path.split("."):
        if isinstance(cur, Mapping):
            if part not in cur:
                return None
            cur = cur[part]
        elif isinstance(cur, list | tuple):
            for i, item in enumerate(cur):
                if (_identity(item) or str(i)) == part:
                    cur = item
                    break
            else:
                return None
        else:
            return None
    return _number(cur)


def _sum_of_elements(data: Mapping[str, Any], field: str) -> float | None:
    total: float | None = None
    for value in data.values():
        if not isinstance(value, list | tuple):
            continue
        for item in value:
            if isinstance(item, Mapping):
                leaf = item.get(field)
                v = None if isinstance(leaf, bool) else _number(leaf)
                if v is not None:
                    total = v if total is None else total + v
    return total


def extract(metric: str, name: str, data: Mapping[str, Any]) -> float | None:
    """The value of ``metric`` in one record's data (None if absent or not a number).

    Equal to what :func:`metric_values` gives for that key, without flattening the
    whole record in the common cases.
    """
    selector, path = _parse_metric(metric)
    if selector is not None and data.get(selector[0]) != selector[1]:
        return None
    v = _navigate(data, path)
    if v is not None:
        return v
    if "." not in path and path not in data:
        return _sum_of_elements(data, path)
    for key, value in metric_values(name, data):
        if key == metric:
            return value
    return None
