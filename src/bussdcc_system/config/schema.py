"""The configuration's schema: typed, frozen dataclasses, each setting declared once.

Defaults live here, in code, so that an empty or missing file is a working configuration
on any Linux host and the shipped conffile can stay all comments (editing a shipped
conffile later would prompt every admin who touched theirs). Each field's
``metadata=setting(...)`` is the only place its validator, bounds and meaning are
written: see :mod:`bussdcc_system.config.settings`. Dataclasses built directly in code
are not validated; only a parsed file is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, TypeAlias, get_args
from urllib.parse import urlsplit

from bussdcc_system.config.issues import Issues
from bussdcc_system.config.settings import DeviceType, section, setting
from bussdcc_system.config.validators import (
    BOOLEAN,
    Choice,
    Directory,
    GpioPin,
    HostAddress,
    Integer,
    ListOf,
    Nullable,
    Number,
    SectionRule,
    SectionValues,
    Text,
    Token,
    WarningBelowCritical,
    absolute_path,
    block_device,
    device_id,
    non_empty,
    origin,
    percentage,
    seconds,
    temperature,
    zone_name,
)

__all__ = [
    "DEVICE_KINDS",
    "DEVICE_OPTIONS",
    "DEVICE_TYPES",
    "SEVERITIES",
    "Config",
    "DeviceConfig",
    "DeviceKind",
    "DeviceOptions",
    "DisksConfig",
    "HealthConfig",
    "HistoryConfig",
    "LoggingConfig",
    "MqttConfig",
    "NotificationsConfig",
    "SamplingConfig",
    "Severity",
    "StatusLedOptions",
    "ThermalZoneOptions",
    "ThrottlingOptions",
    "WebConfig",
    "default_config",
]

Severity: TypeAlias = Literal["debug", "info", "warning", "error", "critical"]
SEVERITIES: Final[tuple[Severity, ...]] = get_args(Severity)
DeviceKind: TypeAlias = Literal["throttling", "thermal_zone", "status_led"]
DEVICE_KINDS: Final[tuple[DeviceKind, ...]] = get_args(DeviceKind)

_SEVERITY: Final = Choice(SEVERITIES, ignore_case=True)
_PATTERNS: Final = ListOf(
    "message name patterns", Text("a glob pattern like 'system.*'", non_empty)
)


@dataclass(frozen=True)
class SamplingConfig:
    """Seconds between two samples of each telemetry service."""

    cpu: float = field(
        default=1.0,
        metadata=setting(
            seconds(ge=0.1), "CPU usage and frequency (CPU time is counted in 10 ms ticks)"
        ),
    )
    memory: float = field(
        default=2.0,
        metadata=setting(seconds(ge=0.1), "RAM and swap usage (each reading is a history record)"),
    )
    disk: float = field(
        default=30.0,
        metadata=setting(
            seconds(ge=1.0),
            "usage of `disks.mounts`, SD card bytes written (stats every mount)",
        ),
    )
    load: float = field(
        default=5.0,
        metadata=setting(seconds(ge=0.1), "load averages (the kernel updates them every 5 s)"),
    )
    network: float = field(
        default=2.0,
        metadata=setting(
            seconds(ge=0.1), "per-interface traffic and addresses (a history record per interface)"
        ),
    )
    identity: float = field(
        default=300.0,
        metadata=setting(
            seconds(ge=10.0), "model, serial number, OS, hostname (they change at a reboot)"
        ),
    )
    uptime: float = field(
        default=60.0,
        metadata=setting(
            seconds(ge=0.1), "uptime and boot time (each reading is a history record)"
        ),
    )
    processes: float = field(
        default=5.0,
        metadata=setting(
            seconds(ge=1.0),
            "top processes by CPU and memory, only while a dashboard is open (a scan of"
            " every process: at least 1)",
        ),
    )


@dataclass(frozen=True)
class DisksConfig:
    """Which filesystems to watch, and which block device is the (wearing) SD card."""

    mounts: tuple[str, ...] = field(
        default=("/",),
        metadata=setting(
            ListOf(
                "mount points", Text("a mount point (an absolute path)", absolute_path), unique=True
            ),
            'mount points whose usage is watched, e.g. `["/", "/boot/firmware"]`; `[]` = none',
        ),
    )
    sd_card: str | None = field(
        default=None,
        metadata=setting(
            Nullable(Text("a block device name like 'mmcblk0' (without /dev/)", block_device)),
            "block device for the bytes-written wear figure, e.g. `mmcblk0`; `null` = auto-detect",
        ),
    )


@dataclass(frozen=True)
class WebConfig:
    """Dashboard server. ``token`` is a secret: kept out of repr and of every message."""

    enabled: bool = field(
        default=True, metadata=setting(BOOLEAN, "`false` = no dashboard, no API, no `/metrics`")
    )
    host: str = field(
        default="0.0.0.0",
        metadata=setting(
            HostAddress("an IP address or host name to listen on"),
            'address to listen on; `127.0.0.1` = this Pi only; IPv6 in quotes: `"::"`',
        ),
    )
    port: int = field(default=8086, metadata=setting(Integer(1, 65535), "TCP port"))
    token: str | None = field(
        default=None,
        repr=False,
        metadata=setting(
            Token(min_length=16), "secret that unlocks write actions; `null` = read-only"
        ),
    )
    allowed_origins: tuple[str, ...] = field(
        default=(),
        metadata=setting(
            ListOf(
                "origins",
                Text(
                    "an origin like 'http://pi.local:8086' (scheme://host[:port], no path) or '*'",
                    origin,
                ),
                unique=True,
            ),
            'extra browser origins allowed to connect, e.g. `["http://pi.local:8086"]`;'
            ' `"*"` = any',
        ),
    )


@dataclass(frozen=True)
class HistoryConfig:
    """Append-only JSONL history: where, how often it is flushed, and how long it is kept."""

    enabled: bool = field(default=True, metadata=setting(BOOLEAN, "`false` records nothing"))
    directory: str = field(
        default="/var/lib/bussdcc-system/history",
        metadata=setting(
            Directory("a directory (an absolute path)"),
            "where the files go; created if missing",
        ),
    )
    flush_interval: float = field(
        default=300.0,
        metadata=setting(
            seconds(ge=0.1, le=3600.0),
            "seconds telemetry waits in memory before it is written; warnings: within 1 s",
        ),
    )
    rotate_interval: float = field(
        default=3600.0,
        metadata=setting(
            seconds(ge=60.0),
            "seconds per file before the next (each is compressed and indexed)",
        ),
    )
    retention_days: float = field(
        default=30.0,
        metadata=setting(
            Number("a number of days", gt=0.0, le=36500.0),
            "delete files older than this many days",
        ),
    )
    max_size_mb: float = field(
        default=512.0,
        metadata=setting(
            Number("a size in megabytes", gt=0.0, le=1e9),
            "...and the oldest files beyond this total size",
        ),
    )
    compress: bool = field(
        default=True, metadata=setting(BOOLEAN, "gzip files as they are written")
    )
    min_severity: Severity = field(
        default="info", metadata=setting(_SEVERITY, "record messages of this severity and above")
    )
    include: tuple[str, ...] = field(
        default=("*",),
        metadata=setting(
            _PATTERNS,
            'message names to record, e.g. `["system.*", "health.*"]`; `[]` = none',
        ),
    )
    exclude: tuple[str, ...] = field(
        default=(),
        metadata=setting(_PATTERNS, "message names never to record; wins over `include`"),
    )


@dataclass(frozen=True)
class HealthConfig:
    """Thresholds (degrees C, percent used) that turn readings into health states."""

    temperature_warning: float = field(
        default=70.0, metadata=setting(temperature(), "SoC temperature")
    )
    temperature_critical: float = field(
        default=80.0, metadata=setting(temperature(), "SoC temperature")
    )
    disk_warning: float = field(
        default=85.0, metadata=setting(percentage(), "percent used of any watched mount")
    )
    disk_critical: float = field(
        default=95.0, metadata=setting(percentage(), "percent used of any watched mount")
    )
    memory_warning: float = field(
        default=90.0, metadata=setting(percentage(), "percent of RAM used")
    )
    memory_critical: float = field(
        default=97.0, metadata=setting(percentage(), "percent of RAM used")
    )
    undervoltage_recent: float = field(
        default=3600.0,
        metadata=setting(
            seconds(le=30 * 86400.0),
            "seconds an under-voltage keeps health at warning after it ended",
        ),
    )


@dataclass(frozen=True)
class LoggingConfig:
    """Daemon log level; ``console`` = structured JSON lines on stdout (the journal)."""

    level: Severity = field(
        default="info", metadata=setting(_SEVERITY, "log messages of this severity and above")
    )
    console: bool = field(
        default=True,
        metadata=setting(BOOLEAN, "structured JSON lines on stdout (the journal under systemd)"),
    )


def mqtt_topic(value: str) -> str | None:
    """A topic to publish under: no wildcard, no empty first or last level, no NUL."""
    bad = not value or value[0] == "/" or value[-1] == "/" or any(c in value for c in "+#\0")
    return None if bad or len(value.encode()) > 1024 else value


def http_url(value: str) -> str | None:
    """An ``http://`` or ``https://`` URL with a host."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    ok = (
        parts.scheme in ("http", "https") and parts.hostname and not any(c.isspace() for c in value)
    )
    return value if ok else None


class NeedsAnother(SectionRule):
    """A setting that means nothing without another: ``(setting, needed, needed_as, why)``
    where ``needed_as`` is how the needed setting reads when set (``tls: true``)."""

    def __init__(self, *pairs: tuple[str, str, str, str]) -> None:
        self.pairs = pairs
        self.doc = "; ".join(f"{name} needs {shown}" for name, _, shown, _ in pairs) + "."

    def __call__(self, issues: Issues, section: SectionValues) -> None:
        path = section.path
        for name, needed, shown, why in self.pairs:
            if section.values.get(name) in (None, False) or section.rejected(needed):
                continue  # not set, or the needed one is already reported as invalid
            if not section.value(needed):
                issues.fail(section.given[name], f"{path}.{name}", f"needs {path}.{shown} ({why})")


@dataclass(frozen=True)
class MqttConfig:
    """A broker to publish to, with Home Assistant discovery; the password is read from
    ``password_file`` at each connection and never written here."""

    enabled: bool = field(
        default=False, metadata=setting(BOOLEAN, "`true` = publish to the broker below")
    )
    host: str = field(
        default="localhost",
        metadata=setting(
            HostAddress("the broker's IP address or host name"), "the broker's host name or address"
        ),
    )
    port: int = field(
        default=1883,
        metadata=setting(Integer(1, 65535), "the broker's TCP port; usually 8883 with TLS"),
    )
    username: str | None = field(
        default=None,
        metadata=setting(Nullable(Text("a user name", non_empty)), "`null` = connect anonymously"),
    )
    password_file: str | None = field(
        default=None,
        metadata=setting(
            Nullable(Text("a file (an absolute path)", absolute_path)),
            "file whose first line is the password, readable by the service; `null` = none",
        ),
    )
    tls: bool = field(
        default=False, metadata=setting(BOOLEAN, "`true` = TLS, the broker's certificate checked")
    )
    ca_file: str | None = field(
        default=None,
        metadata=setting(
            Nullable(Text("a file (an absolute path)", absolute_path)),
            "PEM file of the CA that signed the broker's certificate; `null` = the system's",
        ),
    )
    topic: str | None = field(
        default=None,
        metadata=setting(
            Nullable(Text("an MQTT topic without wildcards like 'bussdcc-system/pi'", mqtt_topic)),
            "base topic of this Pi's state and availability; `null` = `bussdcc-system/<hostname>`",
            default_text="`bussdcc-system/<hostname>`",
        ),
    )
    discovery_prefix: str = field(
        default="homeassistant",
        metadata=setting(
            Text("an MQTT topic without wildcards", mqtt_topic),
            "Home Assistant's discovery prefix",
        ),
    )
    interval: float = field(
        default=30.0,
        metadata=setting(
            seconds(ge=1.0),
            "seconds between two state messages (at least 1: each is a broker round trip and"
            " a Home Assistant state write); power and health changes go at once",
        ),
    )


@dataclass(frozen=True)
class NotificationsConfig:
    """Where to post a short message when health changes or a power episode starts or
    ends. The URLs are secrets (a topic or webhook URL is its own password): kept out of
    repr and of every message."""

    ntfy_url: str | None = field(
        default=None,
        repr=False,
        metadata=setting(
            Nullable(Text("an http:// or https:// URL", http_url)),
            "an ntfy topic URL, e.g. `https://ntfy.sh/my-pi-alerts`; `null` = none",
        ),
    )
    webhook_url: str | None = field(
        default=None,
        repr=False,
        metadata=setting(
            Nullable(Text("an http:// or https:// URL", http_url)),
            "a URL that gets each notification as a JSON POST; `null` = none",
        ),
    )
    min_interval: float = field(
        default=60.0,
        metadata=setting(
            seconds(ge=1.0),
            "seconds between two posts to one endpoint (at least 1, ntfy's own rate limit is"
            " stricter); what happens meanwhile goes together",
        ),
    )
    health: bool = field(
        default=True, metadata=setting(BOOLEAN, "post when the health level changes")
    )
    power: bool = field(
        default=True,
        metadata=setting(BOOLEAN, "post when under-voltage or throttling starts and ends"),
    )


@dataclass(frozen=True)
class ThrottlingOptions:
    """Power and throttling flags from ``vcgencmd get_throttled``."""

    interval: float = field(
        default=5.0,
        metadata=setting(seconds(ge=0.5), "seconds between readings (each one runs vcgencmd)"),
    )
    vcgencmd: str = field(
        default="/usr/bin/vcgencmd",
        metadata=setting(
            Text("the path of vcgencmd (an absolute path)", absolute_path),
            "the program that reads the firmware's flags",
        ),
    )


@dataclass(frozen=True)
class ThermalZoneOptions:
    """A sysfs thermal zone: ``auto``, a zone type (``cpu-thermal``) or ``thermal_zone0``."""

    interval: float = field(
        default=5.0,
        metadata=setting(seconds(ge=0.1), "seconds between readings (each is a history record)"),
    )
    zone: str = field(
        default="auto",
        metadata=setting(
            Text(
                "'auto', a zone type like 'cpu-thermal' or a directory like 'thermal_zone0'",
                zone_name,
            ),
            "which zone under `/sys/class/thermal`; `auto` = the CPU's",
        ),
    )


@dataclass(frozen=True)
class StatusLedOptions:
    """A GPIO LED showing overall health; ``pin`` is a BCM number (names are normalised)."""

    pin: int = field(
        metadata=setting(
            GpioPin(0, 27),
            "the BCM pin number; `GPIO17` / `BCM17` in any case",
            example="GPIO17",
        )
    )
    active_high: bool = field(
        default=True, metadata=setting(BOOLEAN, "`false` if the LED lights when the pin is low")
    )


DeviceOptions: TypeAlias = ThrottlingOptions | ThermalZoneOptions | StatusLedOptions
DEVICE_TYPES: Final[tuple[DeviceType, ...]] = (
    DeviceType(
        "throttling",
        ThrottlingOptions,
        "Under-voltage and throttling flags from the Raspberry Pi firmware.",
        example_id="throttling",
    ),
    DeviceType(
        "thermal_zone",
        ThermalZoneOptions,
        "A temperature sensor under /sys/class/thermal.",
        example_id="cpu_temperature",
    ),
    DeviceType(
        "status_led",
        StatusLedOptions,
        "An LED on a GPIO pin showing overall health (pin has no default).",
        example_id="status_led",
    ),
)
DEVICE_OPTIONS: Final[Mapping[str, type[DeviceOptions]]] = {
    device_type.kind: device_type.options for device_type in DEVICE_TYPES
}


@dataclass(frozen=True)
class DeviceConfig:
    """One device to attach. ``line`` is where it was declared (0: not from a file); it
    is left out of equality so that moving a device in the file is not a change."""

    id: str = field(
        metadata=setting(
            Text("an id of lowercase letters, digits, '_' and '-'", device_id),
            "unique name; two devices of the same kind need distinct ids",
            default_text="the kind",
        )
    )
    kind: DeviceKind = field(metadata=setting(Choice(DEVICE_KINDS), "what the device is"))
    options: DeviceOptions
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Config:
    """The whole configuration. ``devices`` None means auto-detect (attach the devices
    whose hardware exists); a tuple, even empty, is used as is. ``source`` names the file
    and is left out of equality: two configurations that say the same thing are equal."""

    sampling: SamplingConfig = field(
        default_factory=SamplingConfig,
        metadata=section("how often each telemetry service reads the host"),
    )
    disks: DisksConfig = field(
        default_factory=DisksConfig, metadata=section("filesystems and the SD card")
    )
    web: WebConfig = field(default_factory=WebConfig, metadata=section("the dashboard"))
    history: HistoryConfig = field(
        default_factory=HistoryConfig,
        metadata=section("append-only JSONL under the directory below"),
    )
    health: HealthConfig = field(
        default_factory=HealthConfig,
        metadata=section(
            "thresholds that turn readings into ok / warning / critical",
            rule=WarningBelowCritical("temperature", "disk", "memory"),
        ),
    )
    logging: LoggingConfig = field(
        default_factory=LoggingConfig, metadata=section("the daemon's own log")
    )
    mqtt: MqttConfig = field(
        default_factory=MqttConfig,
        metadata=section(
            "an MQTT broker and Home Assistant discovery",
            rule=NeedsAnother(
                ("password_file", "username", "username", "a password goes with a user name"),
                ("ca_file", "tls", "tls: true", "the CA checks the broker's TLS certificate"),
            ),
        ),
    )
    notifications: NotificationsConfig = field(
        default_factory=NotificationsConfig,
        metadata=section("short messages to ntfy or a webhook when something changes"),
    )
    devices: tuple[DeviceConfig, ...] | None = None
    source: str = field(default="<defaults>", compare=False)


def default_config() -> Config:
    """The built-in configuration: what an empty or absent file means."""
    return Config()
