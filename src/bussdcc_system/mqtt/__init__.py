"""MQTT: this Pi as a Home Assistant device on a broker the owner already runs.

One job per module, imported one way only::

    paho_compat  paho-mqtt 1.6 and 2.x behind one client constructor and callback shape
    link         one broker connection on its own thread: outbox, backoff, last will
    entities     what Home Assistant gets, declared once (values read from the state tree)
    discovery    the retained discovery configs: topics, device block, one per entity
    messages     mqtt.connected / mqtt.disconnected / mqtt.unavailable
    bridge       the kernel service: state -> link, history episodes, ``system.mqtt``
"""

from bussdcc_system.mqtt.bridge import STATE_PATH, MqttBridge, mqtt_bridge, status_words

__all__ = ["STATE_PATH", "MqttBridge", "mqtt_bridge", "status_words"]
