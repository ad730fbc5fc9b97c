"""State projection: telemetry and device messages become the shared state tree.

``StateProcess`` (the seed's SystemProcess) is the only writer of ``system.*`` (except
``system.health``, which ``HealthProcess`` owns) and of ``devices``. Each entry is the
message's fields plus ``updated`` (the event's wall time, ISO 8601). Names that may
contain dots (mounts, interfaces, devices) are keys inside one mapping, never parts of
a state path. The tree is documented in ``docs/telemetry.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from bussdcc import Process, message
from bussdcc.message import to_jsonable
from bussdcc_system import messages as m
from bussdcc_system.formatting import iso_time

if TYPE_CHECKING:
    from bussdcc import Context, Event, Message, StateStore

PATHS: Final[dict[str, str]] = {
    m.CpuUsageUpdated.name: "system.cpu",
    m.MemoryUsageUpdated.name: "system.memory",
    m.LoadUpdated.name: "system.load",
    m.UptimeUpdated.name: "system.uptime",
    m.IdentityUpdated.name: "system.identity",
    m.ProcessUsageUpdated.name: "system.process",
    m.TopProcessesUpdated.name: "system.top_processes",
}
"""Messages stored whole at one path."""

KEYED: Final[dict[str, tuple[str, str]]] = {
    m.DiskUsageUpdated.name: ("system.disk", "mount"),
    m.DiskIoUpdated.name: ("system.disk_io", "device"),
    m.TemperatureUpdated.name: ("system.temperature", "device"),
    m.ThrottlingUpdated.name: ("system.throttling", "device"),
}
"""Messages stored in a mapping at one path: the path, and the field whose value is the
message's key in that mapping (one entry per mount, block device or device)."""

WEB_CLIENTS: Final = "web.clients"
"""How many dashboards are connected now, written by the web side when one connects or
goes: what lets a sampler that only matters to a person watching (the process list)
skip its work when nobody is. Absent = no dashboard has ever connected."""

_Handler = Callable[["Context", "Event[Message]"], None]


def _merge(key: str, value: dict[str, Any]) -> Callable[[Any], Any]:
    def fn(old: Any) -> Any:
        new = dict(old) if isinstance(old, dict) else {}
        new[key] = value
        return new

    return fn


def _merge_into(key: str, value: dict[str, Any]) -> Callable[[Any], Any]:
    """Update the mapping at ``key`` with ``value``'s items (keeping the others)."""

    def fn(old: Any) -> Any:
        new = dict(old) if isinstance(old, dict) else {}
        entry = dict(new.get(key) or {})
        entry.update(value)
        new[key] = entry
        return new

    return fn


def _drop(key: str) -> Callable[[Any], Any]:
    def fn(old: Any) -> Any:
        new = dict(old) if isinstance(old, dict) else {}
        new.pop(key, None)
        return new

    return fn


def _forget(state: StateStore, path: str, key: str) -> None:
    """Drop ``key`` from the mapping at ``path``; where there is none, create nothing."""
    current = state.get(path)
    if isinstance(current, dict) and key in current:
        state.update(path, _drop(key))


class StateProcess(Process):
    """Maps each telemetry and device message to its place in ``ctx.state``."""

    name = "state"

    def __init__(self) -> None:
        self._handlers: dict[str, _Handler] = {name: self._whole for name in PATHS}
        self._handlers.update({name: self._keyed for name in KEYED})
        self._handlers.update(
            {
                m.NetworkUsageUpdated.name: self._network,
                m.StatusLedChanged.name: self._led,
                message.DeviceAttached.name: self._device,
                message.DeviceFailed.name: self._device,
                message.DeviceDetached.name: self._device,
            }
        )

    def start(self, ctx: Context) -> None:
        """Record the devices the runtime attached before processes started (at boot,
        their ``device.attached``/``device.failed`` precede every process)."""
        updated = iso_time(ctx.clock.now_utc())
        for device in ctx.devices().values():
            if device.online:
                status, error = "online", None
            elif device.error is not None:
                status, error = "failed", device.error
            else:
                continue  # not attached yet
            ctx.state.update(
                "devices",
                _merge_into(
                    device.id,
                    {
                        "kind": device.kind,
                        "status": status,
                        "online": status == "online",
                        "error": error,
                        "updated": updated,
                    },
                ),
            )

    def handle_event(self, ctx: Context, evt: Event[Message]) -> None:
        handler = self._handlers.get(evt.payload.name)
        if handler is not None:
            handler(ctx, evt)

    @staticmethod
    def _data(evt: Event[Message]) -> dict[str, Any]:
        data = evt.payload.to_dict()
        data["updated"] = iso_time(evt.time)
        return data

    def _whole(self, ctx: Context, evt: Event[Message]) -> None:
        ctx.state.set(PATHS[evt.payload.name], self._data(evt))

    def _keyed(self, ctx: Context, evt: Event[Message]) -> None:
        path, field = KEYED[evt.payload.name]
        ctx.state.update(path, _merge(getattr(evt.payload, field), self._data(evt)))

    def _network(self, ctx: Context, evt: Event[Message]) -> None:
        msg = evt.payload
        assert isinstance(msg, m.NetworkUsageUpdated)
        updated = iso_time(evt.time)
        interfaces = {}
        for iface in msg.interfaces:
            entry = to_jsonable(iface)
            entry["updated"] = updated
            interfaces[iface.interface] = entry
        ctx.state.set("system.network", interfaces)
        ctx.state.set(
            "system.network_total",
            {
                "rx_bytes_per_s": msg.rx_bytes_per_s,
                "tx_bytes_per_s": msg.tx_bytes_per_s,
                "updated": updated,
            },
        )

    def _led(self, ctx: Context, evt: Event[Message]) -> None:
        msg = evt.payload
        assert isinstance(msg, m.StatusLedChanged)
        ctx.state.update(
            "devices",
            _merge_into(msg.device, {"pin": msg.pin, "pattern": msg.pattern, "level": msg.level}),
        )

    def _device(self, ctx: Context, evt: Event[Message]) -> None:
        msg = evt.payload
        assert isinstance(
            msg, message.DeviceAttached | message.DeviceFailed | message.DeviceDetached
        )
        if isinstance(msg, message.DeviceDetached):
            # Detached on purpose (reload removed it, or shutdown): no longer a device of
            # this appliance, so it must not linger as "offline" in the API or /metrics.
            _forget(ctx.state, "devices", msg.device)
            _forget(ctx.state, "system.temperature", msg.device)
            _forget(ctx.state, "system.throttling", msg.device)
            return
        if isinstance(msg, message.DeviceAttached):
            status, error = "online", None
        else:
            status, error = "failed", msg.error
        ctx.state.update(
            "devices",
            _merge_into(
                msg.device,
                {
                    "kind": msg.kind,
                    "status": status,
                    "online": status == "online",
                    "error": error,
                    "updated": iso_time(evt.time),
                },
            ),
        )
        if status != "online":  # its last reading is no longer current
            _forget(ctx.state, "system.temperature", msg.device)
            _forget(ctx.state, "system.throttling", msg.device)


__all__ = ["PATHS", "WEB_CLIENTS", "StateProcess"]
