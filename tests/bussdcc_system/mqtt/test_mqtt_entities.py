"""The Home Assistant entities: declared once, read from the state tree and the catalogue."""

from __future__ import annotations

import pytest

from bussdcc import Runtime
from bussdcc_system import messages as m
from bussdcc_system import throttling_flags
from bussdcc_system.metric_catalog import BY_NAME
from bussdcc_system.mqtt.entities import (
    HA_UNITS,
    entities,
    from_metric,
    mount_key,
    state_document,
)
from tests.bussdcc_system.telemetry_helpers import pi_runtime

REQUIRED_SENSORS = {
    "cpu",
    "temperature",
    "memory",
    "disk_root",
    "load_1m",
    "network_rx",
    "network_tx",
    "uptime",
    "sd_card_written",
    "health",
    "under_voltage_episodes_24h",
    "under_voltage_duration_24h",
}


@pytest.fixture
def pi() -> Runtime:
    runtime = pi_runtime()
    runtime.emit(m.DiskIoUpdated("mmcblk0", 10**9, 123456789, 0.0, 4096.0))
    runtime.wait_idle()
    yield runtime
    runtime.shutdown("test over")


def test_every_entity_the_issue_asks_for() -> None:
    declared = entities(("/", "/boot/firmware"))
    keys = [e.key for e in declared]
    assert len(keys) == len(set(keys))
    assert {e.key for e in declared if e.component == "sensor"} >= REQUIRED_SENSORS
    problems = [e for e in declared if e.component == "binary_sensor"]
    assert [e.key for e in problems] == [f.field for f in throttling_flags.FLAGS]
    assert {e.device_class for e in problems} == {"problem"}
    assert [e.name for e in problems] == [
        "Under-voltage",
        "Frequency capping",
        "Throttling",
        "Soft temperature limit",
    ]
    assert "disk_boot_firmware" in keys


def test_metric_entities_take_unit_and_name_from_the_catalogue() -> None:
    for entity in entities():
        if entity.metric is None:
            continue
        assert BY_NAME[entity.metric.name] is entity.metric
        assert (entity.unit, entity.device_class) == HA_UNITS[entity.metric.unit]
    by_key = {e.key: e for e in entities()}
    assert by_key["cpu"].metric is BY_NAME["cpu_usage_percent"]
    assert by_key["temperature"].unit == "°C"
    assert by_key["uptime"].device_class == "duration"


def test_a_label_the_metric_does_not_have_is_an_error() -> None:
    with pytest.raises(ValueError, match="cpu_usage_percent has no label"):
        from_metric("cpu_usage_percent", flavour="busy")


def test_the_state_document_of_a_pi(pi: Runtime) -> None:
    facts = pi.state.snapshot()
    facts["history"] = {"under_voltage_episodes_24h": 2, "under_voltage_seconds_24h": 95}
    doc = state_document(entities(("/", "/boot/firmware")), facts)
    assert doc["cpu"] == 12.5
    assert doc["temperature"] == 51.2
    assert (doc["disk_root"], doc["disk_boot_firmware"]) == (26.4, 11.8)
    assert doc["sd_card_written"] == 123456789
    assert doc["health"] == "warning"
    assert doc["health_attributes"]["reasons"][0].startswith("Under-voltage occurred")
    assert doc["health_attributes"]["since"] is not None
    assert [doc[f.field] for f in throttling_flags.FLAGS] == ["OFF"] * 4
    assert (doc["under_voltage_episodes_24h"], doc["under_voltage_duration_24h"]) == (2, 95)


def test_nothing_known_yet_is_unknown_not_zero() -> None:
    doc = state_document(entities(), {"system": {}, "devices": {}})
    assert {k: v for k, v in doc.items() if k != "health_attributes"} == dict.fromkeys(
        [e.key for e in entities()]
    )
    assert doc["health_attributes"] == {"reasons": [], "since": None}


def test_mount_keys() -> None:
    assert [mount_key(x) for x in ("/", "/boot/firmware", "/mnt/USB-1")] == [
        "root",
        "boot_firmware",
        "mnt_usb_1",
    ]
