"""Telemetry services on fake hosts: exact values, first sample, counter resets, intervals.

Services are ticked directly with a runtime's context on a SimClock (time moves only by
``clock.advance``); one test runs them under the real supervisor in simulated time.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime
from pathlib import Path

import pytest

from bussdcc import Context, Runtime
from bussdcc.testing import MessageLog, SimClock
from bussdcc_system import messages as m
from bussdcc_system import telemetry as tm
from bussdcc_system.host import HostRoot, ProcStatLine
from bussdcc_system.state import WEB_CLIENTS
from tests.bussdcc_system.appliance_helpers import (
    FIXTURES,
    HOST_NAMES,
    copy_host,
    write_host_file,
)

KIB = 1024


@pytest.fixture
def ctx(runtime: Runtime) -> Context:
    return runtime.ctx


def write_stat(root: Path, cores: list[list[int]]) -> None:
    total = [sum(c[i] for c in cores) for i in range(len(cores[0]))]
    lines = ["cpu  " + " ".join(map(str, total))]
    lines += [f"cpu{i} " + " ".join(map(str, c)) for i, c in enumerate(cores)]
    write_host_file(root, "/proc/stat", "\n".join(lines) + "\nintr 1 0\nctxt 5\n")


def net_dev(rows: dict[str, tuple[int, ...]]) -> str:
    head = (
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets"
        " errs drop fifo colls carrier compressed\n"
    )
    body = ""
    for name, (rxb, rxp, rxe, rxd, txb, txp, txe, txd) in rows.items():
        body += (
            f"{name:>6}:{rxb:>8} {rxp:>7} {rxe:>4} {rxd:>4}    0     0          0         0"
            f" {txb:>8} {txp:>7} {txe:>4} {txd:>4}    0     0       0          0\n"
        )
    return head + body


# -- CPU ----------------------------------------------------------------------------------


def test_cpu_first_sample_emits_nothing(
    tmp_path: Path, ctx: Context, message_log: MessageLog
) -> None:
    svc = tm.CpuService(HostRoot(copy_host("pi4", tmp_path)))
    svc.start(ctx)
    svc.tick(ctx)
    assert message_log.of_type(m.CpuUsageUpdated) == []


def test_cpu_shares_between_two_samples(
    tmp_path: Path, clock: SimClock, ctx: Context, message_log: MessageLog
) -> None:
    root = tmp_path / "host"
    write_stat(root, [[100, 0, 100, 800, 0, 0, 0, 0, 0, 0], [100, 0, 100, 800, 0, 0, 0, 0, 0, 0]])
    svc = tm.CpuService(HostRoot(root))
    svc.start(ctx)
    svc.tick(ctx)
    clock.advance(1.0)
    # core 0: 250 user, 100 system, 600 idle, 50 iowait of 1000 ticks; core 1 all idle.
    write_stat(
        root, [[350, 0, 200, 1400, 50, 0, 0, 0, 0, 0], [100, 0, 100, 1800, 0, 0, 0, 0, 0, 0]]
    )
    svc.tick(ctx)
    [msg] = message_log.of_type(m.CpuUsageUpdated)
    assert msg == m.CpuUsageUpdated(
        percent=17.5,
        user=12.5,
        nice=0.0,
        system=5.0,
        idle=80.0,
        iowait=2.5,
        irq=0.0,
        softirq=0.0,
        steal=0.0,
        per_core=(35.0, 0.0),
        count=2,
    )


def test_cpu_counter_reset_is_a_new_baseline(
    tmp_path: Path, clock: SimClock, ctx: Context, message_log: MessageLog
) -> None:
    root = tmp_path / "host"
    write_stat(root, [[1000, 0, 1000, 8000, 0, 0, 0, 0, 0, 0]])
    svc = tm.CpuService(HostRoot(root))
    svc.tick(ctx)
    write_stat(root, [[10, 0, 10, 80, 0, 0, 0, 0, 0, 0]])  # counters went backwards
    svc.tick(ctx)
    assert message_log.of_type(m.CpuUsageUpdated) == []
    write_stat(root, [[60, 0, 10, 130, 0, 0, 0, 0, 0, 0]])
    svc.tick(ctx)
    [msg] = message_log.of_type(m.CpuUsageUpdated)
    assert (msg.percent, msg.user, msg.idle) == (50.0, 50.0, 50.0)


def test_cpu_hotplugged_core_is_absent_for_one_sample(
    tmp_path: Path, ctx: Context, message_log: MessageLog
) -> None:
    root = tmp_path / "host"
    write_stat(root, [[100, 0, 0, 900, 0, 0, 0, 0], [100, 0, 0, 900, 0, 0, 0, 0]])
    svc = tm.CpuService(HostRoot(root))
    svc.tick(ctx)
    write_stat(
        root, [[200, 0, 0, 1800, 0, 0, 0, 0], [5, 0, 0, 10, 0, 0, 0, 0], [0, 0, 0, 10, 0, 0, 0, 0]]
    )
    svc.tick(ctx)
    [msg] = message_log.of_type(m.CpuUsageUpdated)
    assert msg.per_core == (10.0, None, None)
    assert msg.count == 3


def test_cpu_without_iowait_and_steal_columns(
    tmp_path: Path, ctx: Context, message_log: MessageLog
) -> None:
    root = tmp_path / "host"
    write_host_file(root, "/proc/stat", "cpu  10 0 10 80\ncpu0 10 0 10 80\n")
    svc = tm.CpuService(HostRoot(root))
    svc.tick(ctx)
    write_host_file(root, "/proc/stat", "cpu  20 0 20 160\ncpu0 20 0 20 160\n")
    svc.tick(ctx)
    [msg] = message_log.of_type(m.CpuUsageUpdated)
    assert (msg.iowait, msg.irq, msg.softirq, msg.steal) == (None, None, None, None)
    assert msg.percent == 20.0


@pytest.mark.parametrize("host", HOST_NAMES)
def test_cpu_on_each_host(host: str, tmp_path: Path, ctx: Context, message_log: MessageLog) -> None:
    root = copy_host(host, tmp_path)
    svc = tm.CpuService(HostRoot(root))
    svc.tick(ctx)
    stat = HostRoot(root).cpu_stat()
    assert stat is not None
    cores = [
        [v + (10 if i == 0 else 90 if i == 3 else 0) for i, v in enumerate(c[:8])]
        for c in stat.cores
    ]
    write_stat(root, cores)
    svc.tick(ctx)
    [msg] = message_log.of_type(m.CpuUsageUpdated)
    assert msg.count == len(stat.cores)
    assert msg.per_core == (10.0,) * len(stat.cores)
    assert (msg.percent, msg.user, msg.idle) == (10.0, 10.0, 90.0)


def test_cpu_frequency_rides_on_the_cpu_sample(
    tmp_path: Path, ctx: Context, message_log: MessageLog
) -> None:
    root = copy_host("pi4", tmp_path)
    svc = tm.CpuService(HostRoot(root))
    svc.start(ctx)
    write_stat(root, [[100, 0, 50, 350, 0, 0, 0, 0]] * 4)
    svc.tick(ctx)
    write_stat(root, [[200, 0, 100, 700, 0, 0, 0, 0]] * 4)
    svc.tick(ctx)
    # Capped: the firmware holds the clock at its minimum (the kernel sees what it sets).
    write_host_file(root, "/sys/devices/system/cpu/cpufreq/policy0/scaling_cur_freq", "600000\n")
    write_stat(root, [[400, 0, 200, 1400, 0, 0, 0, 0]] * 4)
    svc.tick(ctx)
    first, capped = message_log.of_type(m.CpuUsageUpdated)
    assert (first.freq_mhz, first.freq_min_mhz, first.freq_max_mhz) == (1500.0, 600.0, 1800.0)
    assert (capped.freq_mhz, capped.freq_max_mhz) == (600.0, 1800.0)


def test_cpu_frequency_is_the_mean_of_the_policies_and_absent_without_cpufreq(
    tmp_path: Path, ctx: Context, message_log: MessageLog
) -> None:
    root = copy_host("x86", tmp_path)  # a VM: no cpufreq at all
    svc = tm.CpuService(HostRoot(root))
    write_stat(root, [[100, 0, 50, 350, 0, 0, 0, 0]] * 2)
    svc.tick(ctx)
    write_stat(root, [[200, 0, 100, 700, 0, 0, 0, 0]] * 2)
    svc.tick(ctx)
    base = "/sys/devices/system/cpu/cpufreq"
    for n, (cur, low, high) in enumerate([(800000, 400000, 3000000), (2000000, 400000, 4200000)]):
        write_host_file(root, f"{base}/policy{n}/scaling_cur_freq", f"{cur}\n")
        write_host_file(root, f"{base}/policy{n}/cpuinfo_min_freq", f"{low}\n")
        write_host_file(root, f"{base}/policy{n}/cpuinfo_max_freq", f"{high}\n")
    svc.start(ctx)  # limits are read once, when the service starts
    svc.tick(ctx)
    write_stat(root, [[400, 0, 200, 1400, 0, 0, 0, 0]] * 2)
    svc.tick(ctx)
    vm, pc = message_log.of_type(m.CpuUsageUpdated)
    assert (vm.freq_mhz, vm.freq_min_mhz, vm.freq_max_mhz) == (None, None, None)
    assert (pc.freq_mhz, pc.freq_min_mhz, pc.freq_max_mhz) == (1400.0, 400.0, 4200.0)


def test_cpu_usage_none_when_nothing_moved() -> None:
    stat = HostRoot(FIXTURES / "pi4").cpu_stat()
    assert stat is not None
    assert tm.cpu_usage(stat.total, stat.total) is None


# -- memory, load, uptime -------------------------------------------------------------------


MEMORY = {
    "pi4": m.MemoryUsageUpdated(
        total=3884328 * KIB,
        available=3402332 * KIB,
        used=(3884328 - 3402332) * KIB,
        percent=12.41,
        swap_total=102396 * KIB,
        swap_used=0,
        swap_percent=0.0,
    ),
    "pi5": m.MemoryUsageUpdated(
        total=8245304 * KIB,
        available=7351092 * KIB,
        used=(8245304 - 7351092) * KIB,
        percent=10.85,
        swap_total=204784 * KIB,
        swap_used=24576 * KIB,
        swap_percent=12.0,
    ),
    "x86": m.MemoryUsageUpdated(
        total=16314352 * KIB,
        available=12980112 * KIB,
        used=(16314352 - 12980112) * KIB,
        percent=20.44,
        swap_total=0,
        swap_used=0,
        swap_percent=None,
    ),
}


@pytest.mark.parametrize("host", HOST_NAMES)
def test_memory_on_each_host(host: str, ctx: Context, message_log: MessageLog) -> None:
    tm.MemoryService(HostRoot(FIXTURES / host)).tick(ctx)
    assert message_log.of_type(m.MemoryUsageUpdated) == [MEMORY[host]]


def test_memory_without_memavailable_estimates_it(
    tmp_path: Path, ctx: Context, message_log: MessageLog
) -> None:
    write_host_file(
        tmp_path,
        "/proc/meminfo",
        "MemTotal: 1000 kB\nMemFree: 200 kB\nBuffers: 100 kB\nCached: 300 kB\n",
    )
    tm.MemoryService(HostRoot(tmp_path)).tick(ctx)
    [msg] = message_log.of_type(m.MemoryUsageUpdated)
    assert (msg.available, msg.used, msg.percent) == (600 * KIB, 400 * KIB, 40.0)
    assert msg.swap_percent is None


LOAD = {
    "pi4": m.LoadUpdated(0.52, 0.58, 0.59, 0.13, 0.145, 0.147, 4),
    "pi5": m.LoadUpdated(1.20, 0.95, 0.80, 0.3, 0.237, 0.2, 4),
    "x86": m.LoadUpdated(2.10, 1.64, 1.02, 1.05, 0.82, 0.51, 2),
}


@pytest.mark.parametrize("host", HOST_NAMES)
def test_load_normalised_per_cpu(host: str, ctx: Context, message_log: MessageLog) -> None:
    tm.LoadService(HostRoot(FIXTURES / host)).tick(ctx)
    assert message_log.of_type(m.LoadUpdated) == [LOAD[host]]


@pytest.mark.parametrize("host", HOST_NAMES)
def test_uptime_and_boot_time(
    host: str, clock: SimClock, ctx: Context, message_log: MessageLog
) -> None:
    tm.UptimeService(HostRoot(FIXTURES / host)).tick(ctx)
    [msg] = message_log.of_type(m.UptimeUpdated)
    seconds = HostRoot(FIXTURES / host).uptime()
    assert seconds is not None
    assert msg.seconds == seconds
    assert msg.boot_time == round(clock.time() - seconds, 3)


# -- disks ------------------------------------------------------------------------------------


def fake_statvfs(blocks: int, bfree: int, bavail: int, frsize: int = 4096) -> os.statvfs_result:
    return os.statvfs_result((frsize, frsize, blocks, bfree, bavail, 1000, 500, 500, 0, 255))


def test_disk_usage_like_df(tmp_path: Path, ctx: Context, message_log: MessageLog) -> None:
    root = copy_host("pi4", tmp_path)
    (root / "boot/firmware").mkdir(parents=True)
    seen = []

    def statvfs(path: str) -> os.statvfs_result:
        seen.append(path)
        if not os.path.isdir(path):
            raise FileNotFoundError(2, "No such file or directory", path)
        return fake_statvfs(blocks=1000, bfree=300, bavail=250)

    svc = tm.DiskService(
        HostRoot(root), mounts=("/", "/boot/firmware", "/missing"), statvfs=statvfs
    )
    svc.tick(ctx)
    # used = (blocks - bfree), percent = used / (used + avail) as df shows it
    want = dict(total=4096000, used=2867200, free=1024000, percent=73.68)
    assert message_log.of_type(m.DiskUsageUpdated) == [
        m.DiskUsageUpdated(mount="/", **want),  # type: ignore[arg-type]
        m.DiskUsageUpdated(mount="/boot/firmware", **want),  # type: ignore[arg-type]
    ]
    assert seen[:2] == [str(root), str(root / "boot/firmware")]


def test_disk_usage_of_a_real_directory(
    tmp_path: Path, ctx: Context, message_log: MessageLog
) -> None:
    tm.DiskService(HostRoot(tmp_path)).tick(ctx)
    [msg] = message_log.of_type(m.DiskUsageUpdated)
    assert msg.mount == "/" and msg.total > 0
    assert 0 <= msg.percent <= 100
    assert msg.free <= msg.total


def test_sd_card_writes_first_sample_then_rate(
    tmp_path: Path, clock: SimClock, ctx: Context, message_log: MessageLog
) -> None:
    root = copy_host("pi4", tmp_path)
    svc = tm.DiskService(HostRoot(root), mounts=(), sd_card="mmcblk0")
    svc.start(ctx)
    svc.tick(ctx)
    clock.advance(30)
    write_host_file(
        root,
        "/sys/block/mmcblk0/stat",
        "    9741     3404   706414    17612    30301    27233  1874616   202024"
        "        0    73876   219637        0        0        0        0     2512     3448\n",
    )
    svc.tick(ctx)
    first, second = message_log.of_type(m.DiskIoUpdated)
    # The Pi booted 6.9 hours before the first sample: at 00:00 UTC (the SimClock's
    # start) that is yesterday in UTC, so today's count starts at that sample.
    wall = clock.time() - 30
    booted_today = wall - 24689.37 >= tm.local_midnight(wall)
    assert first == m.DiskIoUpdated(
        "mmcblk0",
        706414 * 512,
        1872568 * 512,
        None,
        None,
        written_today=1872568 * 512 if booted_today else 0,
        today_since=round(wall - 24689.37, 3) if booted_today else wall,
    )
    assert second.bytes_written == 1874616 * 512
    assert second.written_today == (1874616 if booted_today else 2048) * 512
    assert second.write_bytes_per_s == round(2048 * 512 / 30, 1)
    assert second.read_bytes_per_s == 0.0


def test_sd_card_counter_reset(
    tmp_path: Path, clock: SimClock, ctx: Context, message_log: MessageLog
) -> None:
    root = copy_host("pi5", tmp_path)
    svc = tm.DiskService(HostRoot(root), mounts=(), sd_card="mmcblk0")
    svc.tick(ctx)
    clock.advance(30)
    write_host_file(root, "/sys/block/mmcblk0/stat", "  1 0 8 0 1 0 16 0 0 0 0\n")
    svc.tick(ctx)
    clock.advance(30)
    write_host_file(root, "/sys/block/mmcblk0/stat", "  1 0 8 0 1 0 76 0 0 0 0\n")
    svc.tick(ctx)
    rates = [
        (msg.read_bytes_per_s, msg.write_bytes_per_s)
        for msg in message_log.of_type(m.DiskIoUpdated)
    ]
    assert rates == [(None, None), (None, None), (0.0, 1024.0)]


def _sd_card(root: Path, sectors_written: int, uptime: float) -> None:
    write_host_file(root, "/proc/uptime", f"{uptime:.2f} 1000.00\n")
    write_host_file(
        root, "/sys/block/mmcblk0/stat", f"  1 0 8 0 1 0 {sectors_written} 0 0 0 0 0 0 0 0 0 0\n"
    )


def _written_today(svc: tm.DiskService, clock: SimClock) -> tuple[int | None, float | None]:
    io = svc.io("mmcblk0", clock.monotonic(), clock.time())
    assert io is not None
    return io.written_today, io.today_since


def test_sd_card_written_today_on_a_pi_booted_today(tmp_path: Path) -> None:
    clock = SimClock(datetime(2026, 3, 1, 15, 0).astimezone())  # 15:00 local
    root = tmp_path / "pi"
    _sd_card(root, 4000, uptime=3600.0)  # booted at 14:00: every byte is today's
    svc = tm.DiskService(HostRoot(root), mounts=())
    assert _written_today(svc, clock) == (4000 * 512, clock.time() - 3600)
    clock.advance(60)
    _sd_card(root, 4100, uptime=3660.0)
    assert _written_today(svc, clock) == (4100 * 512, clock.time() - 3660)


def test_sd_card_written_today_when_the_daemon_starts_late_and_runs_through_midnight(
    tmp_path: Path,
) -> None:
    start = datetime(2026, 3, 1, 23, 59, 0).astimezone()
    clock = SimClock(start)
    root = tmp_path / "pi"
    _sd_card(root, 10_000, uptime=5 * 86400.0)  # booted days ago: midnight's count is unknown
    svc = tm.DiskService(HostRoot(root), mounts=())
    assert _written_today(svc, clock) == (0, clock.time())  # counted from the daemon's start
    clock.advance(30)
    _sd_card(root, 10_200, uptime=5 * 86400.0 + 30)
    assert _written_today(svc, clock) == (200 * 512, start.timestamp())
    clock.advance(60)  # 00:00:30: a new day, counted from the last sample before midnight
    _sd_card(root, 10_300, uptime=5 * 86400.0 + 90)
    midnight = tm.local_midnight(clock.time())
    assert midnight == datetime(2026, 3, 2).astimezone().timestamp()
    assert _written_today(svc, clock) == (100 * 512, midnight)
    # A counter that goes backwards (the card re-appeared) starts the count again.
    clock.advance(30)
    _sd_card(root, 50, uptime=5 * 86400.0 + 120)
    assert _written_today(svc, clock) == (0, clock.time())


def test_no_sd_card_on_a_pc(ctx: Context, message_log: MessageLog) -> None:
    svc = tm.DiskService(HostRoot(FIXTURES / "x86"), mounts=(), sd_card="mmcblk0")
    svc.tick(ctx)
    assert message_log.of_type(m.DiskIoUpdated) == []


# -- network -------------------------------------------------------------------------------


def test_network_first_sample_has_no_rates(ctx: Context, message_log: MessageLog) -> None:
    tm.NetworkService(HostRoot(FIXTURES / "pi4")).tick(ctx)
    [msg] = message_log.of_type(m.NetworkUsageUpdated)
    assert [i.interface for i in msg.interfaces] == ["eth0", "wlan0"]  # no loopback
    assert msg.interfaces[0] == m.InterfaceUsage(
        "eth0", 98765432, 12345678, 123456, 65432, 0, 0, 3, 0, None, None
    )
    assert (msg.rx_bytes_per_s, msg.tx_bytes_per_s) == (None, None)


def test_network_rates_reset_and_new_interface(
    tmp_path: Path, clock: SimClock, ctx: Context, message_log: MessageLog
) -> None:
    root = tmp_path / "host"
    write_host_file(
        root,
        "/proc/net/dev",
        net_dev(
            {
                "lo": (100, 1, 0, 0, 100, 1, 0, 0),
                "eth0": (1000, 10, 0, 0, 500, 5, 0, 0),
                "wlan0": (5000, 50, 0, 0, 5000, 50, 0, 0),
            }
        ),
    )
    svc = tm.NetworkService(HostRoot(root))
    svc.start(ctx)
    svc.tick(ctx)
    clock.advance(2.0)
    write_host_file(
        root,
        "/proc/net/dev",
        net_dev(
            {
                "lo": (100, 1, 0, 0, 100, 1, 0, 0),
                "eth0": (5000, 30, 1, 2, 1500, 8, 3, 4),
                "wlan0": (100, 1, 0, 0, 100, 1, 0, 0),  # driver reloaded: counters restarted
                "usb0": (7, 1, 0, 0, 7, 1, 0, 0),  # appeared
            }
        ),
    )
    svc.tick(ctx)
    msg = message_log.of_type(m.NetworkUsageUpdated)[-1]
    by_name = {i.interface: i for i in msg.interfaces}
    assert set(by_name) == {"eth0", "wlan0", "usb0"}
    eth0 = by_name["eth0"]
    assert (eth0.rx_bytes_per_s, eth0.tx_bytes_per_s) == (2000.0, 500.0)
    assert (eth0.rx_errors, eth0.rx_drops, eth0.tx_errors, eth0.tx_drops) == (1, 2, 3, 4)
    assert (by_name["wlan0"].rx_bytes_per_s, by_name["wlan0"].tx_bytes_per_s) == (None, None)
    assert by_name["usb0"].rx_bytes_per_s is None
    assert (msg.rx_bytes_per_s, msg.tx_bytes_per_s) == (2000.0, 500.0)
    clock.advance(2.0)
    svc.tick(ctx)
    msg = message_log.of_type(m.NetworkUsageUpdated)[-1]
    assert all(i.rx_bytes_per_s == 0.0 for i in msg.interfaces)


def test_network_x86_has_eth0_only(ctx: Context, message_log: MessageLog) -> None:
    tm.NetworkService(HostRoot(FIXTURES / "x86")).tick(ctx)
    [msg] = message_log.of_type(m.NetworkUsageUpdated)
    assert [i.interface for i in msg.interfaces] == ["eth0"]
    assert msg.interfaces[0].rx_bytes == 2147483648


def test_network_can_include_loopback(ctx: Context, message_log: MessageLog) -> None:
    tm.NetworkService(HostRoot(FIXTURES / "pi5"), include_loopback=True).tick(ctx)
    [msg] = message_log.of_type(m.NetworkUsageUpdated)
    assert [i.interface for i in msg.interfaces] == ["lo", "eth0", "wlan0"]


# -- identity ------------------------------------------------------------------------------

ADDRESSES = (m.Address("eth0", "ipv4", "192.0.2.10"), m.Address("eth0", "ipv6", "2001:db8::a"))

IDENTITY = {
    "pi4": (
        "pi4-kitchen",
        "Raspberry Pi 4 Model B Rev 1.4",
        "10000000a1b2c3d4",
        "Raspbian GNU/Linux 11 (bullseye)",
        "6.1.21-v8+",
        "3f0b2a9e-6c1d-4e8a-9b7f-2d5c8e1a4b60",
    ),
    "pi5": (
        "pi5-lab",
        "Raspberry Pi 5 Model B Rev 1.0",
        "4a7b2c9d1e3f5a60",
        "Debian GNU/Linux 12 (bookworm)",
        "6.6.51+rpt-rpi-2712",
        "b1e2c3d4-5f60-4a7b-8c9d-0e1f2a3b4c5d",
    ),
    "x86": (
        "build-box",
        "ThinkPad T480",
        None,
        "Debian GNU/Linux 13 (trixie)",
        "6.12.38+deb13-amd64",
        "9c8b7a65-4321-4fed-9cba-0987654321fe",
    ),
}


@pytest.mark.parametrize("host", HOST_NAMES)
def test_identity_on_each_host(host: str, ctx: Context, message_log: MessageLog) -> None:
    tm.IdentityService(HostRoot(FIXTURES / host), addresses=lambda: ADDRESSES).tick(ctx)
    assert message_log.of_type(m.IdentityUpdated) == [m.IdentityUpdated(*IDENTITY[host], ADDRESSES)]


def test_identity_only_on_change(tmp_path: Path, ctx: Context, message_log: MessageLog) -> None:
    root = copy_host("pi4", tmp_path)
    addresses = [ADDRESSES]
    svc = tm.IdentityService(HostRoot(root), addresses=lambda: addresses[-1])
    svc.start(ctx)
    svc.tick(ctx)
    svc.tick(ctx)
    assert len(message_log.of_type(m.IdentityUpdated)) == 1
    addresses.append((m.Address("wlan0", "ipv4", "192.0.2.99"),))
    svc.tick(ctx)
    write_host_file(root, "/proc/sys/kernel/hostname", "renamed\n")
    svc.tick(ctx)
    msgs = message_log.of_type(m.IdentityUpdated)
    assert [(x.hostname, x.addresses[0].address) for x in msgs] == [
        ("pi4-kitchen", "192.0.2.10"),
        ("pi4-kitchen", "192.0.2.99"),
        ("renamed", "192.0.2.99"),
    ]


def test_identity_survives_an_address_source_that_fails(
    ctx: Context, message_log: MessageLog
) -> None:
    def no_netlink() -> tuple[m.Address, ...]:
        raise PermissionError("AF_NETLINK not allowed")

    tm.IdentityService(HostRoot(FIXTURES / "pi5"), addresses=no_netlink).tick(ctx)
    [msg] = message_log.of_type(m.IdentityUpdated)
    assert msg.addresses == () and msg.hostname == "pi5-lab"


def test_psutil_addresses_of_the_real_host() -> None:
    addresses = tm.psutil_addresses()
    assert all(a.interface != "lo" for a in addresses)
    for a in addresses:
        family = socket.AF_INET if a.family == "ipv4" else socket.AF_INET6
        socket.inet_pton(family, a.address)  # a plain address, no %scope
        assert not a.address.startswith("fe80")


# -- the daemon's own usage -------------------------------------------------------------------


def test_process_usage(clock: SimClock, ctx: Context, message_log: MessageLog) -> None:
    cpu = [10.0]
    svc = tm.ProcessUsageService(interval=5.0, cpu_time=lambda: cpu[-1])
    svc.start(ctx)
    svc.tick(ctx)
    clock.advance(5.0)
    cpu.append(10.5)
    svc.tick(ctx)
    first, second = message_log.of_type(m.ProcessUsageUpdated)
    assert first.cpu_percent is None
    assert second.cpu_percent == 10.0
    assert second.pid == os.getpid()
    assert second.rss > 1024 * 1024 and second.threads >= 1


# -- what is using the host -------------------------------------------------------------------


def write_pid_stat(root: Path, pid: int, comm: str, ticks: int, start: int, rss: int) -> None:
    """One /proc/<pid>/stat line as the kernel writes it (utime = ticks, stime 0)."""
    write_host_file(
        root,
        f"/proc/{pid}/stat",
        f"{pid} ({comm}) S 1 {pid} {pid} 0 -1 4194560 10 0 0 0 {ticks} 0 0 0 20 0 1 0"
        f" {start} 1000000 {rss} 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 0 0 0\n",
    )


def top_processes(root: Path, **kw: object) -> tm.TopProcessesService:
    return tm.TopProcessesService(
        HostRoot(root),
        clock_ticks=100,
        page_size=4096,
        watched=lambda _ctx: True,
        **kw,  # type: ignore[arg-type]
    )


def test_top_processes_by_cpu_and_by_memory(
    tmp_path: Path, clock: SimClock, ctx: Context, message_log: MessageLog
) -> None:
    root = copy_host("pi4", tmp_path)  # a kiosk Pi: cage and chromium, the daemon...
    svc = top_processes(root, top=3)
    svc.start(ctx)
    svc.tick(ctx)
    clock.advance(2.0)
    write_pid_stat(root, 812, "chromium", 281330 + 53211 + 100, 2199, 105472)  # half a core
    write_pid_stat(root, 604, "bussdcc-system", 6130 + 1222 + 300, 1820, 9728)  # 1.5 cores
    write_pid_stat(root, 1500, "bash", 10, 9000, 900)  # new: no rate yet
    svc.tick(ctx)
    first, second = message_log.of_type(m.TopProcessesUpdated)
    assert first.by_cpu == () and first.count == 10
    assert [p.name for p in first.by_memory] == ["chromium", "chromium", "bussdcc-system"]
    assert first.by_memory[0] == m.TopProcess(812, "chromium", None, 105472 * 4096)
    assert second.by_cpu == (
        m.TopProcess(604, "bussdcc-system", 150.0, 9728 * 4096),
        m.TopProcess(812, "chromium", 50.0, 105472 * 4096),
        m.TopProcess(845, "chromium", 0.0, 40960 * 4096),  # idle: by memory among equals
    )
    assert second.count == 11
    assert first.severity == m.Severity.DEBUG  # for the screen; history records info and up


def test_top_processes_a_reused_pid_is_a_new_process_and_names_are_whole(
    tmp_path: Path, clock: SimClock, ctx: Context, message_log: MessageLog
) -> None:
    root = tmp_path / "host"
    write_pid_stat(root, 7, "old", 5000, 10, 100)
    write_pid_stat(root, 8, "systemd-journal", 10, 20, 50)
    write_host_file(root, "/proc/8/cmdline", "/lib/systemd/systemd-journald\0")
    svc = top_processes(root)
    svc.tick(ctx)
    clock.advance(5.0)
    write_pid_stat(root, 7, "new", 1, 99, 100)  # the same pid, started later
    svc.tick(ctx)
    last = message_log.of_type(m.TopProcessesUpdated)[-1]
    assert [(p.pid, p.name, p.cpu_percent) for p in last.by_cpu] == [(8, "systemd-journald", 0.0)]


def test_top_processes_only_while_a_dashboard_is_open(
    tmp_path: Path, clock: SimClock, runtime: Runtime, message_log: MessageLog
) -> None:
    """Under the supervisor in simulated time: nothing is read while web.clients is 0 (or
    absent); while a dashboard is connected one list every interval, the CPU column from
    the second; when it goes, the reading stops and the baseline with it."""
    root = tmp_path / "host"
    write_pid_stat(root, 1, "init", 100, 1, 256)
    reads = []

    class CountingHost(HostRoot):
        def processes(self) -> list[ProcStatLine]:
            reads.append(1)
            return super().processes()

    svc = tm.TopProcessesService(CountingHost(root), interval=5.0)
    runtime.register_service(svc)
    runtime.boot()
    clock.settle()
    clock.advance(30.0)
    runtime.state.set(WEB_CLIENTS, 0)
    clock.advance(30.0)
    assert reads == [] and message_log.of_type(m.TopProcessesUpdated) == []
    runtime.state.set(WEB_CLIENTS, 1)
    clock.advance(10.0)
    lists = message_log.of_type(m.TopProcessesUpdated)
    assert len(reads) == 2 and len(lists) == 2
    assert lists[0].by_cpu == () and lists[1].by_cpu[0].cpu_percent == 0.0
    runtime.state.set(WEB_CLIENTS, 0)
    clock.advance(30.0)
    assert len(reads) == 2
    runtime.state.set(WEB_CLIENTS, 2)
    clock.advance(5.0)
    assert message_log.of_type(m.TopProcessesUpdated)[-1].by_cpu == ()  # a new baseline


def test_the_real_hosts_processes() -> None:
    procs = {p.pid: p for p in HostRoot("/").processes()}
    me = procs[os.getpid()]
    assert me.rss_pages > 0 and me.cpu_ticks >= 0 and me.start_ticks > 0
    assert HostRoot("/").command_name(me.pid, me.comm).startswith("python")


# -- all services with no files at all ----------------------------------------------------


def test_an_empty_host_emits_nothing_and_raises_nothing(
    tmp_path: Path, ctx: Context, message_log: MessageLog
) -> None:
    host = HostRoot(tmp_path)
    services = [
        tm.CpuService(host),
        tm.MemoryService(host),
        tm.LoadService(host),
        tm.UptimeService(host),
        tm.NetworkService(host),
        tm.DiskService(host, mounts=("/nope",), sd_card="mmcblk0"),
    ]
    for svc in services:
        svc.tick(ctx)
        svc.tick(ctx)
    assert message_log.events == []


# -- under the supervisor, in simulated time ------------------------------------------------


def test_intervals_are_live(
    tmp_path: Path, clock: SimClock, runtime: Runtime, message_log: MessageLog
) -> None:
    svc = tm.MemoryService(HostRoot(FIXTURES / "pi4"), interval=1.0)
    runtime.register_service(svc)
    runtime.boot()
    clock.settle()
    clock.advance(10.0)
    assert len(message_log.of_type(m.MemoryUsageUpdated)) == 11  # t=0 and every second
    svc.interval = 5.0
    clock.advance(1.0)  # the tick already due at the old interval
    message_log.clear()
    clock.advance(20.0)
    assert len(message_log.of_type(m.MemoryUsageUpdated)) == 4
