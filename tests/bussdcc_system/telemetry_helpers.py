"""Helpers for the appliance tests: the telemetry messages a Pi sends, and a runtime
keeping the state they make.

(The fake hosts and configurations are in ``appliance_helpers``.)"""

from __future__ import annotations

import time
from typing import TypeVar

from bussdcc import Message, Runtime
from bussdcc.testing import SimClock
from bussdcc_system import messages as m
from bussdcc_system.health import HealthProcess
from bussdcc_system.state import StateProcess

M = TypeVar("M", bound=Message)


# -- telemetry messages ---------------------------------------------------------------


def cpu_usage(
    percent: float = 12.5,
    *,
    per_core: tuple[float | None, ...] | None = None,
    iowait: float | None = 0.0,
    mhz: float | None = None,
) -> m.CpuUsageUpdated:
    """A CPU sample ``percent`` busy (user = busy - 2.5, system 2.5), one core unless
    ``per_core`` says otherwise; with ``mhz``, clocked at that in a Pi 4's 600-1800 MHz."""
    cores = (percent,) if per_core is None else per_core
    return m.CpuUsageUpdated(
        percent=percent,
        user=percent - 2.5,
        nice=0.0,
        system=2.5,
        idle=100 - percent,
        iowait=iowait,
        irq=0.0,
        softirq=0.0,
        steal=0.0,
        per_core=cores,
        count=len(cores),
        freq_mhz=mhz,
        freq_min_mhz=None if mhz is None else 600.0,
        freq_max_mhz=None if mhz is None else 1800.0,
    )


GiB = 1024**3


def pi_telemetry(
    *,
    cpu: float = 12.5,
    celsius: float = 51.2,
    under_voltage: bool = False,
    rx: float = 2048.0,
    mhz: float = 1500.0,
    written: float = 1.5 * GiB,
) -> list[Message]:
    """One round of the messages a Raspberry Pi 4 daemon emits (the process list is
    only sampled while a dashboard is open: ``top_processes``)."""
    flags = {
        **dict.fromkeys(m.THROTTLING_FLAGS, False),
        "under_voltage": under_voltage,
        "under_voltage_occurred": True,
    }
    return [
        cpu_usage(cpu, per_core=(cpu, cpu / 2, 3.0, 1.0), mhz=mhz),
        m.MemoryUsageUpdated(
            total=int(7.6 * GiB),
            available=int(4.4 * GiB),
            used=int(3.2 * GiB),
            percent=42.1,
            swap_total=GiB // 2,
            swap_used=0,
            swap_percent=0.0,
        ),
        m.LoadUpdated(
            load1=0.52,
            load5=0.61,
            load15=0.7,
            per_cpu1=0.13,
            per_cpu5=0.15,
            per_cpu15=0.18,
            cpu_count=4,
        ),
        m.UptimeUpdated(seconds=4 * 86400 + 3600, boot_time=time.time() - 4 * 86400 - 3600),
        m.DiskUsageUpdated(
            mount="/", total=29 * GiB, used=int(7.3 * GiB), free=int(20.3 * GiB), percent=26.4
        ),
        m.DiskUsageUpdated(
            mount="/boot/firmware",
            total=510 * 1024**2,
            used=60 * 1024**2,
            free=450 * 1024**2,
            percent=11.8,
        ),
        m.DiskIoUpdated(
            device="mmcblk0",
            bytes_read=int(2.5 * GiB),
            bytes_written=int(written),
            read_bytes_per_s=4096.0,
            write_bytes_per_s=24576.0,
            written_today=int(written / 4),
            today_since=time.time() - 6 * 3600,
        ),
        m.NetworkUsageUpdated(
            interfaces=(
                m.InterfaceUsage("eth0", 10 * GiB, GiB, 1000, 900, 0, 0, 0, 0, rx, 512.0),
                m.InterfaceUsage("wlan0", 5000, 4000, 10, 9, 0, 0, 0, 0, 0.0, 0.0),
            ),
            rx_bytes_per_s=rx,
            tx_bytes_per_s=512.0,
        ),
        m.IdentityUpdated(
            hostname="pi-kitchen",
            model="Raspberry Pi 4 Model B Rev 1.4",
            serial="10000000abcdef01",
            os_release="Debian GNU/Linux 12 (bookworm)",
            kernel="6.1.0-rpi7-rpi-v8",
            boot_id="0b0c",
            addresses=(m.Address("eth0", "ipv4", "192.168.1.20"),),
        ),
        m.TemperatureUpdated(device="cpu_thermal", zone="cpu-thermal", celsius=celsius),
        m.throttling_updated(
            device="throttling",
            source="vcgencmd",
            raw=0x10000 | (1 if under_voltage else 0),
            flags=flags,
            changed=(),
        ),
        m.ProcessUsageUpdated(pid=1234, cpu_percent=0.8, rss=38 * 1024**2, threads=14),
    ]


def top_processes() -> m.TopProcessesUpdated:
    """What a Pi 4 with a kiosk open is busy with."""
    chromium = m.TopProcess(812, "chromium", 23.4, 412 * 1024**2)
    daemon = m.TopProcess(604, "bussdcc-system", 1.2, 41 * 1024**2)
    return m.TopProcessesUpdated(
        count=143,
        by_cpu=(
            chromium,
            m.TopProcess(790, "cage", 4.1, 38 * 1024**2),
            daemon,
            m.TopProcess(15, "kworker/u8:2-events_unbound", 0.6, 0),
        ),
        by_memory=(chromium, m.TopProcess(845, "chromium", 3.0, 160 * 1024**2), daemon),
    )


def pi_runtime(*, fed: bool = True) -> Runtime:
    """A booted runtime on a SimClock with the state and health processes, fed one round
    of ``pi_telemetry`` unless ``fed=False``. The caller shuts it down."""
    runtime = Runtime(clock=SimClock(), join_timeout=2.0)
    runtime.register_process(StateProcess())
    runtime.register_process(HealthProcess())
    runtime.boot()
    for msg in [*pi_telemetry(), top_processes()] if fed else ():
        runtime.emit(msg)
    return runtime
