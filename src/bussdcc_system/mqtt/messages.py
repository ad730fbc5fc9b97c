"""What the MQTT bridge says about its broker: connected, lost, cannot connect.

Sent on changes only: a broker that stays away is one ``mqtt.unavailable`` per new
reason, not one per attempt, so history and the dashboard's journal stay readable.
"""

from __future__ import annotations

from dataclasses import dataclass

from bussdcc import Message, Severity

__all__ = ["MqttConnected", "MqttDisconnected", "MqttUnavailable"]


@dataclass(slots=True, frozen=True)
class MqttConnected(Message):
    """The broker accepted the connection; discovery and the latest state follow."""

    name = "mqtt.connected"
    broker: str
    tls: bool


@dataclass(slots=True, frozen=True)
class MqttDisconnected(Message):
    """A connection the broker had accepted was lost; reconnecting with backoff."""

    name = "mqtt.disconnected"
    severity = Severity.WARNING
    broker: str
    reason: str


@dataclass(slots=True, frozen=True)
class MqttUnavailable(Message):
    """Cannot connect (broker away, refused, bad password, untrusted certificate...):
    ``reason`` in words; tried again in ``retry_in`` seconds, and later on."""

    name = "mqtt.unavailable"
    severity = Severity.WARNING
    broker: str
    reason: str
    retry_in: float | None
