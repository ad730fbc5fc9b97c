"""Discovery topics, the device block and the config of each entity."""

from __future__ import annotations

import json

from bussdcc_system.mqtt.discovery import (
    Device,
    Topics,
    config_payload,
    discovery_messages,
    node_id,
)
from bussdcc_system.mqtt.entities import entities

TOPICS = Topics("bussdcc-system/pi", "homeassistant", "bussdcc_10000000abcdef01")
DEVICE = Device(TOPICS.node, "pi", "Raspberry Pi 5 Model B Rev 1.0", "http://10.0.0.5:8086/")


def test_node_id_prefers_the_serial() -> None:
    assert node_id("10000000ABCDEF01", "f00d", "pi") == "bussdcc_10000000abcdef01"
    assert node_id(None, "0123456789abcdef\n", "pi") == "bussdcc_0123456789abcdef"
    assert node_id("", None, "Pi Kitchen.local") == "bussdcc_pi_kitchen_local"
    assert node_id(None, None, None) == "bussdcc_unknown"


def test_topics() -> None:
    assert TOPICS.state == "bussdcc-system/pi/state"
    assert TOPICS.availability == "bussdcc-system/pi/availability"
    cpu = next(e for e in entities() if e.key == "cpu")
    assert TOPICS.config(cpu) == "homeassistant/sensor/bussdcc_10000000abcdef01/cpu/config"


def test_a_sensor_config() -> None:
    cpu = next(e for e in entities() if e.key == "cpu")
    assert config_payload(cpu, TOPICS, DEVICE) == {
        "name": "CPU usage",
        "unique_id": "bussdcc_10000000abcdef01_cpu",
        "state_topic": "bussdcc-system/pi/state",
        "value_template": "{{ value_json.cpu }}",
        "availability": [{"topic": "bussdcc-system/pi/availability"}],
        "device": {
            "identifiers": ["bussdcc_10000000abcdef01"],
            "name": "pi",
            "manufacturer": "Raspberry Pi Ltd",
            "model": "Raspberry Pi 5 Model B Rev 1.0",
            "sw_version": DEVICE.to_json()["sw_version"],
            "configuration_url": "http://10.0.0.5:8086/",
        },
        "unit_of_measurement": "%",
        "state_class": "measurement",
        "icon": "mdi:cpu-64-bit",
    }


def test_a_problem_sensor_and_the_health_attributes() -> None:
    by_key = {e.key: e for e in entities()}
    uv = config_payload(by_key["under_voltage"], TOPICS, DEVICE)
    assert (uv["device_class"], uv["payload_on"], uv["payload_off"]) == ("problem", "ON", "OFF")
    health = config_payload(by_key["health"], TOPICS, DEVICE)
    assert health["json_attributes_template"] == "{{ value_json.health_attributes | tojson }}"


def test_a_pc_has_no_manufacturer_and_no_url_when_unknown() -> None:
    device = Device("bussdcc_x", "box", None).to_json()
    assert set(device) == {"identifiers", "name", "sw_version"}


def test_every_message_is_compact_json() -> None:
    messages = discovery_messages(entities(), TOPICS, DEVICE)
    assert len(messages) == len(entities())
    for payload in messages.values():
        assert json.loads(payload)["device"]["identifiers"] == [TOPICS.node]
        assert b": " not in payload
