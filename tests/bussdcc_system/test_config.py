"""The configuration layer: real files and real YAML in, typed values or exact messages out."""

from __future__ import annotations

import dataclasses
import os
import re
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bussdcc_system.config import (
    CONFIG_ENV,
    DEFAULT_CONFIG_PATH,
    DEVICE_KINDS,
    DEVICE_OPTIONS,
    Config,
    ConfigError,
    ConfigIssue,
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
    diff_configs,
    load_config,
    parse_config,
    resolve_config_path,
)

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "etc" / "bussdcc-system" / "config.yaml"
DOCS = REPO / "docs" / "configuration.md"
SOURCE = "/etc/bussdcc-system/config.yaml"


def parse(text: str) -> Config:
    return parse_config(textwrap.dedent(text), SOURCE)


def errors(text: str) -> list[str]:
    """The lines a user would see for this text."""
    with pytest.raises(ConfigError) as info:
        parse(text)
    lines = str(info.value).splitlines()
    assert lines == [str(issue) for issue in info.value.issues]
    return lines


def uncomment(text: str) -> str:
    """What an admin gets by removing the '#' in front of every shipped setting."""
    return re.sub(r"(?m)^#(\S|  )", r"\1", text)


# ---------------------------------------------------------------- defaults and loading


def test_defaults_are_the_documented_schema() -> None:
    config = default_config()
    assert config.sampling == SamplingConfig(
        cpu=1.0, memory=2.0, disk=30.0, load=5.0, network=2.0, identity=300.0, uptime=60.0
    )
    assert config.disks == DisksConfig(mounts=("/",), sd_card=None)
    assert config.web == WebConfig(
        enabled=True, host="0.0.0.0", port=8086, token=None, allowed_origins=()
    )
    assert config.history.directory == "/var/lib/bussdcc-system/history"
    assert config.history.include == ("*",)
    assert config.history.min_severity == "info"
    assert config.health.undervoltage_recent == 3600.0
    assert config.logging == LoggingConfig(level="info", console=True)
    assert config.devices is None
    assert config == Config()


def test_configs_are_frozen() -> None:
    config = default_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.web = WebConfig()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.sampling.cpu = 2.0  # type: ignore[misc]


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "---\n", "~\n", "null\n"])
def test_empty_document_is_the_defaults(text: str) -> None:
    config = parse_config(text, SOURCE)
    assert config == default_config()
    assert config.source == SOURCE


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


def test_missing_file_at_default_path_means_defaults(tmp_path: Path) -> None:
    path = tmp_path / "absent" / "config.yaml"
    config = load_config(path)
    assert config == default_config()
    assert config.source == str(path)


def test_missing_file_given_explicitly_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path, explicit=True)
    assert str(info.value) == f"config.yaml: cannot read {path}: no such file"
    assert info.value.issues == [
        ConfigIssue(str(path), None, "", f"cannot read {path}: no such file")
    ]


def test_directory_is_an_error_even_at_default_path(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.mkdir()
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"config.yaml: cannot read {path}: it is a directory, not a file"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file; see test_cli_check_config")
def test_unreadable_file_says_permission_denied(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("web: {}\n")
    path.chmod(0)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"config.yaml: cannot read {path}: permission denied"


def test_load_reads_a_real_file(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("web:\n  port: 9000\n")
    config = load_config(str(path), explicit=True)
    assert config.web.port == 9000
    assert config.source == str(path)


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"web:\n  host: caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == "config.yaml:2: not UTF-8 text: byte 0xe9 cannot be decoded"


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"\xef\xbb\xbfweb:\n  port: 9000\n")
    assert load_config(path).web.port == 9000


def test_resolve_config_path() -> None:
    assert resolve_config_path(None, {}) == (DEFAULT_CONFIG_PATH, False)
    assert resolve_config_path(None, {CONFIG_ENV: ""}) == (DEFAULT_CONFIG_PATH, False)
    assert resolve_config_path(None, {CONFIG_ENV: "/srv/c.yaml"}) == (Path("/srv/c.yaml"), True)
    assert resolve_config_path("/x.yaml", {CONFIG_ENV: "/srv/c.yaml"}) == (Path("/x.yaml"), True)
    assert str(DEFAULT_CONFIG_PATH) == "/etc/bussdcc-system/config.yaml"


# ---------------------------------------------------------------- a full configuration


FULL = """\
sampling:
  cpu: 0.5
  disk: 60
disks:
  mounts: [/, /boot/firmware/]
  sd_card: mmcblk0
web:
  enabled: yes
  host: "::"
  port: 8443
  token: "0123456789abcdef0123"
  allowed_origins: ["http://pi.local:8086", "*"]
history:
  directory: /data/history
  flush_interval: 1
  min_severity: WARNING
  include: ["system.*", "health.*"]
  exclude: ["system.cpu.*"]
  compress: off
health:
  temperature_warning: 60
  temperature_critical: 75.5
logging:
  level: debug
  console: false
devices:
  - kind: throttling
    interval: 10
  - id: cpu_temp
    kind: thermal_zone
    zone: cpu-thermal
  - id: led-green
    kind: status_led
    pin: GPIO17
  - id: led-red
    kind: status_led
    pin: bcm27
    active_high: false
  - id: led-blue
    kind: status_led
    pin: 4
"""


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


# ---------------------------------------------------------------- exact messages


def test_unknown_key_suggests_the_close_one() -> None:
    assert errors("web:\n  port: 8086\n  prot: 80\n") == [
        "config.yaml:3: web.prot: unknown key; did you mean 'port'?"
    ]


def test_unknown_key_without_a_close_one_lists_the_known_ones() -> None:
    assert errors("smapling: {}\nfrobnicate: 1\n") == [
        "config.yaml:1: smapling: unknown key; did you mean 'sampling'?",
        "config.yaml:2: frobnicate: unknown key; expected one of 'sampling', 'disks', 'web',"
        " 'history', 'health', 'logging', 'devices'",
    ]


def test_malformed_yaml_names_line_and_column() -> None:
    assert errors("web:\n  port: 8086\n host: x\n") == [
        "config.yaml:3: invalid YAML at column 2: expected <block end>, but found"
        " '<block mapping start>' (while parsing a block mapping started on line 1)"
    ]
    assert errors("web: {port: 8086\n") == [
        "config.yaml:2: invalid YAML at column 1: expected ',' or '}', but got '<stream end>'"
        " (while parsing a flow mapping started on line 1)"
    ]
    assert errors("web:\n  host: a: b\n") == [
        "config.yaml:2: invalid YAML at column 10: mapping values are not allowed here;"
        " quote a value that contains ': '"
    ]


def test_tab_indentation_is_explained() -> None:
    assert errors("web:\n\tport: 80\n") == [
        "config.yaml:2: invalid YAML at column 1: found character '\\t' that cannot start"
        " any token (while scanning for the next token); indent with spaces, not tabs"
    ]


def test_unterminated_quote_points_at_its_start() -> None:
    assert errors("web:\n  host: 'oops\n") == [
        "config.yaml:3: invalid YAML at column 1: found unexpected end of stream"
        " (while scanning a quoted scalar started on line 2)"
    ]


def test_second_document_is_an_error() -> None:
    assert errors("web: {}\n---\nweb: {}\n") == [
        "config.yaml:2: invalid YAML at column 1: a configuration is one YAML document,"
        " found a second ('---')"
    ]


def test_undefined_alias_and_control_characters() -> None:
    assert errors("web: *nope\n") == [
        "config.yaml:1: invalid YAML at column 6: found undefined alias 'nope'"
    ]
    assert errors("web:\n  host: a\x07b\n") == [
        "config.yaml:2: invalid YAML at column 10: character '\\x07' is not allowed"
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


def test_booleans_are_not_numbers_and_strings_are_not_booleans() -> None:
    assert errors(
        """\
        sampling:
          cpu: yes
          memory: true
        web:
          port: on
          enabled: "true"
        logging:
          console: 1
        """
    ) == [
        "config.yaml:2: sampling.cpu: expected a number of seconds > 0 and <= 86400,"
        " got yes (a boolean)",
        "config.yaml:3: sampling.memory: expected a number of seconds > 0 and <= 86400,"
        " got true (a boolean)",
        "config.yaml:5: web.port: expected an integer 1-65535, got on (a boolean)",
        "config.yaml:6: web.enabled: expected true or false, got 'true'",
        "config.yaml:8: logging.console: expected true or false, got 1",
    ]


def test_wrong_types() -> None:
    assert errors(
        """\
        sampling:
          cpu: fast
          memory: "2"
          disk: 1e3
          load: [5]
          network:
          identity: 2024-01-01
        web:
          port: 8086.0
          host: 127
        disks:
          mounts: /
        """
    ) == [
        "config.yaml:2: sampling.cpu: expected a number of seconds > 0 and <= 86400, got 'fast'",
        "config.yaml:3: sampling.memory: expected a number of seconds > 0 and <= 86400,"
        " got '2' (a string: remove the quotes)",
        "config.yaml:4: sampling.disk: expected a number of seconds > 0 and <= 86400,"
        " got '1e3' (text to YAML: write 1000 or 1.0e+3)",
        "config.yaml:5: sampling.load: expected a number of seconds > 0 and <= 86400, got a list",
        "config.yaml:6: sampling.network: expected a number of seconds > 0 and <= 86400,"
        " got an empty value",
        "config.yaml:7: sampling.identity: expected a number of seconds > 0 and <= 86400,"
        " got '2024-01-01' (a timestamp)",
        "config.yaml:9: web.port: expected an integer 1-65535, got 8086.0",
        "config.yaml:10: web.host: expected an IP address or host name to listen on, got 127",
        "config.yaml:12: disks.mounts: expected a list of mount points, got '/'",
    ]


def test_out_of_range_numbers() -> None:
    assert errors(
        """\
        sampling:
          cpu: 0
          memory: -1
          disk: 86401
          load: .nan
          network: .inf
        web:
          port: 0
        health:
          disk_warning: 101
          temperature_critical: 200
          undervoltage_recent: 0
        history:
          retention_days: 0
          flush_interval: 3601
        """
    ) == [
        "config.yaml:2: sampling.cpu: expected a number of seconds > 0 and <= 86400, got 0",
        "config.yaml:3: sampling.memory: expected a number of seconds > 0 and <= 86400, got -1",
        "config.yaml:4: sampling.disk: expected a number of seconds > 0 and <= 86400, got 86401",
        "config.yaml:5: sampling.load: expected a number of seconds > 0 and <= 86400, got .nan",
        "config.yaml:6: sampling.network: expected a number of seconds > 0 and <= 86400, got .inf",
        "config.yaml:8: web.port: expected an integer 1-65535, got 0",
        "config.yaml:10: health.disk_warning: expected a percentage > 0 and <= 100, got 101",
        "config.yaml:11: health.temperature_critical: expected a temperature in degrees C"
        " > 0 and <= 150, got 200",
        "config.yaml:12: health.undervoltage_recent: expected a number of seconds > 0 and"
        " <= 2592000, got 0",
        "config.yaml:14: history.retention_days: expected a number of days > 0 and <= 36500, got 0",
        "config.yaml:15: history.flush_interval: expected a number of seconds > 0 and <= 3600,"
        " got 3601",
    ]
    assert errors("web: {port: 65536}\n") == [
        "config.yaml:1: web.port: expected an integer 1-65535, got 65536"
    ]


def test_huge_integer_is_out_of_range_not_a_crash() -> None:
    assert errors(f"history: {{max_size_mb: {'9' * 400}}}\n") == [
        "config.yaml:1: history.max_size_mb: expected a size in megabytes > 0 and"
        f" <= 1000000000, got {'9' * 400}"
    ]


def test_boundaries_are_accepted() -> None:
    config = parse("sampling: {cpu: 86400, memory: 0.001}\nweb: {port: 1}\n")
    assert (config.sampling.cpu, config.sampling.memory, config.web.port) == (86400.0, 0.001, 1)


def test_warning_must_be_below_critical() -> None:
    assert errors(
        """\
        health:
          temperature_warning: 80
          temperature_critical: 80
          disk_critical: 50
          memory_warning: 99
        """
    ) == [
        "config.yaml:2: health.temperature_warning: expected less than"
        " health.temperature_critical (80), got 80",
        "config.yaml:4: health.disk_critical: expected more than health.disk_warning"
        " (85, the default), got 50",
        "config.yaml:5: health.memory_warning: expected less than health.memory_critical"
        " (97, the default), got 99",
    ]


def test_cross_check_skips_values_already_reported() -> None:
    assert errors("health: {temperature_warning: hot, temperature_critical: 10}\n") == [
        "config.yaml:1: health.temperature_warning: expected a temperature in degrees C"
        " > 0 and <= 150, got 'hot'"
    ]


def test_strings_paths_and_choices() -> None:
    assert errors(
        """\
        disks:
          mounts: [/, boot, /]
          sd_card: /dev/mmcblk0
        web:
          host: not a host
          allowed_origins: [pi.local, "http://pi.local/"]
        history:
          directory: history
          min_severity: warn
          include: [""]
        logging:
          level: verbose
        """
    ) == [
        "config.yaml:2: disks.mounts[1]: expected a mount point (an absolute path), got 'boot'",
        "config.yaml:2: disks.mounts[2]: '/' is listed twice; first on line 2",
        "config.yaml:3: disks.sd_card: expected a block device name like 'mmcblk0'"
        " (without /dev/), got '/dev/mmcblk0'",
        "config.yaml:5: web.host: expected an IP address or host name to listen on,"
        " got 'not a host'",
        "config.yaml:6: web.allowed_origins[0]: expected an origin like 'http://pi.local:8086'"
        " (scheme://host[:port], no path) or '*', got 'pi.local'",
        "config.yaml:6: web.allowed_origins[1]: expected an origin like 'http://pi.local:8086'"
        " (scheme://host[:port], no path) or '*', got 'http://pi.local/'",
        "config.yaml:8: history.directory: expected a directory (an absolute path), got 'history'",
        "config.yaml:9: history.min_severity: expected one of 'debug', 'info', 'warning',"
        " 'error', 'critical', got 'warn'; did you mean 'warning'?",
        "config.yaml:10: history.include[0]: expected a glob pattern like 'system.*', got ''",
        "config.yaml:12: logging.level: expected one of 'debug', 'info', 'warning', 'error',"
        " 'critical', got 'verbose'",
    ]


def test_token_errors_never_show_the_token() -> None:
    assert errors("web: {token: hunter2}\n") == [
        "config.yaml:1: web.token: expected a secret string of at least 16 characters,"
        " got 7 characters"
    ]
    assert errors("web: {token: 12345678901234567890}\n") == [
        "config.yaml:1: web.token: expected a secret string of at least 16 characters"
        " (quote it), got a number"
    ]


def test_unsupported_tag() -> None:
    assert errors("web: {host: !secret pi}\n") == [
        "config.yaml:1: web.host: expected an IP address or host name to listen on,"
        " got 'pi' with unsupported tag !secret"
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


@pytest.mark.parametrize("pin", ["28", "-1", "GPIO28", "BOARD11", "true", "4.0", "'J8:11'"])
def test_bad_pins(pin: str) -> None:
    lines = errors(f"devices:\n  - {{kind: status_led, pin: {pin}}}\n")
    assert len(lines) == 1
    assert lines[0].startswith(
        "config.yaml:2: devices[0].pin: expected a GPIO pin number 0-27 or a name like"
        " 'GPIO17', got "
    )


@pytest.mark.parametrize(
    ("pin", "number"),
    [("0", 0), ("27", 27), ("GPIO17", 17), ("gpio4", 4), ("BCM22", 22), ("'5'", 5)],
)
def test_pin_names_are_normalised(pin: str, number: int) -> None:
    config = parse(f"devices:\n  - {{kind: status_led, pin: {pin}}}\n")
    assert config.devices is not None
    assert config.devices[0].options == StatusLedOptions(pin=number)


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
        "config.yaml:10: devices[2].interval: expected a number of seconds > 0 and <= 86400, got 0",
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


def test_device_kinds_and_option_types_agree() -> None:
    assert set(DEVICE_KINDS) == set(DEVICE_OPTIONS)


# ---------------------------------------------------------------- issues and errors


def test_issue_rendering() -> None:
    assert str(ConfigIssue("/a/b/config.yaml", 3, "web.port", "m")) == "config.yaml:3: web.port: m"
    assert str(ConfigIssue("/a/b/config.yaml", None, "", "m")) == "config.yaml: m"
    assert str(ConfigIssue("<string>", 1, "", "m")) == "<string>:1: m"
    error = ConfigError([ConfigIssue("c.yaml", 1, "a", "x"), ConfigIssue("c.yaml", 2, "b", "y")])
    assert str(error) == "c.yaml:1: a: x\nc.yaml:2: b: y"
    assert isinstance(error, Exception)


# ---------------------------------------------------------------- the shipped file and docs


def test_shipped_file_is_exactly_the_defaults() -> None:
    assert load_config(SHIPPED, explicit=True) == default_config()


def test_uncommenting_every_shipped_setting_gives_defaults_plus_the_examples() -> None:
    text = uncomment(SHIPPED.read_text())
    config = parse_config(text, str(SHIPPED))
    assert dataclasses.replace(config, devices=None) == default_config()
    assert config.devices == (
        DeviceConfig("throttling", "throttling", ThrottlingOptions()),
        DeviceConfig("cpu_temperature", "thermal_zone", ThermalZoneOptions()),
        DeviceConfig("status_led", "status_led", StatusLedOptions(pin=17)),
    )
    # every setting of every section is shown, and every device option
    root = yaml.safe_load(text)
    for name, cls in [
        ("sampling", SamplingConfig),
        ("disks", DisksConfig),
        ("web", WebConfig),
        ("history", HistoryConfig),
        ("health", HealthConfig),
        ("logging", LoggingConfig),
    ]:
        assert list(root[name]) == [f.name for f in dataclasses.fields(cls)], name
    for device in root["devices"]:
        option_type = DEVICE_OPTIONS[device["kind"]]
        assert set(device) == {"id", "kind"} | {f.name for f in dataclasses.fields(option_type)}


def test_shipped_file_is_ascii() -> None:
    SHIPPED.read_bytes().decode("ascii")


def test_docs_name_every_setting() -> None:
    docs = DOCS.read_text()
    classes = [
        SamplingConfig,
        DisksConfig,
        WebConfig,
        HistoryConfig,
        HealthConfig,
        LoggingConfig,
        ThrottlingOptions,
        ThermalZoneOptions,
        StatusLedOptions,
    ]
    for cls in classes:
        for f in dataclasses.fields(cls):
            assert f"`{f.name}`" in docs, f"{cls.__name__}.{f.name}"
    for kind in DEVICE_KINDS:
        assert f"`{kind}`" in docs


# ---------------------------------------------------------------- describe


def test_describe_config() -> None:
    assert describe_config(default_config()) == [
        "devices: auto-detect",
        "web: 0.0.0.0:8086, read-only (no token)",
        "history: /var/lib/bussdcc-system/history, kept 30 days or 512 MB",
    ]
    config = parse_config(FULL, SOURCE)
    assert describe_config(config) == [
        "devices: 5 configured: throttling, cpu_temp (thermal_zone), led-green (status_led),"
        " led-red (status_led), led-blue (status_led)",
        "web: [::]:8443, write actions enabled (token set)",
        "history: /data/history, kept 30 days or 512 MB",
    ]
    off = parse("web: {enabled: false}\nhistory: {enabled: false}\ndevices: []\n")
    assert describe_config(off) == ["devices: none", "web: disabled", "history: disabled"]


# ---------------------------------------------------------------- diff


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


# ---------------------------------------------------------------- robustness


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_any_text_gives_a_config_or_a_config_error(text: str) -> None:
    try:
        parse_config(text, SOURCE)
    except ConfigError as exc:
        assert exc.issues
        assert all(str(issue).startswith("config.yaml") for issue in exc.issues)


_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12))
_keys = st.sampled_from(
    [
        "sampling",
        "web",
        "devices",
        "health",
        "history",
        "disks",
        "logging",
        "port",
        "cpu",
        "kind",
        "pin",
        "id",
        "zone",
        "token",
        "include",
        "mounts",
        "x",
    ]
)
_documents = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents)
def test_any_yaml_structure_gives_a_config_or_a_config_error(document: object) -> None:
    text = yaml.safe_dump(document)
    try:
        config = parse_config(text, SOURCE)
    except ConfigError as exc:
        assert exc.issues
        assert all(issue.line is not None and issue.line >= 1 for issue in exc.issues)
    else:
        assert isinstance(config, Config)
