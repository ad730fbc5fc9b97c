"""Devices fail honestly: a failing connect is reported and the runtime boots on."""

from __future__ import annotations

import pytest
from kernel_helpers import Recorder

from bussdcc import Context, Device, DeviceError, DeviceStatus, Process, Runtime
from bussdcc.testing import MessageLog


class Sensor(Device):
    kind = "sensor"

    def __init__(self, id: str, log: list[str], fail: str | None = None) -> None:
        super().__init__(id)
        self.log = log
        self.fail = fail

    def connect(self) -> None:
        if self.fail:
            raise DeviceError(self.fail)
        self.log.append(f"connect {self.id}")

    def disconnect(self) -> None:
        self.log.append(f"disconnect {self.id}")


def test_failing_connect_is_reported_and_boot_goes_on(
    runtime: Runtime, message_log: MessageLog
) -> None:
    log: list[str] = []
    broken = Sensor("vcio", log, fail="/dev/vcio is missing: not a Raspberry Pi?")
    runtime.attach_device(broken)
    runtime.attach_device(Sensor("thermal", log))
    rec = Recorder()
    runtime.register_process(rec)
    runtime.boot()
    assert runtime.booted
    failed = message_log.data("device.failed")
    assert failed == [
        {"device": "vcio", "kind": "sensor", "error": "/dev/vcio is missing: not a Raspberry Pi?"}
    ]
    assert broken.online is False
    assert broken.error == "/dev/vcio is missing: not a Raspberry Pi?"
    assert message_log.data("device.attached") == [{"device": "thermal", "kind": "sensor"}]
    assert "process.started" in message_log.names
    assert log == ["connect thermal"]
    runtime.shutdown()
    # only the device that came online is disconnected and reported detached
    assert log == ["connect thermal", "disconnect thermal"]
    assert message_log.data("device.detached") == [{"device": "thermal", "kind": "sensor"}]


def test_live_attach_and_detach_after_boot(runtime: Runtime, message_log: MessageLog) -> None:
    log: list[str] = []
    runtime.boot()
    assert runtime.attach_device(Sensor("late", log)) is True
    assert message_log.data("device.attached") == [{"device": "late", "kind": "sensor"}]
    assert runtime.attach_device(Sensor("late-broken", log, fail="no such chip")) is False
    assert message_log.data("device.failed")[0]["error"] == "no such chip"
    assert set(runtime.devices()) == {"late", "late-broken"}
    runtime.detach_device("late")
    assert message_log.data("device.detached") == [{"device": "late", "kind": "sensor"}]
    assert log == ["connect late", "disconnect late"]
    assert set(runtime.devices()) == {"late-broken"}


def test_duplicate_device_id_is_refused(runtime: Runtime) -> None:
    runtime.attach_device(Device("x"))
    with pytest.raises(ValueError, match="already attached"):
        runtime.attach_device(Device("x"))


def test_failing_disconnect_is_reported(runtime: Runtime, message_log: MessageLog) -> None:
    class Sticky(Device):
        def disconnect(self) -> None:
            raise OSError("bus stuck")

    dev = Sticky("sticky")
    runtime.attach_device(dev)
    runtime.boot()
    runtime.shutdown()
    assert dev.online is False
    assert "bus stuck" in message_log.data("device.failed")[0]["error"]
    assert "runtime.shutdown" in message_log.names


def test_components_see_devices_as_a_snapshot_not_the_runtime(runtime: Runtime) -> None:
    seen: list[dict[str, DeviceStatus]] = []

    class Looker(Process):
        name = "looker"

        def start(self, ctx: Context) -> None:
            seen.append(ctx.devices())

    log: list[str] = []
    runtime.attach_device(Sensor("vcio", log, fail="no /dev/vcio"))
    runtime.attach_device(Sensor("thermal", log))
    runtime.register_process(Looker())
    runtime.attach_device(Sensor("later", log))  # registered before boot: attached at boot
    runtime.boot()
    assert seen == [
        {
            "vcio": DeviceStatus("vcio", "sensor", online=False, error="no /dev/vcio"),
            "thermal": DeviceStatus("thermal", "sensor", online=True, error=None),
            "later": DeviceStatus("later", "sensor", online=True, error=None),
        }
    ]
    assert list(seen[0]) == ["vcio", "thermal", "later"]  # attach order
    runtime.detach_device("thermal")
    assert seen[0]["thermal"].online is True  # what the component holds does not change
    assert set(runtime.ctx.devices()) == {"vcio", "later"}
    assert not hasattr(runtime.ctx, "runtime")  # a component gets capabilities, not the runtime


def test_a_device_the_owner_attached_is_registered_and_reported_once(
    runtime: Runtime, message_log: MessageLog
) -> None:
    """A reload attaches its new devices before it commits; the runtime then only adopts
    them: connect is not called again, ``device.attached`` is reported once."""
    log: list[str] = []
    runtime.boot()
    prepared = Sensor("new", log)
    prepared.attach(runtime.ctx)
    assert log == ["connect new"] and message_log.data("device.attached") == []
    assert runtime.attach_device(prepared, attached=True) is True
    assert log == ["connect new"]
    assert message_log.data("device.attached") == [{"device": "new", "kind": "sensor"}]
    assert runtime.ctx.devices()["new"].online is True
    runtime.shutdown()
    assert log == ["connect new", "disconnect new"]


def test_adopting_a_device_that_is_not_attached_is_refused(runtime: Runtime) -> None:
    log: list[str] = []
    with pytest.raises(ValueError, match="not attached"):
        runtime.attach_device(Sensor("early", log), attached=True)  # not booted yet
    runtime.boot()
    with pytest.raises(ValueError, match="not attached"):
        runtime.attach_device(Sensor("offline", log), attached=True)
    assert runtime.devices() == {} and log == []
