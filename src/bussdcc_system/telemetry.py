"""Telemetry services: sample the host on an interval and emit what they see.

One ``bussdcc.Service`` per metric, so each has its own interval (``service.interval``
is read before every sleep: assigning it applies at the next tick) and a failure in
one never stops the others. Services only observe and emit; state and health are
derived from their messages by processes.

Rates (CPU shares, bytes/s) come from two consecutive samples and the clock's
monotonic time. The first sample only sets the baseline: CPU usage is not emitted,
network and disk-I/O messages carry ``None`` rates. A counter that goes backwards is a
reset (interface re-created, counters cleared, CPU hot-plugged): that sample starts a
new baseline, never a negative or huge rate.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import psutil

from bussdcc import Service
from bussdcc_system import messages as m
from bussdcc_system.host import (
    SECTOR_BYTES,
    BlockStat,
    CpuTimes,
    HostRoot,
    NetCounters,
    ProcStatLine,
)
from bussdcc_system.state import WEB_CLIENTS

if TYPE_CHECKING:
    from bussdcc import Context

StatVfs = Callable[[str], os.statvfs_result]
AddressSource = Callable[[], tuple[m.Address, ...]]


def _rate(new: int, old: int, dt: float) -> float | None:
    if dt <= 0 or new < old:
        return None
    return (new - old) / dt


def _pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 2) if whole > 0 else 0.0


class TelemetryService(Service):
    """Base: a host to read and an interval; subclasses implement ``tick``."""

    default_name = "telemetry"

    def __init__(
        self, host: HostRoot | None = None, *, interval: float = 1.0, name: str | None = None
    ) -> None:
        self.host = host or HostRoot()
        self.interval = interval
        self.name = name or self.default_name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} every {self.interval:g}s on {self.host.root}>"


# -- CPU --------------------------------------------------------------------------------


def cpu_usage(prev: CpuTimes, cur: CpuTimes) -> tuple[float, ...] | None:
    """Shares of (user, nice, system, idle, iowait, irq, softirq, steal, busy) in percent
    between two samples; None if the counters went backwards or did not move."""
    deltas = [c - p for c, p in zip(cur[:8], prev[:8], strict=True)]
    if any(d < 0 for d in deltas):
        return None
    total = sum(deltas)
    if total <= 0:
        return None
    scale = 100.0 / total
    shares = tuple(round(d * scale, 2) for d in deltas)
    busy = round((total - deltas[3] - deltas[4]) * scale, 2)
    return (*shares, busy)


class CpuService(TelemetryService):
    """``system.cpu.usage.updated`` from ``/proc/stat``; nothing on the first sample.

    Critical: CPU sampling is the appliance's pulse. If it stalls, liveness fails and the
    systemd watchdog restarts the daemon; if it fails past its restart limit, the daemon
    exits non-zero so systemd restarts it.
    """

    default_name = "telemetry.cpu"
    critical = True

    def __init__(
        self, host: HostRoot | None = None, *, interval: float = 1.0, name: str | None = None
    ) -> None:
        super().__init__(host, interval=interval, name=name)
        self._prev: tuple[CpuTimes, tuple[CpuTimes, ...]] | None = None
        self._policies: list[tuple[str, int | None, int | None]] | None = None

    def start(self, ctx: Context) -> None:
        self._prev = None
        self._policies = None

    def frequency(self) -> tuple[float | None, float | None, float | None]:
        """(now, hardware minimum, hardware maximum) in MHz; the limits are read once (they
        do not change), the current clock of each policy every sample."""
        if self._policies is None:
            found = []
            for policy in self.host.cpufreq_policies():
                freq = self.host.cpu_freq(policy)
                if freq is not None:
                    found.append((policy, freq.min_khz, freq.max_khz))
            self._policies = found
        current = []
        for policy, _, _ in self._policies:
            freq = self.host.cpu_freq(policy, limits=False)
            if freq is None:  # a policy went away (hot-plug): look again next time
                self._policies = None
                return None, None, None
            current.append(freq.cur_khz)
        if not current:
            return None, None, None
        lows = [low for _, low, _ in self._policies if low is not None]
        highs = [high for _, _, high in self._policies if high is not None]
        return (
            round(sum(current) / len(current) / 1000, 1),
            round(min(lows) / 1000, 1) if lows else None,
            round(max(highs) / 1000, 1) if highs else None,
        )

    def tick(self, ctx: Context) -> None:
        stat = self.host.cpu_stat()
        if stat is None:
            return
        prev, self._prev = self._prev, (stat.total, stat.cores)
        if prev is None:
            return
        total = cpu_usage(prev[0], stat.total)
        if total is None:
            return
        per_core: list[float | None] = []
        for i, core in enumerate(stat.cores):
            usage = cpu_usage(prev[1][i], core) if i < len(prev[1]) else None
            per_core.append(usage[8] if usage is not None else None)
        cols = stat.total.columns
        mhz, min_mhz, max_mhz = self.frequency()
        ctx.emit(
            m.CpuUsageUpdated(
                percent=total[8],
                user=total[0],
                nice=total[1],
                system=total[2],
                idle=total[3],
                iowait=total[4] if cols > 4 else None,
                irq=total[5] if cols > 5 else None,
                softirq=total[6] if cols > 6 else None,
                steal=total[7] if cols > 7 else None,
                per_core=tuple(per_core),
                count=len(stat.cores),
                freq_mhz=mhz,
                freq_min_mhz=min_mhz,
                freq_max_mhz=max_mhz,
            )
        )


# -- memory, load, uptime ---------------------------------------------------------------


def memory_usage(info: dict[str, int]) -> m.MemoryUsageUpdated | None:
    total = info.get("MemTotal")
    if not total:
        return None
    available = info.get("MemAvailable")
    if available is None:  # kernels before 3.14: the classic estimate
        available = info.get("MemFree", 0) + info.get("Buffers", 0) + info.get("Cached", 0)
    swap_total = info.get("SwapTotal", 0)
    swap_used = max(0, swap_total - info.get("SwapFree", swap_total))
    used = max(0, total - available)
    return m.MemoryUsageUpdated(
        total=total,
        available=available,
        used=used,
        percent=_pct(used, total),
        swap_total=swap_total,
        swap_used=swap_used,
        swap_percent=_pct(swap_used, swap_total) if swap_total > 0 else None,
    )


class MemoryService(TelemetryService):
    """``system.memory.usage.updated`` from ``/proc/meminfo``."""

    default_name = "telemetry.memory"

    def tick(self, ctx: Context) -> None:
        info = self.host.meminfo()
        msg = memory_usage(info) if info is not None else None
        if msg is not None:
            ctx.emit(msg)


class LoadService(TelemetryService):
    """``system.load.updated`` from ``/proc/loadavg``, normalised by online CPUs."""

    default_name = "telemetry.load"

    def tick(self, ctx: Context) -> None:
        load = self.host.loadavg()
        if load is None:
            return
        count = self.host.cpu_count() or 1
        ctx.emit(
            m.LoadUpdated(
                load1=load[0],
                load5=load[1],
                load15=load[2],
                per_cpu1=round(load[0] / count, 3),
                per_cpu5=round(load[1] / count, 3),
                per_cpu15=round(load[2] / count, 3),
                cpu_count=count,
            )
        )


class UptimeService(TelemetryService):
    """``system.uptime.updated`` from ``/proc/uptime``."""

    default_name = "telemetry.uptime"

    def tick(self, ctx: Context) -> None:
        seconds = self.host.uptime()
        if seconds is not None:
            ctx.emit(
                m.UptimeUpdated(seconds=seconds, boot_time=round(ctx.clock.time() - seconds, 3))
            )


# -- disks ------------------------------------------------------------------------------


def local_midnight(epoch: float) -> float:
    """The start of the local day containing ``epoch`` (POSIX seconds)."""
    day = datetime.fromtimestamp(epoch).astimezone()
    return day.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


class DiskService(TelemetryService):
    """``system.disk.usage.updated`` per mount (statvfs) and ``system.disk.io.updated``
    for the SD card (``/sys/block/<sd_card>/stat``).

    ``mounts`` and ``sd_card`` may be reassigned live. A mount whose directory does not
    exist under the host root is skipped (absent, not zero).

    "Written today" is what tells an owner how fast the card wears. The kernel counts
    since boot, so the day's share needs the counter's value at midnight: zero when
    the host booted today, the last sample before midnight when the daemon was running
    then, and otherwise unknown, in which case the day is counted from the daemon's
    first sample (``today_since`` says from when).
    """

    default_name = "telemetry.disk"

    def __init__(
        self,
        host: HostRoot | None = None,
        *,
        interval: float = 30.0,
        mounts: Sequence[str] = ("/",),
        sd_card: str | None = None,
        statvfs: StatVfs = os.statvfs,
        name: str | None = None,
    ) -> None:
        super().__init__(host, interval=interval, name=name)
        self.mounts = tuple(mounts)
        self.sd_card = sd_card
        self._statvfs = statvfs
        self._prev_io: tuple[str, BlockStat, float] | None = None
        self._today: tuple[float, int, float] | None = None
        """(local midnight, counter at the day's start, when the day's count starts)."""

    def start(self, ctx: Context) -> None:
        self._prev_io = None
        self._today = None

    def tick(self, ctx: Context) -> None:
        for mount in self.mounts:
            msg = self.usage(mount)
            if msg is not None:
                ctx.emit(msg)
        sd_card = self.sd_card
        if sd_card is not None:
            io = self.io(sd_card, ctx.clock.monotonic(), ctx.clock.time())
            if io is not None:
                ctx.emit(io)

    def usage(self, mount: str) -> m.DiskUsageUpdated | None:
        try:
            st = self._statvfs(self.host.path(mount))
        except OSError:
            return None
        frsize = st.f_frsize or st.f_bsize
        total = st.f_blocks * frsize
        free = st.f_bavail * frsize
        used = (st.f_blocks - st.f_bfree) * frsize
        return m.DiskUsageUpdated(
            mount=mount, total=total, used=used, free=free, percent=_pct(used, used + free)
        )

    def written_today(self, written: int, previous: int | None, wall: float) -> tuple[int, float]:
        """(bytes written today, since when) from the since-boot counter ``written``; see
        the class doc. ``previous`` is the counter at the sample before, if any."""
        midnight = local_midnight(wall)
        day = self._today
        if day is None or day[0] != midnight or written < day[1]:
            uptime = self.host.uptime()
            boot = wall - uptime if uptime is not None else None
            if boot is not None and boot >= midnight:  # booted today: all of it is today's
                day = (midnight, 0, max(boot, midnight))
            elif day is not None and day[0] < midnight and previous is not None:
                day = (midnight, min(previous, written), midnight)  # ran through midnight
            else:  # started after midnight on a host booted before it (or a reset)
                day = (midnight, written, wall)
            self._today = day
        return written - day[1], day[2]

    def io(self, device: str, now: float, wall: float | None = None) -> m.DiskIoUpdated | None:
        stat = self.host.block_stat(device)
        if stat is None:
            self._prev_io = None
            self._today = None
            return None
        prev, self._prev_io = self._prev_io, (device, stat, now)
        if prev is not None and prev[0] != device:
            self._today = None
        read_rate = write_rate = None
        if prev is not None and prev[0] == device:
            dt = now - prev[2]
            read_rate = _rate(
                stat.sectors_read * SECTOR_BYTES, prev[1].sectors_read * SECTOR_BYTES, dt
            )
            write_rate = _rate(
                stat.sectors_written * SECTOR_BYTES, prev[1].sectors_written * SECTOR_BYTES, dt
            )
            if read_rate is None or write_rate is None:  # a reset resets both
                read_rate = write_rate = None
        written = stat.sectors_written * SECTOR_BYTES
        today: tuple[int | None, float | None] = (None, None)
        if wall is not None:
            before = prev[1].sectors_written * SECTOR_BYTES if prev and prev[0] == device else None
            today = self.written_today(written, before, wall)
        return m.DiskIoUpdated(
            device=device,
            bytes_read=stat.sectors_read * SECTOR_BYTES,
            bytes_written=written,
            read_bytes_per_s=None if read_rate is None else round(read_rate, 1),
            write_bytes_per_s=None if write_rate is None else round(write_rate, 1),
            written_today=today[0],
            today_since=None if today[1] is None else round(today[1], 3),
        )


# -- network ----------------------------------------------------------------------------


class NetworkService(TelemetryService):
    """``system.network.usage.updated`` from ``/proc/net/dev``: every interface in one
    message; rates per interface from the previous sample (``None`` on its first)."""

    default_name = "telemetry.network"

    def __init__(
        self,
        host: HostRoot | None = None,
        *,
        interval: float = 2.0,
        include_loopback: bool = False,
        name: str | None = None,
    ) -> None:
        super().__init__(host, interval=interval, name=name)
        self.include_loopback = include_loopback
        self._prev: dict[str, NetCounters] = {}
        self._prev_time: float | None = None

    def start(self, ctx: Context) -> None:
        self._prev, self._prev_time = {}, None

    def tick(self, ctx: Context) -> None:
        counters = self.host.net_dev()
        if counters is None:
            return
        ctx.emit(self.sample(counters, ctx.clock.monotonic()))

    def sample(self, counters: dict[str, NetCounters], now: float) -> m.NetworkUsageUpdated:
        dt = now - self._prev_time if self._prev_time is not None else 0.0
        prev = self._prev
        out = []
        rx_total: float | None = None
        tx_total: float | None = None
        for iface, c in counters.items():
            if iface == "lo" and not self.include_loopback:
                continue
            rx_rate = tx_rate = None
            old = prev.get(iface)
            if old is not None:
                rx_rate = _rate(c.rx_bytes, old.rx_bytes, dt)
                tx_rate = _rate(c.tx_bytes, old.tx_bytes, dt)
                if (
                    rx_rate is None
                    or tx_rate is None
                    or c.rx_packets < old.rx_packets
                    or (c.tx_packets < old.tx_packets)
                ):
                    rx_rate = tx_rate = None
            if rx_rate is not None and tx_rate is not None:
                rx_rate, tx_rate = round(rx_rate, 1), round(tx_rate, 1)
                rx_total = (rx_total or 0.0) + rx_rate
                tx_total = (tx_total or 0.0) + tx_rate
            out.append(
                m.InterfaceUsage(
                    interface=iface,
                    rx_bytes=c.rx_bytes,
                    tx_bytes=c.tx_bytes,
                    rx_packets=c.rx_packets,
                    tx_packets=c.tx_packets,
                    rx_errors=c.rx_errors,
                    tx_errors=c.tx_errors,
                    rx_drops=c.rx_drops,
                    tx_drops=c.tx_drops,
                    rx_bytes_per_s=rx_rate,
                    tx_bytes_per_s=tx_rate,
                )
            )
        self._prev, self._prev_time = counters, now
        return m.NetworkUsageUpdated(
            interfaces=tuple(out),
            rx_bytes_per_s=None if rx_total is None else round(rx_total, 1),
            tx_bytes_per_s=None if tx_total is None else round(tx_total, 1),
        )


# -- identity ---------------------------------------------------------------------------


def psutil_addresses() -> tuple[m.Address, ...]:
    """IPv4 and non-link-local IPv6 addresses of every interface but loopback (psutil:
    there is no file for them; under systemd this needs ``AF_NETLINK``)."""
    out = []
    for iface, addrs in sorted(psutil.net_if_addrs().items()):
        if iface == "lo":
            continue
        for a in addrs:
            if a.family == socket.AF_INET:
                out.append(m.Address(iface, "ipv4", a.address))
            elif a.family == socket.AF_INET6:
                addr = a.address.split("%", 1)[0]
                if not addr.lower().startswith("fe80"):
                    out.append(m.Address(iface, "ipv6", addr))
    return tuple(out)


class IdentityService(TelemetryService):
    """``system.identity.updated`` on the first sample and whenever it changes (a new
    address from DHCP, a renamed host); ``addresses`` is injectable for fake hosts."""

    default_name = "telemetry.identity"

    def __init__(
        self,
        host: HostRoot | None = None,
        *,
        interval: float = 300.0,
        addresses: AddressSource | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(host, interval=interval, name=name)
        self._addresses = addresses or psutil_addresses
        self._last: m.IdentityUpdated | None = None

    def start(self, ctx: Context) -> None:
        self._last = None

    def identity(self) -> m.IdentityUpdated:
        host = self.host
        try:
            addresses = self._addresses()
        except Exception:  # no netlink under a strict sandbox: absent, not fatal
            addresses = ()
        return m.IdentityUpdated(
            hostname=host.hostname(),
            model=host.model(),
            serial=host.serial(),
            os_release=host.os_release().get("PRETTY_NAME"),
            kernel=host.kernel(),
            boot_id=host.boot_id(),
            addresses=addresses,
        )

    def tick(self, ctx: Context) -> None:
        current = self.identity()
        if current != self._last:
            self._last = current
            ctx.emit(current)


# -- the daemon itself ------------------------------------------------------------------


def _own_rss_and_threads() -> tuple[int, int]:
    """Resident bytes and OS threads of this process, from the real ``/proc/self``."""
    try:
        with open("/proc/self/statm", "rb") as f:
            rss_pages = int(f.read().split()[1])
        threads = len(os.listdir("/proc/self/task"))
        return rss_pages * os.sysconf("SC_PAGE_SIZE"), threads
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, threading.active_count()


class ProcessUsageService(TelemetryService):
    """``system.process.usage.updated``: the daemon's own CPU and memory (always the real
    process, whatever the host root). CPU percent is of one core, ``None`` at first."""

    default_name = "telemetry.process"

    def __init__(
        self,
        host: HostRoot | None = None,
        *,
        interval: float = 5.0,
        cpu_time: Callable[[], float] = time.process_time,
        name: str | None = None,
    ) -> None:
        super().__init__(host, interval=interval, name=name)
        self._cpu_time = cpu_time
        self._prev: tuple[float, float] | None = None

    def start(self, ctx: Context) -> None:
        self._prev = None

    def tick(self, ctx: Context) -> None:
        now, cpu = ctx.clock.monotonic(), self._cpu_time()
        prev, self._prev = self._prev, (now, cpu)
        percent = None
        if prev is not None and now > prev[0] and cpu >= prev[1]:
            percent = round(100.0 * (cpu - prev[1]) / (now - prev[0]), 2)
        rss, threads = _own_rss_and_threads()
        ctx.emit(
            m.ProcessUsageUpdated(pid=os.getpid(), cpu_percent=percent, rss=rss, threads=threads)
        )


# -- what is using the host ------------------------------------------------------------


def dashboard_open(ctx: Context) -> bool:
    """Whether a dashboard is connected now (``web.clients`` in the state)."""
    return bool(ctx.state.get(WEB_CLIENTS))


class TopProcessesService(TelemetryService):
    """``system.top_processes.updated``: the ``top`` processes by CPU and by memory, every
    ``interval`` seconds, only while someone watches (``watched(ctx)``, by default a
    dashboard being connected), from ``/proc/<pid>/stat`` through the host root.

    Listing every process costs a Pi a few milliseconds, worth it only for a person
    looking at the list: while nobody watches a tick is one state lookup and the
    baseline is dropped, so the first list after a dashboard opens has the memory
    column and the next one the CPU column too. ``clock_ticks`` and ``page_size`` are
    the host's (``SC_CLK_TCK``, ``SC_PAGE_SIZE``: 16 KiB pages on a Pi 5's kernel).
    """

    default_name = "telemetry.processes"

    def __init__(
        self,
        host: HostRoot | None = None,
        *,
        interval: float = 5.0,
        top: int = 5,
        watched: Callable[[Context], bool] = dashboard_open,
        clock_ticks: int | None = None,
        page_size: int | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(host, interval=interval, name=name)
        self.top = top
        self._watched = watched
        self._ticks = clock_ticks or os.sysconf("SC_CLK_TCK")
        self._page = page_size or os.sysconf("SC_PAGE_SIZE")
        self._prev: tuple[dict[tuple[int, int], int], float] | None = None

    def start(self, ctx: Context) -> None:
        self._prev = None

    def tick(self, ctx: Context) -> None:
        if not self._watched(ctx):
            self._prev = None
            return
        ctx.emit(self.sample(self.host.processes(), ctx.clock.monotonic()))

    def sample(self, processes: Iterable[ProcStatLine], now: float) -> m.TopProcessesUpdated:
        """The top lists, CPU percent (of one core) from the previous sample."""
        prev, dt = self._prev, 0.0
        if prev is not None:
            dt = now - prev[1]
        seen: dict[tuple[int, int], int] = {}
        rows: list[tuple[ProcStatLine, float | None]] = []
        for proc in processes:
            key = (proc.pid, proc.start_ticks)
            seen[key] = proc.cpu_ticks
            old = prev[0].get(key) if prev is not None else None
            cpu = None
            if old is not None and dt > 0 and proc.cpu_ticks >= old:
                cpu = round(100.0 * (proc.cpu_ticks - old) / self._ticks / dt, 1)
            rows.append((proc, cpu))
        self._prev = (seen, now)
        rated = [row for row in rows if row[1] is not None]
        rated.sort(key=lambda row: (-(row[1] or 0.0), -row[0].rss_pages, row[0].pid))
        rows.sort(key=lambda row: (-row[0].rss_pages, row[0].pid))
        return m.TopProcessesUpdated(
            count=len(seen),
            by_cpu=tuple(self._row(*row) for row in rated[: self.top]),
            by_memory=tuple(self._row(*row) for row in rows[: self.top]),
        )

    def _row(self, proc: ProcStatLine, cpu: float | None) -> m.TopProcess:
        name = self.host.command_name(proc.pid, proc.comm)
        return m.TopProcess(proc.pid, name, cpu, proc.rss_pages * self._page)


__all__ = [
    "CpuService",
    "DiskService",
    "IdentityService",
    "LoadService",
    "MemoryService",
    "NetworkService",
    "ProcessUsageService",
    "TelemetryService",
    "TopProcessesService",
    "UptimeService",
    "cpu_usage",
    "dashboard_open",
    "local_midnight",
    "memory_usage",
    "psutil_addresses",
]
