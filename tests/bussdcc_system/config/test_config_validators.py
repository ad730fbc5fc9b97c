"""Each kind of value a setting declares: exact messages for what is wrong with it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

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
        "config.yaml:5: sampling.load: expected a number of seconds >= 0.1 and <= 86400,"
        " got a list",
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
        "config.yaml:6: sampling.network: expected a number of seconds >= 0.1 and <= 86400,"
        " got .inf",
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


# ---- values that could never work fail the check, not the daemon


def test_a_sampling_interval_below_its_floor_is_refused() -> None:
    # 1.0e-9 once burnt a core and wrote 12 MB of history in 15 s
    assert errors("sampling: {cpu: 1.0e-9}\n") == [
        "config.yaml:1: sampling.cpu: expected a number of seconds >= 0.1 and <= 86400, got 1.0e-9"
    ]


@pytest.mark.parametrize(
    ("document", "key", "floor"),
    [
        ("sampling: {{cpu: {}}}", "sampling.cpu", 0.1),
        ("sampling: {{memory: {}}}", "sampling.memory", 0.1),
        ("sampling: {{disk: {}}}", "sampling.disk", 1.0),
        ("sampling: {{load: {}}}", "sampling.load", 0.1),
        ("sampling: {{network: {}}}", "sampling.network", 0.1),
        ("sampling: {{identity: {}}}", "sampling.identity", 10.0),
        ("sampling: {{uptime: {}}}", "sampling.uptime", 0.1),
        ("history: {{flush_interval: {}}}", "history.flush_interval", 0.1),
        ("history: {{rotate_interval: {}}}", "history.rotate_interval", 60.0),
        ("devices: [{{kind: throttling, interval: {}}}]", "devices[0].interval", 0.5),
        ("devices: [{{kind: thermal_zone, interval: {}}}]", "devices[0].interval", 0.1),
    ],
)
def test_every_interval_has_a_floor(document: str, key: str, floor: float) -> None:
    parse(document.format(floor) + "\n")  # the floor itself is accepted
    lines = errors(document.format(floor * 0.99) + "\n")
    assert len(lines) == 1
    assert f": {key}: expected a number of seconds >= {floor:g} and <=" in lines[0]


@pytest.mark.parametrize(
    ("host", "hint"),
    [
        (
            "999.999.999.999",
            "an IPv4 address is four numbers 0-255, and a host name cannot end in a number",
        ),
        (
            "256.1.1.1",
            "an IPv4 address is four numbers 0-255, and a host name cannot end in a number",
        ),
        ("1.2.3", "a host name cannot end in a number"),
        ("'10.1'", "a host name cannot end in a number"),
        ("'0x7f000001'", "a host name cannot end in a number"),
        ("pi.local.42", "a host name cannot end in a number"),
        ('"[::1]"', 'write it without the brackets, in quotes: "::1"'),
    ],
)
def test_a_host_that_is_neither_an_address_nor_a_name_is_refused(host: str, hint: str) -> None:
    shown = host.strip("'\"")
    assert errors(f"web: {{host: {host}}}\n") == [
        "config.yaml:1: web.host: expected an IP address or host name to listen on,"
        f" got {shown!r}: {hint}"
    ]


@pytest.mark.parametrize(
    "host",
    [
        "0.0.0.0",
        "127.0.0.1",
        '"::"',
        '"fe80::1%eth0"',
        "localhost",
        "pi4",
        "pi.local",
        "my-pi.example.com",
        "4pi",
        "x1.y2",
    ],
)
def test_addresses_and_host_names_are_accepted(host: str) -> None:
    assert parse(f"web: {{host: {host}}}\n").web.host == host.strip('"')


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short name, so that messages quote its paths whole."""
    directory = Path(tempfile.mkdtemp(prefix="cfg", dir="/tmp"))
    yield directory
    shutil.rmtree(directory)


def test_a_history_directory_that_is_a_file_is_refused(short_dir: Path) -> None:
    existing = short_dir / "history"
    existing.write_text("")
    assert errors(f"history: {{directory: {existing}}}\n") == [
        "config.yaml:1: history.directory: expected a directory (an absolute path),"
        f" got {str(existing)!r}: it is an existing file, not a directory"
    ]
    below = existing / "sub"
    assert errors(f"history: {{directory: {below}}}\n") == [
        "config.yaml:1: history.directory: expected a directory (an absolute path),"
        f" got {str(below)!r}: {str(existing)!r} is an existing file, not a directory"
    ]


def test_a_history_directory_too_long_to_be_a_path_is_refused() -> None:
    message = (
        "config.yaml:1: history.directory: expected a directory (an absolute path),"
        " got '{}…': a path has at most 4095 bytes, 255 in each name"
    )
    long_name = "/var/" + "n" * 256
    assert errors(f"history: {{directory: {long_name}}}\n") == [message.format(long_name[:60])]
    long_path = "/var" + "/n" * 2048
    assert errors(f"history: {{directory: {long_path}}}\n") == [message.format(long_path[:60])]


def test_a_history_directory_that_exists_or_can_be_created_is_accepted(tmp_path: Path) -> None:
    assert parse(f"history: {{directory: {tmp_path}/}}\n").history.directory == str(tmp_path)
    missing = tmp_path / "not" / "yet"
    assert parse(f"history: {{directory: {missing}}}\n").history.directory == str(missing)


@pytest.mark.parametrize(
    ("token", "what", "position"),
    [
        ('"pässwort-0123456789"', "a non-ASCII character", 2),
        ('"0123456789abcdef-€"', "a non-ASCII character", 18),
        ('"0123456789 abcdef"', "a space", 11),
        ('"0123456789abcdef\\t"', "a control character", 17),
    ],
)
def test_a_token_a_client_could_never_send_is_refused(token: str, what: str, position: int) -> None:
    lines = errors(f"web: {{token: {token}}}\n")
    assert lines == [
        "config.yaml:1: web.token: expected a secret of ASCII letters, digits and punctuation"
        f" (printable ASCII, no spaces), got {what} at position {position}: it cannot be"
        " sent reliably in an 'Authorization: Bearer' header"
    ]
    assert "0123456789" not in lines[0] and "sswort" not in lines[0]


def test_a_token_of_printable_ascii_is_accepted() -> None:
    token = "!#$%&()*+,-./0123456789:;<=>?@AZ[]^_`az{|}~"
    assert parse(f"web: {{token: '{token}'}}\n").web.token == token
