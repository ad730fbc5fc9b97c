"""Home Assistant MQTT discovery: one device per Pi, one retained config per entity.

Home Assistant reads ``<prefix>/<component>/<node>/<object>/config`` (retained, so it
finds them whenever it starts) and creates the entities of one device. Every entity
reads its value from the one state topic (``<base>/state``, a JSON document) through
its ``value_template``, and is available while ``<base>/availability`` says ``online``.
The node id, the entities' ``unique_id`` and the device's identifier come from the Pi's
serial number (else ``/etc/machine-id``, else the host name), so a renamed Pi or a new
SD card image on the same board is still the same device to Home Assistant.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bussdcc_system import __version__
from bussdcc_system.mqtt.entities import OFF, ON, Entity

__all__ = ["Device", "Topics", "config_payload", "discovery_messages", "node_id"]


def node_id(serial: str | None, machine_id: str | None, hostname: str | None) -> str:
    """``bussdcc_<serial>`` (or the machine id, or the host name): letters, digits, ``_``."""
    for raw in (serial, machine_id, hostname):
        cleaned = re.sub(r"[^a-z0-9]+", "_", (raw or "").strip().lower()).strip("_")
        if cleaned:
            return f"bussdcc_{cleaned}"
    return "bussdcc_unknown"


@dataclass(frozen=True)
class Topics:
    """Where this Pi publishes: the base (``mqtt.topic``) and the discovery prefix."""

    base: str
    discovery_prefix: str
    node: str

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    @property
    def home_assistant_status(self) -> str:
        """Home Assistant's birth and will: ``online`` when it (re)starts."""
        return f"{self.discovery_prefix}/status"

    def config(self, entity: Entity) -> str:
        return f"{self.discovery_prefix}/{entity.component}/{self.node}/{entity.key}/config"


@dataclass(frozen=True)
class Device:
    """The device block every config carries (Home Assistant merges them by identifier)."""

    node: str
    name: str
    model: str | None
    configuration_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "identifiers": [self.node],
            "name": self.name,
            "manufacturer": (
                "Raspberry Pi Ltd" if (self.model or "").startswith("Raspberry Pi") else None
            ),
            "model": self.model,
            "sw_version": f"bussdcc-system {__version__}",
            "configuration_url": self.configuration_url,
        }
        return {k: v for k, v in out.items() if v is not None}


def config_payload(entity: Entity, topics: Topics, device: Device) -> dict[str, Any]:
    """The discovery config of one entity."""
    out: dict[str, Any] = {
        "name": entity.name,
        "unique_id": f"{topics.node}_{entity.key}",
        "state_topic": topics.state,
        "value_template": f"{{{{ value_json.{entity.key} }}}}",
        "availability": [{"topic": topics.availability}],
        "device": device.to_json(),
    }
    if entity.component == "binary_sensor":
        out["payload_on"], out["payload_off"] = ON, OFF
    optional = {
        "unit_of_measurement": entity.unit,
        "device_class": entity.device_class,
        "state_class": entity.state_class,
        "icon": entity.icon,
        "entity_category": entity.entity_category,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    if entity.options:
        out["options"] = list(entity.options)
    if entity.attributes:
        out["json_attributes_topic"] = topics.state
        out["json_attributes_template"] = f"{{{{ value_json.{entity.attributes_key} | tojson }}}}"
    return out


def discovery_messages(
    declared: Iterable[Entity], topics: Topics, device: Device
) -> dict[str, bytes]:
    """Config topic -> payload (compact JSON) for every entity."""
    return {
        topics.config(entity): _json(config_payload(entity, topics, device)) for entity in declared
    }


def _json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
