"""MQTT: this Pi as a Home Assistant device on a broker the owner already runs.

One job per module, imported one way only::

    paho_compat  paho-mqtt 1.6 and 2.x behind one client constructor and callback shape
    link         one broker connection on its own thread: outbox, backoff, last will
    entities     what Home Assistant gets, declared once (values read from the state tree)
    discovery    the retained discovery configs: topics, device block, one per entity
    messages     mqtt.connected / mqtt.disconnected / mqtt.unavailable
    bridge       the kernel service: state -> link, history episodes, ``system.mqtt``
    status       ``system.mqtt`` in words for ``STATUS=`` (no paho)

The names below load on first use (PEP 562): a daemon with MQTT off never loads paho.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bussdcc_system.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from bussdcc_system.mqtt.bridge import MqttBridge, mqtt_bridge
    from bussdcc_system.mqtt.status import STATE_PATH, status_words

_HOMES = {
    "STATE_PATH": "bussdcc_system.mqtt.status",
    "MqttBridge": "bussdcc_system.mqtt.bridge",
    "mqtt_bridge": "bussdcc_system.mqtt.bridge",
    "status_words": "bussdcc_system.mqtt.status",
}


__getattr__ = lazy_exports(__name__, _HOMES)


__all__ = ["STATE_PATH", "MqttBridge", "mqtt_bridge", "status_words"]
