"""The thermal-zone device on the fake Pi 4, Pi 5 and PC trees."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from bussdcc import DeviceError, Runtime, message
from bussdcc.testing import MessageLog, SimClock
from bussdcc_system import messages as m
from bussdcc_system.devices import DevicePollService
from bussdcc_system.devices.thermal import CPU_ZONE_TYPES, ThermalZoneDevice, is_cpu_zone
from bussdcc_system.host import HostRoot
from tests.bussdcc_system.appliance_helpers import FIXTURES, write_host_file

FakeHost = Callable[[str], Path]


@pytest.mark.parametrize(
    ("host", "zone", "name", "zone_type", "celsius"),
    [
        ("pi4", "auto", "thermal_zone0", "cpu-thermal", 48.686),
        ("pi5", "auto", "thermal_zone0", "cpu-thermal", 52.15),
        ("x86", "auto", "thermal_zone1", "x86_pkg_temp", 45.0),  # the CPU, not acpitz
        ("x86", "thermal_zone0", "thermal_zone0", "acpitz", 27.8),
        ("x86", "acpitz", "thermal_zone0", "acpitz", 27.8),
        ("pi4", "cpu-thermal", "thermal_zone0", "cpu-thermal", 48.686),
    ],
)
def test_zone_choice_and_reading(
    host: str,
    zone: str,
    name: str,
    zone_type: str,
    celsius: float,
    runtime: Runtime,
    message_log: MessageLog,
) -> None:
    dev = ThermalZoneDevice(host=HostRoot(FIXTURES / host), zone=zone)
    dev.attach(runtime.ctx)
    assert dev.zone is not None and dev.zone.name == name
    dev.poll()
    assert message_log.of_type(m.TemperatureUpdated) == [
        m.TemperatureUpdated("thermal_zone", zone_type, celsius)
    ]


def test_auto_takes_the_first_zone_when_none_is_known(tmp_path: Path, runtime: Runtime) -> None:
    for n, kind in ((0, "soc-dummy"), (1, "gpu-thermal")):
        zone = tmp_path / f"sys/class/thermal/thermal_zone{n}"
        zone.mkdir(parents=True)
        (zone / "type").write_text(kind + "\n")
        (zone / "temp").write_text("40000\n")
    dev = ThermalZoneDevice(host=HostRoot(tmp_path))
    dev.attach(runtime.ctx)
    assert dev.zone is not None and dev.zone.type == "soc-dummy"


def test_auto_prefers_a_cpu_zone_type_in_declared_order(tmp_path: Path, runtime: Runtime) -> None:
    for n, kind in ((0, "gpu-thermal"), (1, "soc_thermal"), (2, "x86_pkg_temp")):
        write_host_file(tmp_path, f"/sys/class/thermal/thermal_zone{n}/type", kind + "\n")
        write_host_file(tmp_path, f"/sys/class/thermal/thermal_zone{n}/temp", "40000\n")
    dev = ThermalZoneDevice(host=HostRoot(tmp_path))
    dev.attach(runtime.ctx)
    assert dev.zone is not None and dev.zone.type == "x86_pkg_temp"
    assert CPU_ZONE_TYPES.index("x86_pkg_temp") < CPU_ZONE_TYPES.index("soc_thermal")


def test_which_zones_measure_the_cpu() -> None:
    assert all(is_cpu_zone(t) for t in CPU_ZONE_TYPES)
    assert is_cpu_zone("cpu0-thermal")
    assert not is_cpu_zone("acpitz") and not is_cpu_zone("gpu-thermal")


def test_every_poll_emits(fake_host: FakeHost, runtime: Runtime, message_log: MessageLog) -> None:
    root = fake_host("pi4")
    dev = ThermalZoneDevice("cpu", host=HostRoot(root))
    dev.attach(runtime.ctx)
    dev.poll()
    (root / "sys/class/thermal/thermal_zone0/temp").write_text("-5500\n")
    dev.poll()
    dev.poll()
    assert [x.celsius for x in message_log.of_type(m.TemperatureUpdated)] == [48.686, -5.5, -5.5]
    assert {x.device for x in message_log.of_type(m.TemperatureUpdated)} == {"cpu"}


def test_no_zone_at_all(tmp_path: Path, runtime: Runtime) -> None:
    dev = ThermalZoneDevice(host=HostRoot(tmp_path))
    with pytest.raises(
        DeviceError,
        match=r"^no thermal zone \(no temperature sensor\) found under "
        r"/sys/class/thermal$",
    ):
        dev.attach(runtime.ctx)
    assert not dev.online


def test_unknown_zone_lists_what_exists(runtime: Runtime) -> None:
    dev = ThermalZoneDevice(host=HostRoot(FIXTURES / "x86"), zone="cpu-thermal")
    with pytest.raises(DeviceError) as info:
        dev.attach(runtime.ctx)
    assert str(info.value) == (
        "no thermal zone 'cpu-thermal' under /sys/class/thermal; "
        "found: acpitz (thermal_zone0), x86_pkg_temp (thermal_zone1)"
    )


def test_unreadable_temperature_fails_attach(
    fake_host: FakeHost, runtime: Runtime, message_log: MessageLog
) -> None:
    root = fake_host("pi5")
    os.remove(root / "sys/class/thermal/thermal_zone0/temp")
    dev = ThermalZoneDevice(host=HostRoot(root))
    runtime.attach_device(dev)
    runtime.boot()
    [failed] = message_log.of_type(message.DeviceFailed)
    assert failed.error == (
        "cannot read the temperature of thermal zone thermal_zone0 (cpu-thermal) from "
        "/sys/class/thermal/thermal_zone0/temp"
    )


def test_polled_in_simulated_time_and_failure_after_attach(
    fake_host: FakeHost, clock: SimClock, runtime: Runtime, message_log: MessageLog
) -> None:
    root = fake_host("pi4")
    dev = ThermalZoneDevice(host=HostRoot(root), interval=5.0)
    runtime.attach_device(dev)
    runtime.register_service(DevicePollService(dev))
    runtime.boot()
    clock.settle()
    clock.advance(10.0)
    assert len(message_log.of_type(m.TemperatureUpdated)) == 3  # t = 0, 5, 10
    temp = root / "sys/class/thermal/thermal_zone0/temp"
    temp.write_text("garbage\n")
    clock.advance(5.0)
    [failed] = message_log.of_type(message.DeviceFailed)
    assert failed.error.startswith("cannot read the temperature of thermal zone")
    temp.write_text("50000\n")
    clock.advance(5.0)
    assert dev.online
    assert message_log.of_type(m.TemperatureUpdated)[-1].celsius == 50.0


def test_detach_forgets_the_zone(runtime: Runtime) -> None:
    dev = ThermalZoneDevice(host=HostRoot(FIXTURES / "pi4"))
    dev.attach(runtime.ctx)
    dev.detach()
    assert dev.zone is None and not dev.online and not dev.connected
