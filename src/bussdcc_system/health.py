"""Health: thresholds turn telemetry into one level (ok, warning, critical) with reasons.

``HealthProcess`` watches temperature, throttling, disk and memory messages and
evaluates:

- temperature above ``temperature_critical`` -> critical, above ``temperature_warning``
  -> warning (strictly above; every thermal device counts);
- under-voltage now -> critical; under-voltage seen within ``undervoltage_recent``
  seconds -> warning. The firmware's since-boot bit does not say *when*: when it is set
  and we never saw the under-voltage ourselves, it counts as seen when we first saw
  the bit (so it warns for ``undervoltage_recent`` seconds, then lets go);
- ARM frequency capped, throttled, or soft temperature limit now -> warning;
- disk (per mount) and memory percent above their warning/critical limits.

It emits ``system.health.changed`` once when it starts (``ok``, no data yet) and then
whenever the level or the *kind* of reasons changes (a temperature that moves from
82.0 to 82.5 °C updates the reason text in state, but is not a new message). It owns
the state at ``system.health``: ``{"level", "previous", "reasons", "since"}``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from bussdcc import Process, message
from bussdcc_system import messages as m
from bussdcc_system import throttling_flags
from bussdcc_system.config import HealthConfig
from bussdcc_system.devices.thermal import is_cpu_zone
from bussdcc_system.formatting import celsius, exact_duration, iso_time

if TYPE_CHECKING:
    from bussdcc import Context, Event, Message

STATE_PATH: Final = "system.health"


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason: ``key`` identifies its kind (what change detection compares)."""

    level: str
    key: str
    reason: str


def _reason(flag: throttling_flags.ThrottlingFlag) -> str:
    return flag.health_reason + (f" ({flag.health_hint})" if flag.health_hint else "")


def _limit(value: float, warning: float, critical: float) -> tuple[str, float] | None:
    if value > critical:
        return "critical", critical
    if value > warning:
        return "warning", warning
    return None


class HealthProcess(Process):
    """Evaluates thresholds into ``system.health`` and ``system.health.changed``."""

    name = "health"

    def __init__(self, thresholds: HealthConfig | None = None) -> None:
        self.thresholds = thresholds or HealthConfig()
        self._lock = threading.RLock()
        self._ctx: Context | None = None
        self._temps: dict[str, tuple[str, float]] = {}
        self._disks: dict[str, float] = {}
        self._memory: float | None = None
        self._throttling: dict[str, m.ThrottlingUpdated] = {}
        self._uv_seen: dict[str, float] = {}  # device -> last time under-voltage was on
        self._uv_bit_seen: dict[str, float] = {}  # device -> first time the sticky bit was
        self._emitted: tuple[str, tuple[str, ...]] | None = None  # (level, keys)
        self._state: tuple[str, tuple[str, ...]] | None = None  # (level, reasons)
        self._previous: str | None = None
        self._since: str | None = None
        self._expires: float | None = None
        self._handlers: dict[type, Callable[[Any, float], bool]] = {
            m.TemperatureUpdated: self._on_temperature,
            m.ThrottlingUpdated: self._on_throttling,
            m.ThrottlingUnderVoltage: self._on_throttling,
            m.DiskUsageUpdated: self._on_disk,
            m.MemoryUsageUpdated: self._on_memory,
            message.DeviceFailed: self._on_device_gone,
            message.DeviceDetached: self._on_device_gone,
        }

    # -- lifecycle --------------------------------------------------------------------

    def start(self, ctx: Context) -> None:
        with self._lock:
            self._ctx = ctx
            self._emitted = self._state = None
            self._previous = None
            self._update(ctx, ctx.clock.monotonic(), ctx.clock.now_utc())

    def stop(self, ctx: Context) -> None:
        with self._lock:
            self._ctx = None

    def handle_event(self, ctx: Context, evt: Event[Message]) -> None:
        handler = self._handlers.get(type(evt.payload))
        with self._lock:
            changed = handler(evt.payload, evt.monotonic) if handler is not None else False
            expired = self._expires is not None and evt.monotonic >= self._expires
            if changed or expired:
                self._update(ctx, evt.monotonic, evt.time)

    # -- live configuration -----------------------------------------------------------

    def set_thresholds(self, thresholds: HealthConfig | None = None, **changes: float) -> None:
        """Replace the thresholds (or some of them, by keyword) and re-evaluate now."""
        with self._lock:
            base = thresholds or self.thresholds
            self.thresholds = replace(base, **changes) if changes else base
            ctx = self._ctx
            if ctx is not None:
                self._update(ctx, ctx.clock.monotonic(), ctx.clock.now_utc())

    def retain_mounts(self, mounts: Iterable[str]) -> None:
        """Forget disks no longer watched (after a reload changed ``disks.mounts``)."""
        keep = set(mounts)
        with self._lock:
            for mount in [k for k in self._disks if k not in keep]:
                del self._disks[mount]
            ctx = self._ctx
            if ctx is not None:
                self._update(ctx, ctx.clock.monotonic(), ctx.clock.now_utc())

    # -- inputs -----------------------------------------------------------------------

    def _on_temperature(self, msg: m.TemperatureUpdated, now: float) -> bool:
        self._temps[msg.device] = (msg.zone, msg.celsius)
        return True

    def _on_throttling(self, msg: m.ThrottlingUpdated, now: float) -> bool:
        dev = msg.device
        old = self._throttling.get(dev)
        if msg.under_voltage or (old is not None and old.under_voltage):
            self._uv_seen[dev] = now
        if msg.under_voltage_occurred and dev not in self._uv_bit_seen:
            self._uv_bit_seen[dev] = now
        elif msg.under_voltage_occurred is False:
            self._uv_bit_seen.pop(dev, None)
        self._throttling[dev] = msg
        return True

    def _on_disk(self, msg: m.DiskUsageUpdated, now: float) -> bool:
        self._disks[msg.mount] = msg.percent
        return True

    def _on_memory(self, msg: m.MemoryUsageUpdated, now: float) -> bool:
        self._memory = msg.percent
        return True

    def _on_device_gone(
        self, msg: message.DeviceFailed | message.DeviceDetached, now: float
    ) -> bool:
        gone = self._temps.pop(msg.device, None) is not None
        gone = self._throttling.pop(msg.device, None) is not None or gone
        return gone

    # -- evaluation -------------------------------------------------------------------

    def findings(self, now: float) -> list[Finding]:
        """Every reason, worst first; ``now`` is monotonic time (for "recently")."""
        t = self.thresholds
        out: list[Finding] = []
        self._expires = None
        for device, (zone, degrees) in sorted(self._temps.items()):
            hit = _limit(degrees, t.temperature_warning, t.temperature_critical)
            if hit:
                label = "CPU temperature" if is_cpu_zone(zone) else f"Temperature of {zone}"
                out.append(
                    Finding(
                        hit[0],
                        f"temperature:{device}:{hit[0]}",
                        f"{label} {celsius(degrees)} is above the {hit[0]} limit {hit[1]:g} °C",
                    )
                )
        for device, msg in sorted(self._throttling.items()):
            out.extend(self._throttling_findings(device, msg, now))
        for mount, percent in sorted(self._disks.items()):
            hit = _limit(percent, t.disk_warning, t.disk_critical)
            if hit:
                out.append(
                    Finding(
                        hit[0],
                        f"disk:{mount}:{hit[0]}",
                        f"Disk {mount} is {percent:.1f}% full, "
                        f"above the {hit[0]} limit {hit[1]:g}%",
                    )
                )
        if self._memory is not None:
            hit = _limit(self._memory, t.memory_warning, t.memory_critical)
            if hit:
                out.append(
                    Finding(
                        hit[0],
                        f"memory:{hit[0]}",
                        f"Memory is {self._memory:.1f}% used, above the {hit[0]} limit {hit[1]:g}%",
                    )
                )
        out.sort(key=lambda f: -m.HEALTH_RANK[f.level])
        return out

    def _throttling_findings(
        self, device: str, msg: m.ThrottlingUpdated, now: float
    ) -> list[Finding]:
        out = []
        for flag in throttling_flags.FLAGS:
            if getattr(msg, flag.field):
                out.append(Finding(flag.health_level, f"{flag.field}:{device}:now", _reason(flag)))
            elif flag is throttling_flags.UNDER_VOLTAGE:
                out.extend(self._recent_undervoltage(device, now))
        return out

    def _recent_undervoltage(self, device: str, now: float) -> list[Finding]:
        """A warning while under-voltage is recent: seen by us, or the since-boot bit."""
        recent = self.thresholds.undervoltage_recent
        hint = throttling_flags.UNDER_VOLTAGE.health_hint
        seen = self._uv_seen.get(device)
        bit = self._uv_bit_seen.get(device) if seen is None else None
        if seen is not None and now - seen < recent:
            self._expire_at(seen + recent)
            reason = f"Under-voltage occurred in the last {exact_duration(recent)} ({hint})"
        elif bit is not None and now - bit < recent:
            self._expire_at(bit + recent)
            reason = f"Under-voltage occurred since boot ({hint})"
        else:
            return []
        return [Finding("warning", f"under_voltage:{device}:recent", reason)]

    def _expire_at(self, when: float) -> None:
        if self._expires is None or when < self._expires:
            self._expires = when

    def evaluate(self, now: float) -> tuple[str, tuple[Finding, ...]]:
        """The level and its findings at monotonic time ``now`` (no side effects but
        the expiry bookkeeping)."""
        found = self.findings(now)
        level = found[0].level if found else "ok"
        return level, tuple(found)

    def _update(self, ctx: Context, now: float, wall: datetime) -> None:
        level, found = self.evaluate(now)
        reasons = tuple(f.reason for f in found)
        keys = tuple(sorted(f.key for f in found))
        emitted = self._emitted
        if emitted is None or emitted != (level, keys):
            previous = emitted[0] if emitted is not None else None
            if previous != level:
                self._previous = previous
                self._since = iso_time(wall)
            self._emitted = (level, keys)
            self._write_state(ctx, level, reasons)
            ctx.emit(m.health_changed(level, previous, reasons))
        elif self._state != (level, reasons):
            self._write_state(ctx, level, reasons)

    def _write_state(self, ctx: Context, level: str, reasons: tuple[str, ...]) -> None:
        self._state = (level, reasons)
        ctx.state.set(
            STATE_PATH,
            {
                "level": level,
                "previous": self._previous,
                "reasons": list(reasons),
                "since": self._since,
            },
        )


__all__ = ["STATE_PATH", "Finding", "HealthProcess"]
