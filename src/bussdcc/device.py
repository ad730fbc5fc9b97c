"""Devices: hardware and other boundaries, attached and detached by the runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from bussdcc.context import Context


class DeviceError(Exception):
    """A device cannot work; the message says why in words a person understands."""


class Device:
    """Override ``connect``/``disconnect``; raise ``DeviceError`` when the hardware is absent."""

    kind: ClassVar[str] = "device"

    def __init__(self, id: str) -> None:
        self.id = id
        self.online = False
        self.error: str | None = None
        self.ctx: Context | None = None

    def attach(self, ctx: Context) -> None:
        self.ctx = ctx
        try:
            self.connect()
        except Exception as exc:
            self.error = str(exc) or repr(exc)
            raise
        self.online = True
        self.error = None

    def detach(self) -> None:
        try:
            if self.online:
                self.disconnect()
        finally:
            self.online = False

    def connect(self) -> None:
        return None

    def disconnect(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind}:{self.id} online={self.online}>"
