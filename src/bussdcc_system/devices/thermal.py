"""A sysfs thermal zone: ``/sys/class/thermal/thermal_zoneN/temp`` in millidegrees C.

``zone`` is ``"auto"`` (the first of ``CPU_ZONE_TYPES`` present: the ``cpu-thermal``
zone a Pi has, a PC's ``x86_pkg_temp``...; else the first zone), a zone type
(``cpu-thermal``) or a directory name (``thermal_zone0``). The zone is chosen at
attach; every poll emits ``system.temperature.updated``.
"""

from __future__ import annotations

from typing import Final

from bussdcc import DeviceError
from bussdcc_system import messages as m
from bussdcc_system.devices import PolledDevice
from bussdcc_system.host import HostRoot, ThermalZone

CPU_ZONE_TYPES: Final[tuple[str, ...]] = (
    "cpu-thermal",
    "cpu_thermal",
    "x86_pkg_temp",
    "soc_thermal",
)
"""Zone types that measure the CPU, in the order ``auto`` prefers them (Pi, older Pi
kernels, Intel PCs, other ARM boards)."""


def is_cpu_zone(zone_type: str) -> bool:
    """Whether a zone type measures the CPU (health says "CPU temperature" for it, the
    dashboard shows it first)."""
    return zone_type in CPU_ZONE_TYPES or "cpu" in zone_type


def choose_zone(zones: list[ThermalZone], wanted: str) -> ThermalZone | None:
    """The zone ``wanted`` names (``auto``, a type or a directory), or None."""
    if wanted == "auto":
        for zone_type in CPU_ZONE_TYPES:
            for zone in zones:
                if zone.type == zone_type:
                    return zone
        return zones[0] if zones else None
    for zone in zones:
        if zone.name == wanted:
            return zone
    for zone in zones:
        if zone.type == wanted:
            return zone
    return None


class ThermalZoneDevice(PolledDevice):
    """One thermal zone, read every ``interval`` seconds."""

    kind = "thermal_zone"

    def __init__(
        self,
        id: str = "thermal_zone",
        *,
        host: HostRoot | None = None,
        zone: str = "auto",
        interval: float = 5.0,
    ) -> None:
        super().__init__(id, interval=interval)
        self.host = host or HostRoot()
        self.wanted = zone
        self.zone: ThermalZone | None = None

    def read(self) -> float:
        """Degrees C; ``DeviceError`` if the sensor cannot be read."""
        assert self.zone is not None
        value = self.host.read_int(self.zone.temp_path)
        if value is None:
            raise DeviceError(
                f"cannot read the temperature of thermal zone {self.zone.name} "
                f"({self.zone.type}) from {self.zone.temp_path}"
            )
        return value / 1000.0

    def connect(self) -> None:
        zones = self.host.thermal_zones()
        if not zones:
            raise DeviceError(
                "no thermal zone (no temperature sensor) found under /sys/class/thermal"
            )
        zone = choose_zone(zones, self.wanted)
        if zone is None:
            found = ", ".join(f"{z.type} ({z.name})" for z in zones)
            raise DeviceError(
                f"no thermal zone {self.wanted!r} under /sys/class/thermal; found: {found}"
            )
        self.zone = zone
        self.read()

    def disconnect(self) -> None:
        self.zone = None

    def poll(self) -> None:
        celsius = self.read()
        assert self.ctx is not None and self.zone is not None
        self.ctx.emit(m.TemperatureUpdated(device=self.id, zone=self.zone.type, celsius=celsius))


__all__ = ["CPU_ZONE_TYPES", "ThermalZoneDevice", "choose_zone", "is_cpu_zone"]
