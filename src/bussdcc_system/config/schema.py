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

from bussdcc_system.config.settings import DeviceType, section, setting
from bussdcc_system.config.validators import (
    BOOLEAN,
    Choice,
    GpioPin,
    Integer,
    ListOf,
    Nullable,
    Number,
    Text,
    Token,
    WarningBelowCritical,
    absolute_path,
    block_device,
    device_id,
    host_name,
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

    cpu: float = field(default=1.0, metadata=setting(seconds(), "CPU usage and frequency"))
    memory: float = field(default=2.0, metadata=setting(seconds(), "RAM and swap usage"))
    disk: float = field(
        default=30.0,
        metadata=setting(seconds(), "usage of `disks.mounts`, SD card bytes written"),
    )
    load: float = field(default=5.0, metadata=setting(seconds(), "load averages"))
    network: float = field(
        default=2.0, metadata=setting(seconds(), "per-interface traffic and addresses")
    )
    identity: float = field(
        default=300.0, metadata=setting(seconds(), "model, serial number, OS, hostname")
    )
    uptime: float = field(default=60.0, metadata=setting(seconds(), "uptime and boot time"))


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
            Text("an IP address or host name to listen on", host_name),
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
            Text("a directory (an absolute path)", absolute_path), "where the files go"
        ),
    )
    flush_interval: float = field(
        default=300.0,
        metadata=setting(
            seconds(le=3600.0),
            "seconds telemetry waits in memory before it is written; warnings: within 1 s",
        ),
    )
    rotate_interval: float = field(
        default=3600.0,
        metadata=setting(seconds(), "seconds per file before a new one is started"),
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


@dataclass(frozen=True)
class ThrottlingOptions:
    """Power and throttling flags from ``vcgencmd get_throttled``."""

    interval: float = field(default=5.0, metadata=setting(seconds(), "seconds between readings"))
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

    interval: float = field(default=5.0, metadata=setting(seconds(), "seconds between readings"))
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
    devices: tuple[DeviceConfig, ...] | None = None
    source: str = field(default="<defaults>", compare=False)


def default_config() -> Config:
    """The built-in configuration: what an empty or absent file means."""
    return Config()
