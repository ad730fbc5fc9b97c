"""The state projection: every telemetry and device message lands at its documented path.

(Named test_state_process.py: tests/bussdcc/test_state.py already owns that basename.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bussdcc import Device, DeviceError, Runtime, message
from bussdcc.testing import SimClock
from bussdcc_system import messages as m
from bussdcc_system.state import StateProcess

T0 = "2026-01-01T00:00:00+00:00"


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    rt = Runtime(clock=SimClock(), join_timeout=2.0)
    rt.register_process(StateProcess())
    rt.boot()
    yield rt
    rt.shutdown()


def get(rt: Runtime, path: str) -> Any:
    return rt.state.get(path)


@pytest.mark.parametrize(
    ("msg", "path"),
    [
        (
            m.CpuUsageUpdated(10.0, 5.0, 0.0, 5.0, 90.0, 0.0, 0.0, 0.0, 0.0, (10.0, None), 2),
            "system.cpu",
        ),
        (m.MemoryUsageUpdated(100, 60, 40, 40.0, 0, 0, None), "system.memory"),
        (m.LoadUpdated(1.0, 0.5, 0.25, 0.25, 0.125, 0.062, 4), "system.load"),
        (m.UptimeUpdated(100.0, 1767225500.0), "system.uptime"),
        (
            m.IdentityUpdated(
                "pi",
                "Raspberry Pi 4 Model B Rev 1.4",
                None,
                "Debian",
                "6.1",
                "id",
                (m.Address("eth0", "ipv4", "192.0.2.1"),),
            ),
            "system.identity",
        ),
        (m.ProcessUsageUpdated(42, 1.5, 1000, 7), "system.process"),
        (
            m.CpuUsageUpdated(
                10.0, 5.0, 0.0, 5.0, 90.0, 0.0, 0.0, 0.0, 0.0, (10.0,), 1, 600.0, 600.0, 1800.0
            ),
            "system.cpu",
        ),
        (
            m.TopProcessesUpdated(
                120,
                (m.TopProcess(7, "chromium", 35.5, 300 << 20),),
                (m.TopProcess(7, "chromium", 35.5, 300 << 20), m.TopProcess(1, "init", 0.0, 9)),
            ),
            "system.top_processes",
        ),
    ],
)
def test_whole_messages(runtime: Runtime, msg: m.Message, path: str) -> None:
    runtime.emit(msg)
    assert get(runtime, path) == {**msg.to_dict(), "updated": T0}


def test_identity_addresses_are_plain_data(runtime: Runtime) -> None:
    runtime.emit(
        m.IdentityUpdated(
            None, None, None, None, None, None, (m.Address("eth0", "ipv6", "2001:db8::1"),)
        )
    )
    assert get(runtime, "system.identity.addresses") == [
        {"interface": "eth0", "family": "ipv6", "address": "2001:db8::1"}
    ]
    assert get(runtime, "system.identity.model") is None


def test_disks_by_mount(runtime: Runtime) -> None:
    runtime.emit(m.DiskUsageUpdated("/", 100, 40, 60, 40.0))
    runtime.emit(m.DiskUsageUpdated("/boot/firmware", 10, 1, 9, 10.0))
    runtime.emit(m.DiskUsageUpdated("/", 100, 50, 50, 50.0))
    disks = get(runtime, "system.disk")
    assert set(disks) == {"/", "/boot/firmware"}
    assert disks["/"] == {
        "mount": "/",
        "total": 100,
        "used": 50,
        "free": 50,
        "percent": 50.0,
        "updated": T0,
    }


def test_disk_io_by_device(runtime: Runtime) -> None:
    runtime.emit(m.DiskIoUpdated("mmcblk0", 512, 1024, None, 10.5))
    assert get(runtime, "system.disk_io")["mmcblk0"]["write_bytes_per_s"] == 10.5


def test_network_by_interface_and_totals(runtime: Runtime) -> None:
    eth0 = m.InterfaceUsage("eth0", 1, 2, 3, 4, 0, 0, 0, 0, 10.0, 20.0)
    vlan = m.InterfaceUsage("eth0.100", 5, 6, 7, 8, 1, 2, 3, 4, None, None)
    runtime.emit(m.NetworkUsageUpdated((eth0, vlan), 10.0, 20.0))
    network = get(runtime, "system.network")
    assert set(network) == {"eth0", "eth0.100"}  # a dotted name is a key, not a path
    assert network["eth0"]["rx_bytes_per_s"] == 10.0 and network["eth0"]["updated"] == T0
    assert network["eth0.100"]["rx_errors"] == 1
    assert get(runtime, "system.network.eth0.tx_bytes") == 2
    assert get(runtime, "system.network_total") == {
        "rx_bytes_per_s": 10.0,
        "tx_bytes_per_s": 20.0,
        "updated": T0,
    }
    runtime.emit(m.NetworkUsageUpdated((eth0,), 10.0, 20.0))  # the VLAN went away
    assert set(get(runtime, "system.network")) == {"eth0"}


def test_temperature_and_throttling_by_device(runtime: Runtime) -> None:
    runtime.emit(m.TemperatureUpdated("thermal_zone", "cpu-thermal", 48.686))
    flags: dict[str, bool | None] = dict.fromkeys(m.THROTTLING_FLAGS, False)
    flags["under_voltage"] = True
    runtime.emit(
        m.throttling_updated(
            device="throttling", source="vcgencmd", raw=1, flags=flags, changed=("under_voltage",)
        )
    )
    assert get(runtime, "system.temperature.thermal_zone") == {
        "device": "thermal_zone",
        "zone": "cpu-thermal",
        "celsius": 48.686,
        "updated": T0,
    }
    throttling = get(runtime, "system.throttling.throttling")
    assert throttling["under_voltage"] is True and throttling["raw"] == 1
    assert throttling["changed"] == ["under_voltage"]


def test_device_lifecycle(runtime: Runtime) -> None:
    runtime.emit(message.DeviceFailed("throttling", "throttling", "vcgencmd cannot open"))
    runtime.emit(message.DeviceAttached("thermal_zone", "thermal_zone"))
    devices = get(runtime, "devices")
    assert devices["throttling"] == {
        "kind": "throttling",
        "status": "failed",
        "online": False,
        "error": "vcgencmd cannot open",
        "updated": T0,
    }
    assert devices["thermal_zone"]["status"] == "online"
    assert devices["thermal_zone"]["online"] is True


def test_detached_or_failed_device_drops_its_reading(runtime: Runtime) -> None:
    runtime.emit(message.DeviceAttached("thermal_zone", "thermal_zone"))
    runtime.emit(m.TemperatureUpdated("thermal_zone", "cpu-thermal", 50.0))
    runtime.emit(m.TemperatureUpdated("other", "acpitz", 30.0))
    runtime.emit(message.DeviceFailed("thermal_zone", "thermal_zone", "cannot read"))
    assert set(get(runtime, "system.temperature")) == {"other"}
    runtime.emit(message.DeviceDetached("other", "thermal_zone"))
    assert get(runtime, "system.temperature") == {}
    assert get(runtime, "devices.other") is None  # detached on purpose: no longer listed
    assert get(runtime, "devices.thermal_zone.status") == "failed"


def test_status_led_pattern_joins_its_device_entry(runtime: Runtime) -> None:
    runtime.emit(message.DeviceAttached("status_led", "status_led"))
    runtime.emit(m.StatusLedChanged("status_led", 17, "slow_blink", "warning"))
    entry = get(runtime, "devices.status_led")
    assert entry["status"] == "online"
    assert (entry["pin"], entry["pattern"], entry["level"]) == (17, "slow_blink", "warning")


def test_health_is_not_written_here(runtime: Runtime) -> None:
    runtime.emit(m.health_changed("critical", "ok", ("x",)))
    assert get(runtime, "system.health") is None  # HealthProcess owns system.health


def test_devices_attached_at_boot_are_recorded() -> None:
    # At boot, devices attach before any process starts: their messages precede us.
    class Absent(Device):
        kind = "gadget"

        def connect(self) -> None:
            raise DeviceError("no gadget here")

    rt = Runtime(clock=SimClock(), join_timeout=2.0)
    rt.attach_device(Device("plain"))
    rt.attach_device(Absent("absent"))
    rt.register_process(StateProcess())
    with rt:
        devices = rt.state.get("devices")
    assert devices == {
        "plain": {
            "kind": "device",
            "status": "online",
            "online": True,
            "error": None,
            "updated": T0,
        },
        "absent": {
            "kind": "gadget",
            "status": "failed",
            "online": False,
            "error": "no gadget here",
            "updated": T0,
        },
    }
