"""The walk over a document: sections, keys, devices, every issue in one pass."""

from __future__ import annotations

import textwrap

import pytest

from bussdcc_system.config import (
    ConfigError,
    DeviceConfig,
    DisksConfig,
    HealthConfig,
    HistoryConfig,
    LoggingConfig,
    SamplingConfig,
    StatusLedOptions,
    ThermalZoneOptions,
    ThrottlingOptions,
    WebConfig,
    default_config,
    describe_config,
    parse_config,
)
from tests.bussdcc_system.config.config_helpers import (
    FULL,
    SOURCE,
    errors,
    parse,
)


def test_empty_sections_are_defaults() -> None:
    config = parse(
        """\
        sampling:
        web:
        #  port: 8080
        devices:
        """
    )
    assert config == default_config()
    assert config.devices is None


def test_full_configuration_is_typed() -> None:
    config = parse_config(FULL, SOURCE)
    assert config.sampling == SamplingConfig(cpu=0.5, disk=60.0)
    assert isinstance(config.sampling.disk, float)
    assert config.disks == DisksConfig(mounts=("/", "/boot/firmware"), sd_card="mmcblk0")
    assert config.web == WebConfig(
        enabled=True,
        host="::",
        port=8443,
        token="0123456789abcdef0123",
        allowed_origins=("http://pi.local:8086", "*"),
    )
    assert config.history == HistoryConfig(
        directory="/data/history",
        flush_interval=1.0,
        min_severity="warning",
        include=("system.*", "health.*"),
        exclude=("system.cpu.*",),
        compress=False,
    )
    assert config.health == HealthConfig(temperature_warning=60.0, temperature_critical=75.5)
    assert config.logging == LoggingConfig(level="debug", console=False)
    assert config.devices == (
        DeviceConfig("throttling", "throttling", ThrottlingOptions(interval=10.0)),
        DeviceConfig("cpu_temp", "thermal_zone", ThermalZoneOptions(zone="cpu-thermal")),
        DeviceConfig("led-green", "status_led", StatusLedOptions(pin=17)),
        DeviceConfig("led-red", "status_led", StatusLedOptions(pin=27, active_high=False)),
        DeviceConfig("led-blue", "status_led", StatusLedOptions(pin=4)),
    )
    assert [d.line for d in config.devices] == [27, 29, 32, 35, 39]


def test_token_stays_out_of_repr() -> None:
    config = parse_config(FULL, SOURCE)
    assert "0123456789abcdef" not in repr(config)
    assert "0123456789abcdef" not in "\n".join(describe_config(config))


def test_explicit_empty_device_list_is_kept() -> None:
    assert parse("devices: []\n").devices == ()


def test_yaml_anchors_and_merge_keys() -> None:
    config = parse(
        """\
        devices:
          - &led {kind: status_led, id: led1, pin: 5, active_high: false}
          - <<: *led
            id: led2
            pin: 6
        """
    )
    assert config.devices == (
        DeviceConfig("led1", "status_led", StatusLedOptions(pin=5, active_high=False)),
        DeviceConfig("led2", "status_led", StatusLedOptions(pin=6, active_high=False)),
    )


def test_source_and_line_are_not_part_of_equality() -> None:
    a = parse("devices:\n  - kind: throttling\n")
    b = parse_config("# moved down\n\ndevices:\n  - kind: throttling\n", "/elsewhere.yaml")
    assert a == b
    assert a.devices is not None and b.devices is not None
    assert (a.devices[0].line, b.devices[0].line) == (2, 4)


def test_unknown_key_suggests_the_close_one() -> None:
    assert errors("web:\n  port: 8086\n  prot: 80\n") == [
        "config.yaml:3: web.prot: unknown key; did you mean 'port'?"
    ]


def test_unknown_key_without_a_close_one_lists_the_known_ones() -> None:
    assert errors("smapling: {}\nfrobnicate: 1\n") == [
        "config.yaml:1: smapling: unknown key; did you mean 'sampling'?",
        "config.yaml:2: frobnicate: unknown key; expected one of 'sampling', 'disks', 'web',"
        " 'history', 'health', 'logging', 'mqtt', 'notifications', 'devices'",
    ]


def test_duplicate_yaml_keys() -> None:
    assert errors("web:\n  port: 80\n  host: x\n  port: 81\n") == [
        "config.yaml:4: web.port: duplicate key; first set on line 2"
    ]
    assert errors("web: {}\nsampling: {}\nweb: {port: 1}\n") == [
        "config.yaml:3: web: duplicate key; first set on line 1"
    ]


TOP = "config.yaml:1: expected a mapping of settings such as 'web:' or 'devices:', got "


@pytest.mark.parametrize(
    ("text", "got"), [("- web\n", "a list"), ("hello\n", "'hello'"), ("8086\n", "8086")]
)
def test_top_level_must_be_a_mapping(text: str, got: str) -> None:
    assert errors(text) == [TOP + got]


def test_sections_must_be_mappings() -> None:
    assert errors("web: true\nsampling: [1]\n") == [
        "config.yaml:1: web: expected a mapping of web settings, got true (a boolean)",
        "config.yaml:2: sampling: expected a mapping of sampling settings, got a list",
    ]


def test_non_name_keys() -> None:
    assert errors("? [a]\n: 1\n") == ["config.yaml:1: expected a key name, got a list"]
    assert errors("web: {8086: port}\n") == [
        "config.yaml:1: web.8086: unknown key; expected one of 'enabled', 'host', 'port',"
        " 'token', 'allowed_origins'"
    ]


# ---------------------------------------------------------------- devices


def test_device_pin_message_matches_the_documented_example() -> None:
    text = "\n" * 10 + textwrap.dedent(
        """\
        devices:
          - kind: throttling
          - kind: status_led
            pin: seventeen
        """
    )
    with pytest.raises(ConfigError) as info:
        parse_config(text, SOURCE)
    assert str(info.value) == (
        "config.yaml:14: devices[1].pin: expected a GPIO pin number 0-27 or a name like"
        " 'GPIO17', got 'seventeen'"
    )


def test_duplicate_device_ids_name_both_lines() -> None:
    assert errors(
        """\
        devices:
          - id: led
            kind: status_led
            pin: 17
          - kind: thermal_zone
            id: led
          - kind: throttling
          - kind: throttling
        """
    ) == [
        "config.yaml:6: devices[1].id: duplicate device id 'led';"
        " devices[0] on line 2 has the same id",
        "config.yaml:8: devices[3].id: duplicate device id 'throttling' (taken from its kind:"
        " set 'id:' to tell them apart); devices[2] on line 7 has the same id",
    ]


def test_two_leds_on_one_pin() -> None:
    assert errors(
        """\
        devices:
          - {id: a, kind: status_led, pin: GPIO17}
          - {id: b, kind: status_led, pin: 17}
        """
    ) == ["config.yaml:3: devices[1].pin: GPIO17 is already used by devices[0] on line 2"]


def test_unknown_device_kind_lists_the_known_ones() -> None:
    assert errors(
        """\
        devices:
          - kind: fan
          - kind: thermal
          - id: nothing
        """
    ) == [
        "config.yaml:2: devices[0].kind: expected one of 'throttling', 'thermal_zone',"
        " 'status_led', got 'fan'",
        "config.yaml:3: devices[1].kind: expected one of 'throttling', 'thermal_zone',"
        " 'status_led', got 'thermal'; did you mean 'thermal_zone'?",
        "config.yaml:4: devices[2]: missing required key 'kind'; expected one of 'throttling',"
        " 'thermal_zone', 'status_led'",
    ]


def test_device_settings_are_checked_per_kind() -> None:
    assert errors(
        """\
        devices:
          - kind: status_led
            id: Status LED
            colour: red
          - kind: thermal_zone
            zone: /sys/class/thermal/thermal_zone0
            intervall: 5
          - kind: throttling
            vcgencmd: vcgencmd
            interval: 0
          - kind: throttling
            id: t2
            pin: 4
          - just a string
        """
    ) == [
        "config.yaml:2: devices[0].pin: missing; expected a GPIO pin number 0-27 or a name"
        " like 'GPIO17'",
        "config.yaml:3: devices[0].id: expected an id of lowercase letters, digits, '_' and '-',"
        " got 'Status LED'",
        "config.yaml:4: devices[0].colour: unknown key; expected one of 'id', 'kind', 'pin',"
        " 'active_high'",
        "config.yaml:6: devices[1].zone: expected 'auto', a zone type like 'cpu-thermal' or a"
        " directory like 'thermal_zone0', got '/sys/class/thermal/thermal_zone0'",
        "config.yaml:7: devices[1].intervall: unknown key; did you mean 'interval'?",
        "config.yaml:9: devices[2].vcgencmd: expected the path of vcgencmd (an absolute path),"
        " got 'vcgencmd'",
        "config.yaml:10: devices[2].interval: expected a number of seconds >= 0.5 and <= 86400,"
        " got 0",
        "config.yaml:13: devices[3].pin: unknown key; expected one of 'id', 'kind', 'interval',"
        " 'vcgencmd'",
        "config.yaml:14: devices[4]: expected a mapping with 'kind:' and its settings,"
        " got 'just a string'",
    ]


def test_devices_must_be_a_list() -> None:
    assert errors("devices: {kind: throttling}\n") == [
        "config.yaml:1: devices: expected a list of devices, got a mapping"
    ]


def test_every_issue_is_reported_in_one_pass_sorted_by_line() -> None:
    lines = errors(
        """\
        web:
          prot: 80
        sampling:
          cpu: 0
        devices:
          - kind: fan
        health:
          disk_warning: 99
        logging: {level: loud}
        bogus: 1
        """
    )
    assert [line.split(":")[1] for line in lines] == ["2", "4", "6", "8", "9", "10"]
