"""Helpers for the web tests: a real runtime with the state and health processes and a
real WebInterface on an ephemeral localhost port, plus the telemetry a Pi 4 would send."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from bussdcc import Message, ThreadedRuntime
from bussdcc_system import messages as m
from bussdcc_system.config import WebConfig
from bussdcc_system.health import HealthProcess
from bussdcc_system.state import StateProcess
from bussdcc_system.web import WebInterface

GiB = 1024**3


def pi_telemetry(
    *, cpu: float = 12.5, celsius: float = 51.2, under_voltage: bool = False, rx: float = 2048.0
) -> list[Message]:
    """One round of the messages a Raspberry Pi 4 daemon emits."""
    flags = {
        "under_voltage": under_voltage,
        "freq_capped": False,
        "throttled": False,
        "soft_temp_limit": False,
        "under_voltage_occurred": True,
        "freq_capped_occurred": False,
        "throttled_occurred": False,
        "soft_temp_limit_occurred": False,
    }
    return [
        m.CpuUsageUpdated(
            percent=cpu,
            user=cpu - 2.5,
            nice=0.0,
            system=2.5,
            idle=100 - cpu,
            iowait=0.0,
            irq=0.0,
            softirq=0.0,
            steal=0.0,
            per_core=(cpu, cpu / 2, 3.0, 1.0),
            count=4,
        ),
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


def wait_for(cond: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``cond`` until it is true (a bound on waiting, not a timing assertion)."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


class WebRig:
    def __init__(self, rt: ThreadedRuntime, web: WebInterface) -> None:
        self.rt = rt
        self.web = web

    @property
    def url(self) -> str:
        assert self.web.url is not None
        return self.web.url

    def feed(self, **kw: object) -> None:
        for msg in pi_telemetry(**kw):  # type: ignore[arg-type]
            self.rt.emit(msg)
        self.rt.wait_idle(5)


def make_rig(tmp_path: Path, **config: object) -> WebRig:
    rt = ThreadedRuntime(join_timeout=2.0)
    rt.register_process(StateProcess())
    rt.register_process(HealthProcess())
    cfg = WebConfig(**{"host": "127.0.0.1", "port": 0, **config})  # type: ignore[arg-type]
    web = WebInterface(cfg, history_dir=str(tmp_path / "history"))
    rt.register_interface(web)
    rt.start()
    return WebRig(rt, web)


def write_history(directory: Path, start: float, samples: int, step: float = 10.0) -> None:
    """Record ``samples`` rounds of CPU, memory and temperature telemetry, ``step`` seconds
    apart from ``start`` (POSIX seconds), through the real HistorySink on a SimClock, with
    an under-voltage episode from sample 100 to sample 130."""
    from datetime import UTC, datetime

    from bussdcc import SimClock
    from bussdcc.event import EventBus
    from bussdcc_system.history.sink import HistorySink

    clock = SimClock(start=datetime.fromtimestamp(start, UTC))
    bus = EventBus(clock)
    sink = HistorySink(directory, clock=clock, boot_id="web-test-boot")
    sink.subscribe(bus)
    sink.start()
    flags = dict.fromkeys(m.THROTTLING_FLAGS, False)
    try:
        for i in range(samples):
            for msg in pi_telemetry(cpu=float(i % 50), celsius=45.0 + i % 10):
                if not isinstance(msg, m.ThrottlingUpdated):
                    bus.emit(msg)
            if i in (0, 100, 130):
                uv = i == 100
                bus.emit(
                    m.throttling_updated(
                        device="throttling",
                        source="vcgencmd",
                        raw=0x10001 if uv else 0x10000 * (i > 0),
                        flags={**flags, "under_voltage": uv, "under_voltage_occurred": i > 0},
                        changed=("under_voltage",),
                    )
                )
            clock.advance(step)
    finally:
        sink.close()
