"""Config -> components, auto-detection, and live reload of intervals, thresholds, devices."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from bussdcc import Runtime, message
from bussdcc.testing import MessageLog, SimClock
from bussdcc_system import messages as m
from bussdcc_system.components import build_components, detect_devices, detect_sd_card
from bussdcc_system.config import (
    Config,
    DeviceConfig,
    DisksConfig,
    HealthConfig,
    SamplingConfig,
    StatusLedOptions,
    ThermalZoneOptions,
    ThrottlingOptions,
    diff_configs,
)
from bussdcc_system.devices import DevicePollService
from bussdcc_system.devices.status_led import StatusLed, StatusLedService
from bussdcc_system.devices.thermal import ThermalZoneDevice
from bussdcc_system.devices.throttling import ThrottlingDevice
from tests.bussdcc_system.appliance_helpers import FIXTURES, boot_components, copy_host
from tests.bussdcc_system.appliance_helpers import write_host_file as write

THROTTLING = DeviceConfig("throttling", "throttling", ThrottlingOptions())
THERMAL = DeviceConfig("thermal_zone", "thermal_zone", ThermalZoneOptions())
LED = DeviceConfig("led", "status_led", StatusLedOptions(pin=17))


def no_addresses() -> tuple[m.Address, ...]:
    return ()


@pytest.fixture
def pins() -> Iterator[MockFactory]:
    factory = MockFactory()
    yield factory
    factory.reset()


# -- detection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [("pi4", [THROTTLING, THERMAL]), ("pi5", [THROTTLING, THERMAL]), ("x86", [THERMAL])],
)
def test_detect_devices(host: str, expected: list[DeviceConfig]) -> None:
    assert detect_devices(str(FIXTURES / host)) == expected


def test_detect_throttling_from_hwmon_alone(tmp_path: Path) -> None:
    root = copy_host("pi5", tmp_path)
    os.remove(root / "usr/bin/vcgencmd")
    assert detect_devices(str(root)) == [THROTTLING, THERMAL]
    shutil.rmtree(root / "sys/class/hwmon/hwmon3")
    shutil.rmtree(root / "sys/class/thermal")
    assert detect_devices(str(root)) == []


def test_detect_nothing_on_an_empty_host(tmp_path: Path) -> None:
    assert detect_devices(str(tmp_path)) == []
    assert detect_sd_card(str(tmp_path)) is None


@pytest.mark.parametrize(("host", "sd"), [("pi4", "mmcblk0"), ("pi5", "mmcblk0"), ("x86", None)])
def test_detect_sd_card(host: str, sd: str | None) -> None:
    assert detect_sd_card(str(FIXTURES / host)) == sd


# -- building ---------------------------------------------------------------------------------


def test_build_defaults_on_a_pi4() -> None:
    c = build_components(Config(), root=str(FIXTURES / "pi4"))
    assert {k: (s.name, s.interval) for k, s in c.telemetry.items()} == {
        "cpu": ("telemetry.cpu", 1.0),
        "memory": ("telemetry.memory", 2.0),
        "disk": ("telemetry.disk", 30.0),
        "load": ("telemetry.load", 5.0),
        "network": ("telemetry.network", 2.0),
        "identity": ("telemetry.identity", 300.0),
        "uptime": ("telemetry.uptime", 60.0),
        "process": ("telemetry.process", 5.0),
        "processes": ("telemetry.processes", 5.0),
    }
    assert c.auto_devices == (THROTTLING, THERMAL)
    assert c.device_configs == (THROTTLING, THERMAL)
    assert isinstance(c.devices["throttling"], ThrottlingDevice)
    assert isinstance(c.devices["thermal_zone"], ThermalZoneDevice)
    throttling = c.devices["throttling"]
    assert isinstance(throttling, ThrottlingDevice)
    assert throttling.command == (str(FIXTURES / "pi4/usr/bin/vcgencmd"), "get_throttled")
    assert [s.name for s in c.device_services.values()] == [
        "device.throttling",
        "device.thermal_zone",
    ]
    assert all(isinstance(s, DevicePollService) for s in c.device_services.values())
    disk = c.telemetry["disk"]
    assert (disk.mounts, disk.sd_card) == (("/",), "mmcblk0")  # type: ignore[attr-defined]
    assert [p.name for p in c.processes] == ["state", "health"]


def test_build_from_configured_values(pins: MockFactory) -> None:
    config = Config(
        sampling=SamplingConfig(cpu=0.5, network=10.0),
        disks=DisksConfig(mounts=("/", "/data"), sd_card="sda"),
        health=HealthConfig(temperature_warning=60.0),
        devices=(
            DeviceConfig("cpu", "thermal_zone", ThermalZoneOptions(interval=2.0, zone="acpitz")),
            LED,
        ),
    )
    c = build_components(config, root=str(FIXTURES / "x86"), pin_factory=pins)
    assert c.telemetry["cpu"].interval == 0.5 and c.telemetry["network"].interval == 10.0
    disk = c.telemetry["disk"]
    assert (disk.mounts, disk.sd_card) == (("/", "/data"), "sda")  # type: ignore[attr-defined]
    assert c.health.thresholds.temperature_warning == 60.0
    thermal = c.devices["cpu"]
    assert isinstance(thermal, ThermalZoneDevice)
    assert (thermal.wanted, thermal.interval) == ("acpitz", 2.0)
    led = c.devices["led"]
    assert isinstance(led, StatusLed) and led.pin == 17
    assert isinstance(c.device_services["led"], StatusLedService)
    assert c.auto_devices == (THERMAL,)  # detected anyway, for a later switch to auto


def test_explicit_empty_device_list_means_none() -> None:
    c = build_components(Config(devices=()), root=str(FIXTURES / "pi4"))
    assert c.devices == {} and c.device_services == {}


# -- running ----------------------------------------------------------------------------------


def write_stat(root: Path, busy: int, idle: int) -> None:
    write(
        root,
        "/proc/stat",
        f"cpu  {busy} 0 0 {idle} 0 0 0 0 0 0\ncpu0 {busy} 0 0 {idle} 0 0 0 0 0 0\n",
    )


def test_a_pi4_end_to_end(
    tmp_path: Path, clock: SimClock, runtime: Runtime, message_log: MessageLog, pins: MockFactory
) -> None:
    root = copy_host("pi4", tmp_path)
    write_stat(root, 100, 900)
    config = Config(devices=(THROTTLING, THERMAL, LED))
    boot_components(runtime, config, root, addresses=no_addresses, pin_factory=pins)
    clock.settle()
    write_stat(root, 150, 950)
    clock.advance(1.0)
    state = runtime.state.snapshot()
    system = state["system"]
    assert system["cpu"]["percent"] == 50.0
    assert system["identity"]["model"] == "Raspberry Pi 4 Model B Rev 1.4"
    assert system["temperature"]["thermal_zone"]["celsius"] == 48.686
    assert system["throttling"]["throttling"]["raw"] == 0
    assert system["disk_io"]["mmcblk0"]["bytes_written"] == 1872568 * 512
    assert set(system["network"]) == {"eth0", "wlan0"}
    assert system["health"]["level"] == "ok"
    assert {k: v["status"] for k, v in state["devices"].items()} == {
        "throttling": "online",
        "thermal_zone": "online",
        "led": "online",
    }
    assert state["devices"]["led"]["pattern"] == "on"
    assert [bool(s.state) for s in pins.pin(17).states] == [False, True]
    # a hot CPU: health goes critical and the LED blinks fast
    write(root, "/sys/class/thermal/thermal_zone0/temp", "85000\n")
    clock.advance(5.0)
    assert runtime.state.get("system.health.level") == "critical"
    assert runtime.state.get("devices.led.pattern") == "fast_blink"
    assert message_log.of_type(message.ServiceError) == []


def test_a_pc_with_a_configured_throttling_device(
    tmp_path: Path, clock: SimClock, runtime: Runtime
) -> None:
    config = Config(devices=(THROTTLING,))
    boot_components(runtime, config, FIXTURES / "x86", addresses=no_addresses)
    clock.advance(5.0)
    entry = runtime.state.get("devices.throttling")
    assert entry["status"] == "failed"
    assert "not installed (package raspi-utils)" in entry["error"]
    assert runtime.state.get("system.throttling") is None
    assert runtime.state.get("system.health.level") == "ok"


# -- reload -----------------------------------------------------------------------------------


def test_apply_sampling_and_health(tmp_path: Path, runtime: Runtime) -> None:
    old = Config(devices=())
    c = boot_components(runtime, old, FIXTURES / "pi4", addresses=no_addresses)
    new = replace(
        old,
        sampling=SamplingConfig(cpu=3.0, identity=60.0),
        health=HealthConfig(memory_warning=10.0, memory_critical=99.0),
    )
    c.apply(runtime, diff_configs(old, new), new)
    assert c.telemetry["cpu"].interval == 3.0
    assert c.telemetry["identity"].interval == 60.0
    assert c.telemetry["memory"].interval == 2.0
    assert c.health.thresholds == new.health
    assert c.config is new


def test_apply_disks_prunes_old_mounts(tmp_path: Path, runtime: Runtime) -> None:
    root = copy_host("pi4", tmp_path)
    (root / "data").mkdir()
    old = Config(disks=DisksConfig(mounts=("/", "/data")), devices=())
    c = boot_components(runtime, old, root, addresses=no_addresses)
    c.telemetry["disk"].tick(runtime.ctx)
    assert set(runtime.state.get("system.disk")) == {"/", "/data"}
    new = replace(old, disks=DisksConfig(mounts=("/",)))
    c.apply(runtime, diff_configs(old, new), new)
    assert set(runtime.state.get("system.disk")) == {"/"}
    assert c.telemetry["disk"].mounts == ("/",)  # type: ignore[attr-defined]


def test_apply_devices_added_removed_changed(
    clock: SimClock, runtime: Runtime, message_log: MessageLog, pins: MockFactory
) -> None:
    old = Config(devices=(THROTTLING, THERMAL))
    c = boot_components(runtime, old, FIXTURES / "pi4", addresses=no_addresses, pin_factory=pins)
    clock.settle()
    slower = DeviceConfig("thermal_zone", "thermal_zone", ThermalZoneOptions(interval=30.0))
    new = Config(devices=(slower, LED))
    c.apply(runtime, diff_configs(old, new), new)
    clock.settle()
    assert set(runtime.devices()) == {"thermal_zone", "led"}
    assert set(c.devices) == {"thermal_zone", "led"}
    names = runtime.services.names()
    assert "device.throttling" not in names
    assert {"device.thermal_zone", "device.led"} <= set(names)
    assert c.devices["thermal_zone"].interval == 30.0  # type: ignore[attr-defined]
    detached = [x.device for x in message_log.of_type(message.DeviceDetached)]
    attached = [x.device for x in message_log.of_type(message.DeviceAttached)]
    assert detached == ["throttling", "thermal_zone"]
    assert attached == ["throttling", "thermal_zone", "led", "thermal_zone"]
    assert "devices.throttling" not in runtime.state  # removed on purpose: not "offline"
    assert runtime.state.get("devices.led.pattern") == "on"  # health was already ok
    assert runtime.state.get("system.throttling") == {}


def test_switch_to_auto_detection(clock: SimClock, runtime: Runtime) -> None:
    old = Config(devices=())
    c = boot_components(runtime, old, FIXTURES / "pi5", addresses=no_addresses)
    new = Config(devices=None)
    c.apply(runtime, diff_configs(old, new, auto_devices=c.auto_devices), new)
    clock.settle()
    assert set(runtime.devices()) == {"throttling", "thermal_zone"}
    assert runtime.state.get("system.temperature.thermal_zone.celsius") == 52.15
