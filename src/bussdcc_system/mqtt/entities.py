"""What Home Assistant gets for one Pi, declared once: each sensor's key, name, unit,
classes and how its value is read from the state tree.

One :class:`Entity` gives both its discovery config (``discovery.py``) and its value in
the one JSON state document (:func:`state_document`), so the two cannot drift apart.
Where a value is an exported metric, it is read through ``metric_catalog.METRICS``
(:func:`from_metric`: the same reading, unit and help as ``/metrics``); the four problem
sensors come from ``throttling_flags.FLAGS``. The values that are neither (the network
rates, SD card bytes written, the health level and its reasons, and the under-voltage
episodes of the last 24 hours from history) read their state path here.

The facts an entity reads are the state snapshot (``{"system": ..., "devices": ...}``)
plus ``"history"``: ``{"under_voltage_episodes_24h": n, "under_voltage_seconds_24h": s}``
when the history could be read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from bussdcc_system import throttling_flags
from bussdcc_system.messages import HEALTH_LEVELS
from bussdcc_system.metric_catalog import BY_NAME, Metric, lookup

__all__ = [
    "HA_UNITS",
    "Entity",
    "entities",
    "from_metric",
    "mount_key",
    "state_document",
]

Facts = Mapping[str, Any]
Read = Callable[[Facts], Any]
Component = Literal["sensor", "binary_sensor"]

HA_UNITS: Final[dict[str, tuple[str | None, str | None]]] = {
    # catalogue unit -> (Home Assistant unit_of_measurement, device_class)
    "percent": ("%", None),
    "celsius": ("°C", "temperature"),
    "seconds": ("s", "duration"),
    "bytes": ("B", "data_size"),
    "": (None, None),
}

ON: Final = "ON"
OFF: Final = "OFF"


@dataclass(frozen=True)
class Entity:
    """One Home Assistant entity of the Pi's device."""

    component: Component
    key: str
    """Its object id in the discovery topic and its key in the state document."""
    name: str
    read: Read
    unit: str | None = None
    device_class: str | None = None
    state_class: str | None = None
    icon: str | None = None
    entity_category: str | None = None
    attributes: Mapping[str, Read] = field(default_factory=dict)
    """Extra values Home Assistant shows as the entity's attributes (health reasons)."""
    options: tuple[str, ...] = ()
    """The states of an ``enum`` sensor."""
    metric: Metric | None = None
    """The exported metric it is read from, if any."""

    @property
    def attributes_key(self) -> str:
        return f"{self.key}_attributes"


def _number(value: Any, digits: int) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return round(float(value), digits) if digits else round(value)


def from_metric(metric_name: str, digits: int = 1, **labels: str) -> tuple[Metric, Read]:
    """The metric and a reader of its first sample whose labels include ``labels``."""
    metric = BY_NAME[metric_name]
    unknown = set(labels) - set(metric.labels)
    if unknown:
        raise ValueError(f"{metric_name} has no label {sorted(unknown)}")

    def read(facts: Facts) -> float | int | None:
        for values, value in metric.samples(facts):
            got = dict(zip(metric.labels, values, strict=True))
            if all(got.get(k) == v for k, v in labels.items()):
                return _number(value, digits)
        return None

    return metric, read


def _metric_sensor(
    key: str,
    name: str,
    metric_name: str,
    *,
    digits: int = 1,
    icon: str | None = None,
    state_class: str | None = "measurement",
    entity_category: str | None = None,
    **labels: str,
) -> Entity:
    metric, read = from_metric(metric_name, digits, **labels)
    unit, device_class = HA_UNITS[metric.unit]
    return Entity(
        "sensor",
        key,
        name,
        read,
        unit=unit,
        device_class=device_class,
        state_class=state_class,
        icon=icon,
        entity_category=entity_category,
        metric=metric,
    )


def _path(path: str, digits: int = 0) -> Read:
    def read(facts: Facts) -> float | int | None:
        return _number(lookup(facts, path), digits)

    return read


def _sd_card_written(facts: Facts) -> int | None:
    devices = lookup(facts, "system.disk_io")
    if not isinstance(devices, Mapping):
        return None
    for _device, record in sorted(devices.items()):
        if isinstance(record, Mapping):
            value = _number(record.get("bytes_written"), 0)
            if value is not None:
                return int(value)
    return None


def _health_level(facts: Facts) -> str | None:
    level = lookup(facts, "system.health.level")
    return level if level in HEALTH_LEVELS else None


def _health_reasons(facts: Facts) -> list[str]:
    reasons = lookup(facts, "system.health.reasons")
    return [str(r) for r in reasons] if isinstance(reasons, list | tuple) else []


def _health_since(facts: Facts) -> str | None:
    since = lookup(facts, "system.health.since")
    return since if isinstance(since, str) else None


def _flag(flag: throttling_flags.ThrottlingFlag) -> Read:
    def read(facts: Facts) -> str | None:
        value = throttling_flags.merged_reading(lookup(facts, "system.throttling")).get(flag.field)
        return None if value is None else ON if value else OFF

    return read


def mount_key(mount: str) -> str:
    """``/`` -> ``root``, ``/boot/firmware`` -> ``boot_firmware``: an object id."""
    key = re.sub(r"[^a-z0-9]+", "_", mount.lower()).strip("_")
    return key or "root"


def entities(mounts: Sequence[str] = ("/",)) -> tuple[Entity, ...]:
    """Every entity of one Pi, in the order Home Assistant lists them; one disk sensor
    per watched mount."""
    disks = tuple(
        _metric_sensor(
            f"disk_{mount_key(mount)}",
            f"Disk {mount} used",
            "disk_usage_percent",
            icon="mdi:harddisk",
            mountpoint=mount,
        )
        for mount in mounts
    )
    flags = tuple(
        Entity(
            "binary_sensor",
            flag.field,
            flag.past_words[0].upper() + flag.past_words[1:],
            _flag(flag),
            device_class="problem",
        )
        for flag in throttling_flags.FLAGS
    )
    return (
        _metric_sensor("cpu", "CPU usage", "cpu_usage_percent", icon="mdi:cpu-64-bit", mode="busy"),
        _metric_sensor("temperature", "CPU temperature", "temperature_celsius"),
        _metric_sensor("memory", "Memory used", "memory_usage_percent", icon="mdi:memory"),
        *disks,
        *(
            _metric_sensor(
                f"load_{period}",
                f"Load ({period})",
                "load_average",
                digits=2,
                icon="mdi:gauge",
                period=period,
            )
            for period in ("1m", "5m", "15m")
        ),
        *(
            Entity(
                "sensor",
                f"network_{direction}",
                f"Network {words}",
                _path(f"system.network_total.{direction}_bytes_per_s"),
                unit="B/s",
                device_class="data_rate",
                state_class="measurement",
            )
            for direction, words in (("rx", "received"), ("tx", "sent"))
        ),
        _metric_sensor(
            "uptime",
            "Uptime",
            "uptime_seconds",
            digits=0,
            state_class=None,
            entity_category="diagnostic",
        ),
        Entity(
            "sensor",
            "sd_card_written",
            "SD card bytes written",
            _sd_card_written,
            unit="B",
            device_class="data_size",
            state_class="total_increasing",
            icon="mdi:sd",
            entity_category="diagnostic",
        ),
        Entity(
            "sensor",
            "health",
            "Health",
            _health_level,
            device_class="enum",
            icon="mdi:heart-pulse",
            options=HEALTH_LEVELS,
            attributes={"reasons": _health_reasons, "since": _health_since},
        ),
        *flags,
        Entity(
            "sensor",
            "under_voltage_episodes_24h",
            "Under-voltage episodes (24 h)",
            _path("history.under_voltage_episodes_24h"),
            state_class="measurement",
            icon="mdi:flash-alert",
        ),
        Entity(
            "sensor",
            "under_voltage_duration_24h",
            "Under-voltage duration (24 h)",
            _path("history.under_voltage_seconds_24h"),
            unit="s",
            device_class="duration",
            state_class="measurement",
            icon="mdi:flash-alert",
        ),
    )


def state_document(declared: Iterable[Entity], facts: Facts) -> dict[str, Any]:
    """The one JSON state message: each entity's value (``None`` = unknown), and the
    attributes of those that have some."""
    doc: dict[str, Any] = {}
    for entity in declared:
        doc[entity.key] = entity.read(facts)
        if entity.attributes:
            doc[entity.attributes_key] = {k: read(facts) for k, read in entity.attributes.items()}
    return doc
