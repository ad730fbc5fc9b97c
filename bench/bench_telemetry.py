"""CPU cost of one tick of every telemetry service and device poll.

Prints microseconds of CPU time (``time.process_time``, this process only) per tick,
per service and in total, on the real host and on the fake Pi 4 tree. Emission is
included: the state and health processes are running, so a tick's cost covers the
whole path from file read to state write. vcgencmd is a child process: its own CPU is
printed separately (``children``), since only the fork/exec/wait is ours.

    .venv/bin/python bench/bench_telemetry.py [--ticks N]

Target: the ``total`` line under 2000 us on the machine it runs on.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

from bussdcc import Context, DeviceError, Runtime, Service
from bussdcc.testing import SimClock
from bussdcc_system import messages as m
from bussdcc_system import telemetry as tm
from bussdcc_system.config import Config
from bussdcc_system.devices import DevicePollService, PolledDevice
from bussdcc_system.devices.thermal import ThermalZoneDevice
from bussdcc_system.devices.throttling import ThrottlingDevice
from bussdcc_system.health import HealthProcess
from bussdcc_system.host import HostRoot
from bussdcc_system.state import StateProcess

PI4 = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "hosts" / "pi4"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def services_for(host: HostRoot, ctx: Context) -> list[Service]:
    config = Config()
    sd_card = "mmcblk0" if host.exists("/sys/block/mmcblk0/stat") else None
    services: list[Service] = [
        tm.CpuService(host),
        tm.MemoryService(host),
        tm.DiskService(host, mounts=config.disks.mounts, sd_card=sd_card),
        tm.LoadService(host),
        tm.NetworkService(host),
        tm.IdentityService(host, addresses=tm.psutil_addresses),
        tm.UptimeService(host),
        tm.ProcessUsageService(host),
    ]
    devices: list[PolledDevice] = [
        ThrottlingDevice(host=host, command=(host.path("/usr/bin/vcgencmd"), "get_throttled")),
        ThermalZoneDevice(host=host),
    ]
    for device in devices:
        try:
            device.attach(ctx)
        except DeviceError as exc:
            print(f"  ({device.kind}: not on this host: {exc})")
            continue
        services.append(DevicePollService(device))
    return services


def bench(label: str, root: str, ticks: int) -> None:
    runtime = Runtime(clock=SimClock(), join_timeout=2.0)
    runtime.register_process(StateProcess())
    runtime.register_process(HealthProcess())
    runtime.boot()
    try:
        ctx = runtime.ctx
        host = HostRoot(root)
        print(f"\n{label} (root {host.root}), {ticks} ticks each, CPU microseconds per tick:")
        services = services_for(host, ctx)
        total = 0.0
        total_children = 0.0
        for svc in services:
            svc.start(ctx)
            svc.tick(ctx)  # baseline sample, warm caches
            own0, kids0 = time.process_time(), children_cpu()
            for _ in range(ticks):
                svc.tick(ctx)
            own = (time.process_time() - own0) / ticks * 1e6
            kids = (children_cpu() - kids0) / ticks * 1e6
            total += own
            total_children += kids
            extra = f"   (+{kids:8.1f} children)" if kids else ""
            print(f"  {svc.name:<24} {own:8.1f}{extra}")
        print(
            f"  {'total':<24} {total:8.1f}"
            + (f"   (+{total_children:8.1f} children)" if total_children else "")
        )
        count = len(runtime.state.snapshot().get("system", {}))
        print(
            f"  state: {count} entries under system.*; health "
            f"{runtime.state.get('system.health.level')}"
        )
    finally:
        runtime.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ticks", type=int, default=300)
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"{len(m.MESSAGE_TYPES)} message types"
    )
    bench("real host", "/", args.ticks)
    bench("fake Pi 4", str(PI4), args.ticks)


if __name__ == "__main__":
    main()
