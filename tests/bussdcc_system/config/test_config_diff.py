"""What a reload applies: the sections and devices that changed, never the token."""

from __future__ import annotations

import dataclasses

from bussdcc_system.config import (
    Config,
    ConfigDiff,
    DeviceConfig,
    StatusLedOptions,
    ThermalZoneOptions,
    ThrottlingOptions,
    default_config,
    diff_configs,
    parse_config,
)
from bussdcc_system.config.settings import sections_of
from tests.bussdcc_system.config.config_helpers import (
    SHIPPED,
    parse,
)


def test_diff_of_equal_configs_is_empty() -> None:
    diff = diff_configs(default_config(), parse_config(SHIPPED.read_text(), str(SHIPPED)))
    assert diff.is_empty
    assert not diff.needs_web_restart
    assert diff.describe() == []


def test_diff_sections() -> None:
    old = default_config()
    new = parse(
        """\
        sampling: {cpu: 2, disk: 30}
        disks: {mounts: [/, /data]}
        health: {temperature_warning: 65}
        history: {retention_days: 7}
        logging: {level: debug}
        """
    )
    diff = diff_configs(old, new)
    assert not diff.is_empty
    assert diff.sampling_changed == {"cpu": (1.0, 2.0)}
    assert diff.disks_changed == {"mounts": (("/",), ("/", "/data"))}
    assert diff.health_changed == {"temperature_warning": (70.0, 65.0)}
    assert diff.history_changed == {"retention_days": (30.0, 7.0)}
    assert diff.logging_changed == {"level": ("info", "debug")}
    assert diff.web_changed == {}
    assert not diff.needs_web_restart
    assert diff.describe() == [
        "sampling.cpu: 1 -> 2",
        "disks.mounts: ['/'] -> ['/', '/data']",
        "history.retention_days: 30 -> 7",
        "health.temperature_warning: 70 -> 65",
        "logging.level: 'info' -> 'debug'",
    ]


def test_diff_web_needs_restart_and_hides_the_token() -> None:
    old = default_config()
    new = parse("web: {port: 9000, token: abcdefghijklmnopqrstuvwxyz}\n")
    diff = diff_configs(old, new)
    assert diff.needs_web_restart
    assert set(diff.web_changed) == {"port", "token"}
    assert diff.describe() == ["web.port: 8086 -> 9000", "web.token: set"]
    assert "abcdefghijklmnop" not in "\n".join(diff.describe())
    other = parse("web: {port: 9000, token: zyxwvutsrqponmlkjihgfedcba}\n")
    assert diff_configs(new, other).describe() == ["web.token: changed"]
    assert diff_configs(other, old).describe() == ["web.port: 9000 -> 8086", "web.token: removed"]


def test_diff_devices_by_id() -> None:
    old = parse(
        """\
        devices:
          - kind: throttling
          - {id: led, kind: status_led, pin: 17}
          - {id: gone, kind: thermal_zone}
        """
    )
    new = parse(
        """\
        # a comment moves every device down a line: that is not a change

        devices:
          - {id: new, kind: thermal_zone, zone: thermal_zone1}
          - kind: throttling
          - {id: led, kind: status_led, pin: 27}
        """
    )
    diff = diff_configs(old, new)
    assert [d.id for d in diff.devices_added] == ["new"]
    assert [d.id for d in diff.devices_removed] == ["gone"]
    assert diff.devices_changed == (DeviceConfig("led", "status_led", StatusLedOptions(pin=27)),)
    assert diff.sampling_changed == {}
    assert diff.describe() == [
        "devices: added new (thermal_zone)",
        "devices: removed gone (thermal_zone)",
        "devices: changed led (status_led)",
    ]


def test_diff_kind_change_under_the_same_id_is_a_change() -> None:
    old = parse("devices: [{id: x, kind: throttling}]\n")
    new = parse("devices: [{id: x, kind: thermal_zone}]\n")
    assert [d.kind for d in diff_configs(old, new).devices_changed] == ["thermal_zone"]


def test_diff_between_auto_detect_and_a_list_uses_what_was_detected() -> None:
    detected = (
        DeviceConfig("throttling", "throttling", ThrottlingOptions()),
        DeviceConfig("thermal_zone", "thermal_zone", ThermalZoneOptions()),
    )
    auto = default_config()
    explicit = parse("devices:\n  - kind: throttling\n  - {kind: status_led, pin: 17}\n")
    diff = diff_configs(auto, explicit, auto_devices=detected)
    assert [d.id for d in diff.devices_added] == ["status_led"]
    assert [d.id for d in diff.devices_removed] == ["thermal_zone"]
    assert diff.devices_changed == ()
    back = diff_configs(explicit, auto, auto_devices=detected)
    assert [d.id for d in back.devices_added] == ["thermal_zone"]
    assert [d.id for d in back.devices_removed] == ["status_led"]
    assert diff_configs(auto, auto, auto_devices=detected).is_empty


def test_the_diff_has_one_changes_field_per_declared_section() -> None:
    sections = [declared.name for declared in sections_of(Config)]
    assert [f.name for f in dataclasses.fields(ConfigDiff)] == [
        "devices_added",
        "devices_removed",
        "devices_changed",
        *(f"{name}_changed" for name in sections),
    ]
