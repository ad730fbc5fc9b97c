"""The host as files: every /proc, /sys and /etc read goes through a ``HostRoot``.

The root directory is injectable (``BUSSDCC_SYSTEM_ROOT``, default ``/``) so the same
code reads a Pi, a PC, or a fake host tree in ``tests/fixtures/hosts/``. Parsers are
small and read only what they need: a tick of every telemetry service must stay far
below a millisecond of CPU on a Pi. A value the host does not have is ``None``.

psutil is not used for these reads because it always reads the real ``/proc``; it is
used only where no file exists (network addresses, in ``telemetry``). The process list
too is read here, one ``/proc/<pid>/stat`` a process: about a third of what psutil
spends on the same (it reads three files a process), and a fake host can carry one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Final, NamedTuple

ROOT_ENV: Final = "BUSSDCC_SYSTEM_ROOT"
SECTOR_BYTES: Final = 512
"""``/sys/block/*/stat`` counts 512-byte sectors whatever the device's block size."""


class CpuTimes(NamedTuple):
    """One ``/proc/stat`` cpu line in clock ticks; columns the kernel lacks are 0."""

    user: int
    nice: int
    system: int
    idle: int
    iowait: int
    irq: int
    softirq: int
    steal: int
    columns: int
    """How many columns the line had (iowait needs 5, steal 8)."""


@dataclass(frozen=True, slots=True)
class ProcStat:
    total: CpuTimes
    cores: tuple[CpuTimes, ...]


class NetCounters(NamedTuple):
    """One ``/proc/net/dev`` line (counters since the interface appeared)."""

    rx_bytes: int
    rx_packets: int
    rx_errors: int
    rx_drops: int
    tx_bytes: int
    tx_packets: int
    tx_errors: int
    tx_drops: int


class CpuFreq(NamedTuple):
    """One cpufreq policy (``/sys/devices/system/cpu/cpufreq/policyN``) in kHz, as the
    kernel writes it: the current frequency and the hardware's limits."""

    cur_khz: int
    min_khz: int | None
    max_khz: int | None


class ProcStatLine(NamedTuple):
    """What the process list needs of ``/proc/<pid>/stat``, in the kernel's units."""

    pid: int
    comm: str
    """The command name, cut to 15 characters by the kernel."""
    cpu_ticks: int
    """utime + stime, in clock ticks (``SC_CLK_TCK``)."""
    start_ticks: int
    """When it started, in clock ticks since boot (a reused pid is another process)."""
    rss_pages: int


class BlockStat(NamedTuple):
    """``/sys/block/<dev>/stat`` fields 3 and 7: sectors read and written."""

    sectors_read: int
    sectors_written: int


@dataclass(frozen=True, slots=True)
class ThermalZone:
    """``/sys/class/thermal/thermal_zoneN``: ``name`` is the directory, ``type`` the sensor."""

    name: str
    type: str
    temp_path: str


def default_root() -> str:
    return os.environ.get(ROOT_ENV) or "/"


_ZONE_RE = re.compile(r"thermal_zone(\d+)")
_POLICY_RE = re.compile(r"policy(\d+)")
CPUFREQ_DIR: Final = "/sys/devices/system/cpu/cpufreq"
_HWMON_RE = re.compile(r"hwmon(\d+)")


class HostRoot:
    """Reads host files below ``root``; paths are written as on the real host (``/proc/stat``)."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = os.path.abspath(os.fspath(root) if root is not None else default_root())

    def __repr__(self) -> str:
        return f"HostRoot({self.root!r})"

    @property
    def is_real(self) -> bool:
        return self.root == "/"

    # -- raw access ---------------------------------------------------------------------

    def path(self, host_path: str) -> str:
        """The real path of ``host_path`` (an absolute path as seen on the host)."""
        if self.root == "/":
            return host_path
        relative = host_path.lstrip("/")
        return os.path.join(self.root, relative) if relative else self.root

    def read_text(self, host_path: str) -> str | None:
        """The file's text, or None when it is absent or unreadable."""
        try:
            with open(self.path(host_path), encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return None

    def read_bytes(self, host_path: str) -> bytes | None:
        try:
            with open(self.path(host_path), "rb") as f:
                return f.read()
        except OSError:
            return None

    def read_line(self, host_path: str) -> str | None:
        """The first line, stripped of whitespace and NUL bytes; None if absent or empty."""
        text = self.read_text(host_path)
        if text is None:
            return None
        line = text.split("\n", 1)[0].strip().strip("\0").strip()
        return line or None

    def read_int(self, host_path: str) -> int | None:
        line = self.read_line(host_path)
        if line is None:
            return None
        try:
            return int(line)
        except ValueError:
            return None

    def exists(self, host_path: str) -> bool:
        return os.path.exists(self.path(host_path))

    def listdir(self, host_path: str) -> list[str]:
        try:
            return sorted(os.listdir(self.path(host_path)))
        except OSError:
            return []

    # -- /proc --------------------------------------------------------------------------

    def cpu_stat(self) -> ProcStat | None:
        text = self.read_text("/proc/stat")
        return None if text is None else parse_proc_stat(text)

    def meminfo(self) -> dict[str, int] | None:
        text = self.read_text("/proc/meminfo")
        return None if text is None else parse_meminfo(text)

    def loadavg(self) -> tuple[float, float, float] | None:
        line = self.read_line("/proc/loadavg")
        if line is None:
            return None
        parts = line.split()
        try:
            return float(parts[0]), float(parts[1]), float(parts[2])
        except (IndexError, ValueError):
            return None

    def uptime(self) -> float | None:
        line = self.read_line("/proc/uptime")
        if line is None:
            return None
        try:
            return float(line.split()[0])
        except (IndexError, ValueError):
            return None

    def net_dev(self) -> dict[str, NetCounters] | None:
        text = self.read_text("/proc/net/dev")
        return None if text is None else parse_net_dev(text)

    def processes(self) -> list[ProcStatLine]:
        """Every process, from ``/proc/<pid>/stat`` (a process that ends while it is read
        is skipped)."""
        out = []
        for entry in self.listdir("/proc"):
            if entry.isdigit():
                line = self.read_text(f"/proc/{entry}/stat")
                parsed = parse_pid_stat(line) if line is not None else None
                if parsed is not None:
                    out.append(parsed)
        return out

    def command_name(self, pid: int, comm: str) -> str:
        """A process's name: its ``comm``, or, when the kernel cut it to 15 characters,
        the program's file name from ``/proc/<pid>/cmdline`` when that starts the same."""
        if len(comm) < 15:
            return comm
        raw = self.read_bytes(f"/proc/{pid}/cmdline") or b""
        program = os.path.basename(raw.split(b"\0", 1)[0].decode("utf-8", "replace"))
        return program if program.startswith(comm) else comm

    def cpu_count(self) -> int | None:
        """Online CPUs (``/sys/devices/system/cpu/online``, else ``/proc/cpuinfo``)."""
        online = self.read_line("/sys/devices/system/cpu/online")
        if online is not None:
            count = parse_cpu_list(online)
            if count:
                return count
        text = self.read_text("/proc/cpuinfo")
        if text is None:
            return None
        count = sum(1 for line in text.splitlines() if line.startswith("processor"))
        return count or None

    def cpuinfo(self) -> dict[str, str]:
        """The board-level ``Key : value`` lines of ``/proc/cpuinfo`` (last one wins)."""
        text = self.read_text("/proc/cpuinfo") or ""
        info: dict[str, str] = {}
        for line in text.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                info[key.strip()] = value.strip()
        return info

    # -- identity -----------------------------------------------------------------------

    def hostname(self) -> str | None:
        return self.read_line("/proc/sys/kernel/hostname") or self.read_line("/etc/hostname")

    def kernel(self) -> str | None:
        return self.read_line("/proc/sys/kernel/osrelease")

    def boot_id(self) -> str | None:
        return self.read_line("/proc/sys/kernel/random/boot_id")

    def model(self) -> str | None:
        """The board: device tree (Pi and other ARM boards; trailing NUL), cpuinfo ``Model``,
        else the DMI product name (PCs); None when the host says nothing."""
        return (
            self.read_line("/proc/device-tree/model")
            or self.cpuinfo().get("Model")
            or self.read_line("/sys/class/dmi/id/product_name")
        )

    def serial(self) -> str | None:
        serial = self.read_line("/proc/device-tree/serial-number") or self.cpuinfo().get("Serial")
        return serial or None

    def os_release(self) -> dict[str, str]:
        text = self.read_text("/etc/os-release")
        if text is None:
            text = self.read_text("/usr/lib/os-release") or ""
        return parse_os_release(text)

    # -- /sys devices -------------------------------------------------------------------

    def block_stat(self, device: str) -> BlockStat | None:
        line = self.read_line(f"/sys/block/{device}/stat")
        if line is None:
            return None
        fields = line.split()
        try:
            return BlockStat(int(fields[2]), int(fields[6]))
        except (IndexError, ValueError):
            return None

    def cpufreq_policies(self) -> list[str]:
        """The cpufreq policy directories (``.../cpufreq/policy0``), in policy order: one
        on a Pi (all cores share a clock), one per core or cluster on a PC; none in
        most VMs."""
        found = []
        for entry in self.listdir(CPUFREQ_DIR):
            match = _POLICY_RE.fullmatch(entry)
            if match:
                found.append((int(match.group(1)), f"{CPUFREQ_DIR}/{entry}"))
        return [path for _, path in sorted(found)]

    def cpu_freq(self, policy: str, limits: bool = True) -> CpuFreq | None:
        """One policy's current frequency (``scaling_cur_freq``) and, with ``limits``, the
        hardware's minimum and maximum (``cpuinfo_min_freq``, ``cpuinfo_max_freq``); None
        when the current frequency cannot be read."""
        cur = self.read_int(f"{policy}/scaling_cur_freq")
        if cur is None or cur <= 0:
            return None
        if not limits:
            return CpuFreq(cur, None, None)
        low = self.read_int(f"{policy}/cpuinfo_min_freq")
        high = self.read_int(f"{policy}/cpuinfo_max_freq")
        return CpuFreq(cur, low if low and low > 0 else None, high if high and high > 0 else None)

    def thermal_zones(self) -> list[ThermalZone]:
        """Every ``thermal_zoneN`` with a readable ``type``, in zone-number order."""
        zones = []
        for entry in self.listdir("/sys/class/thermal"):
            match = _ZONE_RE.fullmatch(entry)
            if not match:
                continue
            base = f"/sys/class/thermal/{entry}"
            zone_type = self.read_line(f"{base}/type")
            if zone_type is None:
                continue
            zones.append((int(match.group(1)), ThermalZone(entry, zone_type, f"{base}/temp")))
        return [zone for _, zone in sorted(zones, key=lambda item: item[0])]

    def find_hwmon(self, name: str) -> str | None:
        """The ``/sys/class/hwmon/hwmonN`` whose ``name`` file reads ``name`` (N is not stable)."""
        entries = []
        for entry in self.listdir("/sys/class/hwmon"):
            match = _HWMON_RE.fullmatch(entry)
            if match:
                entries.append((int(match.group(1)), entry))
        for _, entry in sorted(entries):
            base = f"/sys/class/hwmon/{entry}"
            if self.read_line(f"{base}/name") == name:
                return base
        return None


# -- parsers (pure functions of file text) ----------------------------------------------


def _cpu_times(fields: list[str]) -> CpuTimes:
    values = [int(v) for v in fields[:8]]
    columns = len(values)
    values += [0] * (8 - columns)
    v = values
    return CpuTimes(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], columns)


def parse_proc_stat(text: str) -> ProcStat | None:
    """The ``cpu`` and ``cpuN`` lines of ``/proc/stat`` (they come first)."""
    total: CpuTimes | None = None
    cores: list[CpuTimes] = []
    for line in text.split("\n"):
        if not line.startswith("cpu"):
            break
        fields = line.split()
        try:
            times = _cpu_times(fields[1:])
        except ValueError:
            continue
        if fields[0] == "cpu":
            total = times
        else:
            cores.append(times)
    if total is None:
        return None
    return ProcStat(total, tuple(cores))


_MEMINFO_KEYS: Final = frozenset(
    {"MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapTotal", "SwapFree"}
)


def parse_meminfo(text: str) -> dict[str, int]:
    """The keys memory telemetry uses, in bytes (the file says kB, meaning KiB)."""
    out: dict[str, int] = {}
    for line in text.split("\n"):
        key, sep, rest = line.partition(":")
        if sep and key in _MEMINFO_KEYS:
            parts = rest.split()
            if parts:
                try:
                    value = int(parts[0])
                except ValueError:
                    continue
                out[key] = value * 1024 if len(parts) > 1 and parts[1] == "kB" else value
    return out


def parse_net_dev(text: str) -> dict[str, NetCounters]:
    out: dict[str, NetCounters] = {}
    for line in text.split("\n")[2:]:
        name, sep, rest = line.partition(":")
        if not sep:
            continue
        fields = rest.split()
        if len(fields) < 12:
            continue
        try:
            out[name.strip()] = NetCounters(
                int(fields[0]),
                int(fields[1]),
                int(fields[2]),
                int(fields[3]),
                int(fields[8]),
                int(fields[9]),
                int(fields[10]),
                int(fields[11]),
            )
        except ValueError:
            continue
    return out


def parse_pid_stat(text: str) -> ProcStatLine | None:
    """One ``/proc/<pid>/stat`` line; the name is between the first ``(`` and the *last*
    ``)`` (it may contain both, and spaces)."""
    head, sep, rest = text.rpartition(")")
    pid, _, comm = head.partition(" (")
    fields = rest.split()
    if not sep or len(fields) < 22:
        return None
    try:
        return ProcStatLine(
            int(pid), comm, int(fields[11]) + int(fields[12]), int(fields[19]), int(fields[21])
        )
    except ValueError:
        return None


def parse_cpu_list(text: str) -> int:
    """How many CPUs a kernel cpu list names (``0-3``, ``0,2-3``)."""
    count = 0
    for part in text.strip().split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        try:
            count += int(last or first) - int(first) + 1
        except ValueError:
            return 0
    return count


def parse_os_release(text: str) -> dict[str, str]:
    """``KEY=value`` lines with shell quoting (os-release(5))."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
            value = re.sub(r"\\(.)", r"\1", value)
        out[key.strip()] = value
    return out


__all__ = [
    "CPUFREQ_DIR",
    "ROOT_ENV",
    "SECTOR_BYTES",
    "BlockStat",
    "CpuFreq",
    "CpuTimes",
    "HostRoot",
    "NetCounters",
    "ProcStat",
    "ProcStatLine",
    "ThermalZone",
    "default_root",
    "parse_cpu_list",
    "parse_meminfo",
    "parse_net_dev",
    "parse_os_release",
    "parse_pid_stat",
    "parse_proc_stat",
]
