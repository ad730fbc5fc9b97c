"""The appliance's message vocabulary: what telemetry, devices and health say.

Every message is a frozen dataclass with a dotted ``name`` (the seed's names) and a
``Severity``. A value the host does not have is ``None`` (absent), never zero: a Pi
without swap has ``swap_percent=None``, an x86 box has ``model=None``.

Severity is a class attribute in the kernel, so a message whose importance depends on
its content has subclasses that share its ``name`` (``isinstance`` against the base
class matches them all): ``ThrottlingUnderVoltage`` (WARNING) is a
``ThrottlingUpdated`` sent while the Pi is under-voltage; ``HealthWarning`` (WARNING)
and ``HealthCritical`` (ERROR) are ``HealthChanged`` at those levels. Build them with
``throttling_updated(...)`` and ``health_changed(...)``, which pick the class.

See ``docs/telemetry.md`` for every field, its unit and when it is emitted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from bussdcc import Message, Severity
from bussdcc_system import throttling_flags

HealthLevel = Literal["ok", "warning", "critical"]
HEALTH_LEVELS: Final[tuple[str, ...]] = ("ok", "warning", "critical")
"""Health levels from best to worst (index = rank)."""
HEALTH_RANK: Final[Mapping[str, int]] = {level: rank for rank, level in enumerate(HEALTH_LEVELS)}
"""Level -> rank (0 is ``ok``): what sorts findings and picks the worst of several."""

THROTTLING_FLAGS: Final[tuple[str, ...]] = throttling_flags.FIELDS
"""The eight ``get_throttled`` flag fields of ``ThrottlingUpdated``, in field order (bits
0-3, then 16-19); declared in ``bussdcc_system.throttling_flags``."""


# --- CPU, memory, load, uptime -------------------------------------------------------


@dataclass(slots=True, frozen=True)
class CpuUsageUpdated(Message):
    """CPU time shares (percent of all CPU time) since the previous sample.

    ``percent`` is busy time (everything but idle and iowait), as psutil counts it.
    ``per_core`` is busy percent per CPU in ``/proc/stat`` order; a core whose counters
    went backwards (hot-plug) is ``None`` for that sample. Not emitted on the first
    sample (there is no interval yet) nor after a counter reset.

    ``freq_mhz`` is the CPU clock now (the mean of the cpufreq policies; a Pi has one),
    ``freq_min_mhz``/``freq_max_mhz`` the hardware's range: a clock held below the
    maximum under load is a capped one. All three are ``None`` without cpufreq (most
    VMs). They ride on this message rather than their own so that history writes one
    line a second for the CPU, not two.
    """

    name = "system.cpu.usage.updated"
    percent: float
    user: float
    nice: float
    system: float
    idle: float
    iowait: float | None
    irq: float | None
    softirq: float | None
    steal: float | None
    per_core: tuple[float | None, ...]
    count: int
    freq_mhz: float | None = None
    freq_min_mhz: float | None = None
    freq_max_mhz: float | None = None


@dataclass(slots=True, frozen=True)
class MemoryUsageUpdated(Message):
    """Memory in bytes; ``used`` is ``total - available`` (what applications can't get)."""

    name = "system.memory.usage.updated"
    total: int
    available: int
    used: int
    percent: float
    swap_total: int
    swap_used: int
    swap_percent: float | None
    """``None`` when the host has no swap."""


@dataclass(slots=True, frozen=True)
class LoadUpdated(Message):
    """Load averages, and the same divided by the number of CPUs (1.0 = fully busy)."""

    name = "system.load.updated"
    load1: float
    load5: float
    load15: float
    per_cpu1: float
    per_cpu5: float
    per_cpu15: float
    cpu_count: int


@dataclass(slots=True, frozen=True)
class UptimeUpdated(Message):
    """Seconds since boot and the wall-clock boot time it implies (POSIX seconds).

    ``boot_time`` moves when the wall clock jumps (NTP sync on a Pi without RTC);
    ``seconds`` does not.
    """

    name = "system.uptime.updated"
    seconds: float
    boot_time: float


# --- disks ---------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class DiskUsageUpdated(Message):
    """One mounted filesystem, in bytes; ``percent`` as ``df`` shows it (root reserve excluded)."""

    name = "system.disk.usage.updated"
    mount: str
    total: int
    used: int
    free: int
    percent: float


@dataclass(slots=True, frozen=True)
class DiskIoUpdated(Message):
    """Block-device I/O (the SD card, for wear): totals since boot and rates.

    Rates are ``None`` on the first sample and after a counter reset.
    ``written_today`` counts the bytes written since ``today_since`` (POSIX seconds):
    local midnight, or the boot when it was later, or, when the daemon started after
    midnight on a host booted before it, the daemon's first sample (the counter's value
    at midnight is then unknown). ``None`` on a message built without it.
    """

    name = "system.disk.io.updated"
    device: str
    bytes_read: int
    bytes_written: int
    read_bytes_per_s: float | None
    write_bytes_per_s: float | None
    written_today: int | None = None
    today_since: float | None = None


# --- network -------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class InterfaceUsage:
    """One network interface: counters since boot and rates since the previous sample.

    Rates are ``None`` on the interface's first sample and after its counters reset
    (driver reload, interface re-created).
    """

    interface: str
    rx_bytes: int
    tx_bytes: int
    rx_packets: int
    tx_packets: int
    rx_errors: int
    tx_errors: int
    rx_drops: int
    tx_drops: int
    rx_bytes_per_s: float | None
    tx_bytes_per_s: float | None


@dataclass(slots=True, frozen=True)
class NetworkUsageUpdated(Message):
    """Every interface (loopback excluded by default) in one message per sample.

    ``rx_bytes_per_s``/``tx_bytes_per_s`` sum the interfaces that have a rate, and are
    ``None`` when none has.
    """

    name = "system.network.usage.updated"
    interfaces: tuple[InterfaceUsage, ...]
    rx_bytes_per_s: float | None
    tx_bytes_per_s: float | None


# --- identity ------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Address:
    """One address of one interface; ``family`` is ``"ipv4"`` or ``"ipv6"``."""

    interface: str
    family: str
    address: str


@dataclass(slots=True, frozen=True)
class IdentityUpdated(Message):
    """Who this host is. Emitted on the first sample and whenever anything changes."""

    name = "system.identity.updated"
    hostname: str | None
    model: str | None
    """``/proc/device-tree/model`` (trailing NUL removed); ``None`` off Pi/ARM boards."""
    serial: str | None
    os_release: str | None
    """``PRETTY_NAME`` from ``/etc/os-release``."""
    kernel: str | None
    boot_id: str | None
    addresses: tuple[Address, ...]


# --- Pi hardware devices -------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class TemperatureUpdated(Message):
    """One thermal zone, every sample."""

    name = "system.temperature.updated"
    device: str
    zone: str
    """The zone's ``type`` (``cpu-thermal`` on a Pi, ``x86_pkg_temp`` on a PC)."""
    celsius: float


@dataclass(slots=True, frozen=True)
class ThrottlingUpdated(Message):
    """Firmware throttling state; sent when the device attaches and on every change.

    ``source`` is ``"vcgencmd"`` (all eight flags, ``raw`` is the ``get_throttled``
    value) or ``"hwmon"`` (only ``under_voltage``, from ``rpi_volt``'s
    ``in0_lcrit_alarm``; the other flags and ``raw`` are ``None``). ``changed`` names
    the flags that differ from the previous message (all known flags on the first).
    """

    name = "system.throttling.updated"
    device: str
    source: str
    raw: int | None
    under_voltage: bool
    freq_capped: bool | None
    throttled: bool | None
    soft_temp_limit: bool | None
    under_voltage_occurred: bool | None
    freq_capped_occurred: bool | None
    throttled_occurred: bool | None
    soft_temp_limit_occurred: bool | None
    changed: tuple[str, ...]

    def flags(self) -> dict[str, bool | None]:
        """The eight flags by name (``None`` = not known from this source)."""
        return {f: getattr(self, f) for f in THROTTLING_FLAGS}


@dataclass(slots=True, frozen=True)
class ThrottlingUnderVoltage(ThrottlingUpdated):
    """A ``ThrottlingUpdated`` while under-voltage is present now: WARNING."""

    severity = Severity.WARNING


def throttling_updated(
    *,
    device: str,
    source: str,
    raw: int | None,
    flags: dict[str, bool | None],
    changed: tuple[str, ...],
) -> ThrottlingUpdated:
    """Build the right class (WARNING while under-voltage) from a flag mapping."""
    values: dict[str, Any] = {field: flags.get(field) for field in THROTTLING_FLAGS}
    values["under_voltage"] = under = bool(values["under_voltage"])
    cls = ThrottlingUnderVoltage if under else ThrottlingUpdated
    return cls(device=device, source=source, raw=raw, changed=changed, **values)


@dataclass(slots=True, frozen=True)
class StatusLedChanged(Message):
    """The status LED shows a new pattern: ``on``, ``slow_blink``, ``fast_blink`` or ``off``."""

    name = "device.status_led.changed"
    device: str
    pin: int
    pattern: str
    level: str | None
    """The health level it shows (``None`` when turned off)."""


@dataclass(slots=True, frozen=True)
class LedTestRequested(Message):
    """Someone with the web token asked the status LED to show its test pattern."""

    name = "device.status_led.test_requested"
    seconds: float
    requested_by: str


# --- health --------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class HealthChanged(Message):
    """The overall level changed (and once when health evaluation starts).

    ``previous`` is ``None`` on the first one. ``reasons`` are sentences, worst first,
    e.g. ``"CPU temperature 82.0 °C is above the critical limit 80 °C"``.
    """

    name = "system.health.changed"
    level: str
    previous: str | None
    reasons: tuple[str, ...]


@dataclass(slots=True, frozen=True)
class HealthWarning(HealthChanged):
    """A ``HealthChanged`` to ``warning``: WARNING."""

    severity = Severity.WARNING


@dataclass(slots=True, frozen=True)
class HealthCritical(HealthChanged):
    """A ``HealthChanged`` to ``critical``: ERROR."""

    severity = Severity.ERROR


def health_changed(level: str, previous: str | None, reasons: tuple[str, ...]) -> HealthChanged:
    """Build the right class for ``level`` (INFO ok, WARNING warning, ERROR critical)."""
    if level not in HEALTH_LEVELS:
        raise ValueError(f"unknown health level {level!r}; expected one of {HEALTH_LEVELS}")
    cls = {"ok": HealthChanged, "warning": HealthWarning, "critical": HealthCritical}[level]
    return cls(level=level, previous=previous, reasons=reasons)


# --- the daemon itself ---------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class ProcessUsageUpdated(Message):
    """The daemon's own footprint: CPU percent of one core since the previous sample
    (``None`` on the first), resident memory in bytes, thread count."""

    name = "system.process.usage.updated"
    pid: int
    cpu_percent: float | None
    rss: int
    threads: int


@dataclass(slots=True, frozen=True)
class TopProcess:
    """One process of the host: CPU percent of one core since the previous sample
    (``None`` on its first), resident memory in bytes."""

    pid: int
    name: str
    cpu_percent: float | None
    rss: int


@dataclass(slots=True, frozen=True)
class TopProcessesUpdated(Message):
    """What is using the host: the processes using the most CPU and the most memory.

    Sampled only while a dashboard is open (``state.WEB_CLIENTS``), and DEBUG so that
    history (which records ``info`` and above by default) does not write a process
    list every few seconds while a kiosk watches: it is for the screen, not the record.
    ``by_cpu`` is empty on the first sample (no interval yet); ``count`` is every
    process seen.
    """

    name = "system.top_processes.updated"
    severity = Severity.DEBUG
    count: int
    by_cpu: tuple[TopProcess, ...]
    by_memory: tuple[TopProcess, ...]


MESSAGE_TYPES: Final[dict[str, type[Message]]] = {
    cls.name: cls
    for cls in (
        CpuUsageUpdated,
        MemoryUsageUpdated,
        LoadUpdated,
        UptimeUpdated,
        DiskUsageUpdated,
        DiskIoUpdated,
        NetworkUsageUpdated,
        IdentityUpdated,
        TemperatureUpdated,
        ThrottlingUpdated,
        StatusLedChanged,
        LedTestRequested,
        HealthChanged,
        ProcessUsageUpdated,
        TopProcessesUpdated,
    )
}
"""Message name -> base class of every message declared here (the severity subclasses
share their base's name): the one registry of the appliance's vocabulary."""

__all__ = [
    "HEALTH_LEVELS",
    "HEALTH_RANK",
    "MESSAGE_TYPES",
    "THROTTLING_FLAGS",
    "Address",
    "CpuUsageUpdated",
    "DiskIoUpdated",
    "DiskUsageUpdated",
    "HealthChanged",
    "HealthCritical",
    "HealthLevel",
    "HealthWarning",
    "IdentityUpdated",
    "InterfaceUsage",
    "LoadUpdated",
    "MemoryUsageUpdated",
    "NetworkUsageUpdated",
    "ProcessUsageUpdated",
    "StatusLedChanged",
    "TemperatureUpdated",
    "ThrottlingUnderVoltage",
    "ThrottlingUpdated",
    "TopProcess",
    "TopProcessesUpdated",
    "UptimeUpdated",
    "health_changed",
    "throttling_updated",
]
