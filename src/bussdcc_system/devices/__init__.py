"""Raspberry Pi devices: hardware the daemon attaches, and the services that poll them.

A hardware reading is a ``bussdcc.Device`` (attach/detach, ``DeviceError`` in words when
the hardware is absent) plus a ``PolledDevice.poll()`` that one generic
``DevicePollService`` calls at the device's interval. ``connect`` reads the hardware
once, so a device that cannot work fails at attach (``device.failed``) and is never
polled. A poll that fails later marks the device failed (``device.failed`` with the
reason) and keeps trying; the first good poll after that reports it attached again.
The status LED is output, not polled: ``StatusLedService`` drives it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from bussdcc import Device, DeviceError, Service, message

if TYPE_CHECKING:
    from bussdcc import Context


class PolledDevice(Device):
    """A device read on an interval; subclasses implement ``connect`` and ``poll``."""

    def __init__(self, id: str, *, interval: float) -> None:
        super().__init__(id)
        self.interval = interval
        self.connected = False
        """True between a successful ``connect`` and ``detach`` (``online`` also drops
        while polls fail)."""
        self.lock = threading.RLock()

    def attach(self, ctx: Context) -> None:
        with self.lock:
            self.connected = False
            super().attach(ctx)
            self.connected = True

    def detach(self) -> None:
        with self.lock:
            try:
                if self.connected:
                    self.disconnect()
            finally:
                self.connected = False
                self.online = False

    def poll(self) -> None:
        """Read the hardware and emit what changed; raise ``DeviceError`` when it fails."""
        raise NotImplementedError


class DevicePollService(Service):
    """Polls one ``PolledDevice`` every ``device.interval`` seconds while it is connected."""

    def __init__(self, device: PolledDevice, *, name: str | None = None) -> None:
        self.device = device
        self.name = name or f"device.{device.id}"
        self.interval = device.interval

    def tick(self, ctx: Context) -> None:
        dev = self.device
        with dev.lock:
            if not dev.connected:
                return
            try:
                dev.poll()
            except DeviceError as exc:
                reason = str(exc) or repr(exc)
                if dev.online or dev.error != reason:
                    dev.online = False
                    dev.error = reason
                    ctx.emit(message.DeviceFailed(dev.id, dev.kind, reason))
                return
            if not dev.online:
                dev.online = True
                dev.error = None
                ctx.emit(message.DeviceAttached(dev.id, dev.kind))

    def __repr__(self) -> str:
        return f"<DevicePollService {self.name} every {self.interval:g}s>"


__all__ = ["DevicePollService", "PolledDevice"]
