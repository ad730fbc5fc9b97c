"""The throttling device against a real (fake) vcgencmd subprocess and hwmon files."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bussdcc import DeviceError, Runtime, Severity, message
from bussdcc.testing import MessageLog, SimClock
from bussdcc_system import messages as m
from bussdcc_system.devices import DevicePollService
from bussdcc_system.devices.throttling import ThrottlingDevice, parse_get_throttled
from bussdcc_system.host import HostRoot
from bussdcc_system.throttling_flags import BITS, decode

if TYPE_CHECKING:
    from tests.bussdcc_system.appliance_helpers import FakeVcgencmd

FakeHost = Callable[[str], Path]


def attach(device: ThrottlingDevice, runtime: Runtime) -> None:
    device.attach(runtime.ctx)


def no_hwmon(tmp_path: Path) -> HostRoot:
    return HostRoot(tmp_path / "empty-host")


def polled(
    vcgencmd: FakeVcgencmd, answer: str, runtime: Runtime, tmp_path: Path
) -> ThrottlingDevice:
    """A device on the fake vcgencmd answering ``answer``, attached and polled once."""
    vcgencmd.set(answer)
    dev = ThrottlingDevice(host=no_hwmon(tmp_path), command=vcgencmd.command)
    attach(dev, runtime)
    dev.poll()
    return dev


def script_vcgencmd(tmp_path: Path, body: str, mode: int = 0o755) -> tuple[str, str]:
    """A real ``vcgencmd`` that runs ``body`` (a sh script); the device's command line."""
    script = tmp_path / "vcgencmd"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(mode)
    return (str(script), "get_throttled")


# -- decoding -------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", list(BITS))
def test_each_bit_alone(
    flag: str, vcgencmd: FakeVcgencmd, runtime: Runtime, message_log: MessageLog, tmp_path: Path
) -> None:
    raw = 1 << BITS[flag]
    polled(vcgencmd, hex(raw), runtime, tmp_path)
    [msg] = message_log.of_type(m.ThrottlingUpdated)
    assert msg.raw == raw
    assert msg.source == "vcgencmd"
    assert msg.flags() == {name: name == flag for name in m.THROTTLING_FLAGS}
    assert msg.severity == (Severity.WARNING if flag == "under_voltage" else Severity.INFO)


def test_combined_bits(
    vcgencmd: FakeVcgencmd, runtime: Runtime, message_log: MessageLog, tmp_path: Path
) -> None:
    polled(vcgencmd, "0x50005", runtime, tmp_path)
    [msg] = message_log.of_type(m.ThrottlingUpdated)
    assert isinstance(msg, m.ThrottlingUnderVoltage)
    assert msg.raw == 0x50005
    assert {k for k, v in msg.flags().items() if v} == {
        "under_voltage",
        "throttled",
        "under_voltage_occurred",
        "throttled_occurred",
    }


def test_all_bits() -> None:
    assert all(decode(0xF000F).values())
    assert not any(decode(0).values())
    assert not any(decode(0xFFF0).values())  # bits 4-15 mean nothing here


def test_parse_get_throttled() -> None:
    assert parse_get_throttled("throttled=0x50005\n") == 0x50005
    assert parse_get_throttled("throttled=0x0") == 0
    assert parse_get_throttled("throttled=0xE0000") == 0xE0000
    with pytest.raises(ValueError, match=re.escape("expected 'throttled=0x...'")):
        parse_get_throttled('error=1 error_msg="Command not registered"')


# -- transitions ---------------------------------------------------------------------------


def test_emits_on_attach_then_only_on_transitions(
    vcgencmd: FakeVcgencmd, runtime: Runtime, message_log: MessageLog, tmp_path: Path
) -> None:
    dev = polled(vcgencmd, "0x0", runtime, tmp_path)
    dev.poll()
    vcgencmd.set("0x50005")
    dev.poll()
    dev.poll()
    vcgencmd.set("0x50000")
    dev.poll()
    msgs = message_log.of_type(m.ThrottlingUpdated)
    assert [(x.raw, x.changed) for x in msgs] == [
        (0, tuple(m.THROTTLING_FLAGS)),
        (0x50005, ("under_voltage", "throttled", "under_voltage_occurred", "throttled_occurred")),
        (0x50000, ("under_voltage", "throttled")),
    ]
    assert [x.severity for x in msgs] == [Severity.INFO, Severity.WARNING, Severity.INFO]


def test_reattach_emits_the_current_state_again(
    vcgencmd: FakeVcgencmd, runtime: Runtime, message_log: MessageLog, tmp_path: Path
) -> None:
    dev = polled(vcgencmd, "0x80008", runtime, tmp_path)
    dev.detach()
    attach(dev, runtime)
    dev.poll()
    assert [x.raw for x in message_log.of_type(m.ThrottlingUpdated)] == [0x80008, 0x80008]


# -- absent or broken hardware -------------------------------------------------------------


def test_no_vcgencmd_and_no_hwmon_fails_in_words(
    fake_host: FakeHost, runtime: Runtime, message_log: MessageLog
) -> None:
    root = fake_host("x86")
    dev = ThrottlingDevice(
        host=HostRoot(root), command=(str(root / "usr/bin/vcgencmd"), "get_throttled")
    )
    assert runtime.attach_device(dev)  # registered; attaches at boot
    runtime.boot()
    [failed] = message_log.of_type(message.DeviceFailed)
    assert failed.device == "throttling" and failed.kind == "throttling"
    assert "is not installed (package raspi-utils)" in failed.error
    assert "no rpi_volt sensor under /sys/class/hwmon" in failed.error
    assert not dev.online
    assert message_log.of_type(m.ThrottlingUpdated) == []


def test_cannot_open_vcio_says_group_video(
    vcgencmd: FakeVcgencmd, tmp_path: Path, runtime: Runtime
) -> None:
    vcgencmd.set("novcio")
    dev = ThrottlingDevice(host=no_hwmon(tmp_path), command=vcgencmd.command)
    with pytest.raises(DeviceError, match=r"cannot open /dev/vcio: .* in group 'video'"):
        attach(dev, runtime)
    assert dev.error is not None and "DeviceAllow=/dev/vcio" in dev.error


def test_other_failures_quote_the_exit_status(tmp_path: Path, runtime: Runtime) -> None:
    command = script_vcgencmd(tmp_path, "echo 'VCHI initialization failed'\nexit 1\n")
    dev = ThrottlingDevice(host=no_hwmon(tmp_path), command=command)
    with pytest.raises(DeviceError, match="failed with exit status 1: VCHI initialization"):
        attach(dev, runtime)


def test_garbage_output(tmp_path: Path, runtime: Runtime) -> None:
    command = script_vcgencmd(tmp_path, "echo 'hello'\n")
    dev = ThrottlingDevice(host=no_hwmon(tmp_path), command=command)
    with pytest.raises(DeviceError, match=re.escape("expected 'throttled=0x...', got 'hello'")):
        attach(dev, runtime)


def test_not_executable(tmp_path: Path, runtime: Runtime) -> None:
    command = script_vcgencmd(tmp_path, "", 0o644)
    dev = ThrottlingDevice(host=no_hwmon(tmp_path), command=command)
    with pytest.raises(DeviceError, match="not executable"):
        attach(dev, runtime)


def test_hung_vcgencmd_times_out(tmp_path: Path, runtime: Runtime) -> None:
    command = script_vcgencmd(tmp_path, "exec sleep 30\n")
    dev = ThrottlingDevice(host=no_hwmon(tmp_path), command=command, timeout=0.2)
    with pytest.raises(DeviceError, match=re.escape("did not answer within 0.2 s")):
        attach(dev, runtime)


# -- the rpi_volt hwmon sensor --------------------------------------------------------------


def test_hwmon_only_reports_under_voltage(
    fake_host: FakeHost, runtime: Runtime, message_log: MessageLog
) -> None:
    root = fake_host("pi5")  # rpi_volt is hwmon3 there
    os.remove(root / "usr/bin/vcgencmd")
    dev = ThrottlingDevice(
        host=HostRoot(root), command=(str(root / "usr/bin/vcgencmd"), "get_throttled")
    )
    attach(dev, runtime)
    assert dev.source == "hwmon"
    assert dev.alarm_path == "/sys/class/hwmon/hwmon3/in0_lcrit_alarm"
    dev.poll()
    (root / "sys/class/hwmon/hwmon3/in0_lcrit_alarm").write_text("1\n")
    dev.poll()
    dev.poll()
    (root / "sys/class/hwmon/hwmon3/in0_lcrit_alarm").write_text("0\n")
    dev.poll()
    msgs = message_log.of_type(m.ThrottlingUpdated)
    assert [(x.under_voltage, x.changed, x.severity) for x in msgs] == [
        (False, ("under_voltage",), Severity.INFO),
        (True, ("under_voltage",), Severity.WARNING),
        (False, ("under_voltage",), Severity.INFO),
    ]
    assert all(x.source == "hwmon" and x.raw is None for x in msgs)
    assert all(x.freq_capped is None and x.under_voltage_occurred is None for x in msgs)


def test_hwmon_is_the_fallback_when_vcio_is_closed(
    fake_host: FakeHost, vcgencmd: FakeVcgencmd, runtime: Runtime
) -> None:
    vcgencmd.set("novcio")
    dev = ThrottlingDevice(host=HostRoot(fake_host("pi4")), command=vcgencmd.command)
    attach(dev, runtime)
    assert dev.source == "hwmon"


def test_vcgencmd_preferred_over_hwmon(fake_host: FakeHost, runtime: Runtime) -> None:
    root = fake_host("pi4")
    dev = ThrottlingDevice(
        host=HostRoot(root), command=(str(root / "usr/bin/vcgencmd"), "get_throttled")
    )
    attach(dev, runtime)
    assert dev.source == "vcgencmd"


# -- polled by the generic service in simulated time -----------------------------------------


def test_poll_service_reports_failure_once_and_recovery(
    vcgencmd: FakeVcgencmd,
    tmp_path: Path,
    clock: SimClock,
    runtime: Runtime,
    message_log: MessageLog,
) -> None:
    vcgencmd.set("0x0")
    dev = ThrottlingDevice(host=no_hwmon(tmp_path), command=vcgencmd.command, interval=5.0)
    svc = DevicePollService(dev)
    assert svc.name == "device.throttling" and svc.interval == 5.0
    runtime.attach_device(dev)
    runtime.register_service(svc)
    runtime.boot()
    clock.settle()
    assert len(message_log.of_type(m.ThrottlingUpdated)) == 1
    vcgencmd.set("novcio")
    clock.advance(5.0)
    clock.advance(5.0)
    failed = message_log.of_type(message.DeviceFailed)
    assert len(failed) == 1 and "group 'video'" in failed[0].error
    assert not dev.online
    vcgencmd.set("0x4")
    clock.advance(5.0)
    assert [x.device for x in message_log.of_type(message.DeviceAttached)] == [
        "throttling",
        "throttling",
    ]
    assert dev.online and dev.error is None
    assert [x.raw for x in message_log.of_type(m.ThrottlingUpdated)] == [0, 4]


def test_poll_service_skips_a_device_that_never_attached(
    tmp_path: Path, clock: SimClock, runtime: Runtime, message_log: MessageLog
) -> None:
    dev = ThrottlingDevice(host=no_hwmon(tmp_path), command=(str(tmp_path / "nope"), "x"))
    runtime.attach_device(dev)
    runtime.register_service(DevicePollService(dev))
    runtime.boot()
    clock.advance(20.0)
    assert len(message_log.of_type(message.DeviceFailed)) == 1
    assert message_log.of_type(message.ServiceError) == []
