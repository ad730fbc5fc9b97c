"""Each kind of value a setting declares: exact messages for what is wrong with it."""

from __future__ import annotations

import pytest

from bussdcc_system.config import (
    StatusLedOptions,
)
from tests.bussdcc_system.config.config_helpers import (
    errors,
    parse,
)


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
        "config.yaml:2: sampling.cpu: expected a number of seconds >= 0.1 and <= 86400,"
        " got yes (a boolean)",
        "config.yaml:3: sampling.memory: expected a number of seconds >= 0.1 and <= 86400,"
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
        "config.yaml:2: sampling.cpu: expected a number of seconds >= 0.1 and <= 86400, got 'fast'",
        "config.yaml:3: sampling.memory: expected a number of seconds >= 0.1 and <= 86400,"
        " got '2' (a string: remove the quotes)",
        "config.yaml:4: sampling.disk: expected a number of seconds >= 1 and <= 86400,"
        " got '1e3' (text to YAML: write 1000 or 1.0e+3)",
        "config.yaml:5: sampling.load: expected a number of seconds >= 0.1 and <= 86400, got a list",
        "config.yaml:6: sampling.network: expected a number of seconds >= 0.1 and <= 86400,"
        " got an empty value",
        "config.yaml:7: sampling.identity: expected a number of seconds >= 10 and <= 86400,"
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
        "config.yaml:2: sampling.cpu: expected a number of seconds >= 0.1 and <= 86400, got 0",
        "config.yaml:3: sampling.memory: expected a number of seconds >= 0.1 and <= 86400, got -1",
        "config.yaml:4: sampling.disk: expected a number of seconds >= 1 and <= 86400, got 86401",
        "config.yaml:5: sampling.load: expected a number of seconds >= 0.1 and <= 86400, got .nan",
        "config.yaml:6: sampling.network: expected a number of seconds >= 0.1 and <= 86400, got .inf",
        "config.yaml:8: web.port: expected an integer 1-65535, got 0",
        "config.yaml:10: health.disk_warning: expected a percentage > 0 and <= 100, got 101",
        "config.yaml:11: health.temperature_critical: expected a temperature in degrees C"
        " > 0 and <= 150, got 200",
        "config.yaml:12: health.undervoltage_recent: expected a number of seconds > 0 and"
        " <= 2592000, got 0",
        "config.yaml:14: history.retention_days: expected a number of days > 0 and <= 36500, got 0",
        "config.yaml:15: history.flush_interval: expected a number of seconds >= 0.1 and <= 3600,"
        " got 3601",
    ]
    assert errors("web: {port: 65536}\n") == [
        "config.yaml:1: web.port: expected an integer 1-65535, got 65536"
    ]


def test_huge_integer_is_out_of_range_not_a_crash() -> None:
    assert errors(f"history: {{max_size_mb: {'9' * 400}}}\n") == [
        "config.yaml:1: history.max_size_mb: expected a size in megabytes > 0 and"
        f" <= 1000000000, got {'9' * 60}…"
    ]


def test_boundaries_are_accepted() -> None:
    config = parse("sampling: {cpu: 86400, memory: 0.1}\nweb: {port: 1}\n")
    assert (config.sampling.cpu, config.sampling.memory, config.web.port) == (86400.0, 0.1, 1)


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
