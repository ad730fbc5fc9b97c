"""The factory: a ``Config`` becomes the telemetry services, devices and processes.

This is the one module that knows both the configuration schema and the component
constructors (which take plain values). ``build_components`` makes everything;
``Components.register`` hands it to a runtime. A reload's ``ConfigDiff`` is applied in
two steps: ``prepare_devices`` builds and attaches the new and changed devices while
the old ones keep running (the part that can fail: ``DeviceError`` naming the device,
with nothing changed), then ``commit`` assigns new intervals, thresholds and disks in
place and swaps the devices, and cannot fail. ``apply`` does both.

With ``devices: None`` (auto-detect), ``detect_devices`` attaches throttling when
vcgencmd exists or an ``rpi_volt`` hwmon sensor does, and a thermal zone when the host
has one. A status LED is never auto-detected: a pin is a wiring decision.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from bussdcc import Device, DeviceError, Process, Service
from bussdcc_system.config import (
    Config,
    ConfigDiff,
    DeviceConfig,
    StatusLedOptions,
    ThermalZoneOptions,
    ThrottlingOptions,
)
from bussdcc_system.devices import DevicePollService
from bussdcc_system.devices.status_led import StatusLed, StatusLedService
from bussdcc_system.devices.thermal import ThermalZoneDevice
from bussdcc_system.devices.throttling import DEFAULT_VCGENCMD, ThrottlingDevice
from bussdcc_system.health import HealthProcess
from bussdcc_system.host import HostRoot
from bussdcc_system.state import StateProcess
from bussdcc_system.telemetry import (
    AddressSource,
    CpuService,
    DiskService,
    IdentityService,
    LoadService,
    MemoryService,
    NetworkService,
    ProcessUsageService,
    TelemetryService,
    TopProcessesService,
    UptimeService,
)

if TYPE_CHECKING:
    from bussdcc import Runtime

log = logging.getLogger("bussdcc_system.components")

PROCESS_USAGE_INTERVAL: Final = 5.0
"""Seconds between samples of the daemon's own CPU and memory (not configurable)."""
SD_CARD: Final = "mmcblk0"
"""The SD card's block device on every Pi (``disks.sd_card: null`` picks it if present)."""

_SAMPLED: Final[tuple[str, ...]] = (
    "cpu",
    "memory",
    "disk",
    "load",
    "network",
    "identity",
    "uptime",
    "processes",
)


def _host(root: HostRoot | str | None) -> HostRoot:
    return root if isinstance(root, HostRoot) else HostRoot(root)


def detect_devices(root: HostRoot | str | None = None) -> list[DeviceConfig]:
    """The devices whose hardware this host has (``devices: null`` in the config)."""
    host = _host(root)
    found = []
    if host.exists(DEFAULT_VCGENCMD) or host.find_hwmon("rpi_volt") is not None:
        found.append(DeviceConfig("throttling", "throttling", ThrottlingOptions()))
    if host.thermal_zones():
        found.append(DeviceConfig("thermal_zone", "thermal_zone", ThermalZoneOptions()))
    return found


def detect_sd_card(root: HostRoot | str | None = None) -> str | None:
    host = _host(root)
    return SD_CARD if host.exists(f"/sys/block/{SD_CARD}/stat") else None


def build_device(
    spec: DeviceConfig, host: HostRoot, *, pin_factory: Any = None
) -> tuple[Device, Service]:
    """One device and the service that polls or drives it (named ``device.<id>``)."""
    options = spec.options
    if isinstance(options, ThrottlingOptions):
        throttling = ThrottlingDevice(
            spec.id,
            host=host,
            command=(host.path(options.vcgencmd), "get_throttled"),
            interval=options.interval,
        )
        return throttling, DevicePollService(throttling)
    if isinstance(options, ThermalZoneOptions):
        thermal = ThermalZoneDevice(
            spec.id, host=host, zone=options.zone, interval=options.interval
        )
        return thermal, DevicePollService(thermal)
    if isinstance(options, StatusLedOptions):
        led = StatusLed(
            spec.id, pin=options.pin, active_high=options.active_high, pin_factory=pin_factory
        )
        return led, StatusLedService(led)
    raise ValueError(f"unknown device kind {spec.kind!r} for device {spec.id!r}")


@dataclass
class PreparedDevices:
    """A reload's new and changed devices, built and attached, not yet in the runtime."""

    ready: list[tuple[DeviceConfig, Device, Service]] = field(default_factory=list)
    handed_over: list[Device] = field(default_factory=list)
    """Old versions taken out of the runtime early, because the new one needs their
    hardware (a status LED's GPIO pin): attached again if the reload is abandoned."""

    def discard(self, runtime: Runtime) -> None:
        """Abandon the reload: detach what was prepared, give back what was handed over."""
        for _spec, device, _service in reversed(self.ready):
            try:
                device.detach()
            except Exception as exc:
                log.warning("detaching the prepared device %s failed: %r", device.id, exc)
        self.ready.clear()
        for device in self.handed_over:
            runtime.attach_device(device)
        self.handed_over.clear()


@dataclass
class Components:
    """Everything the appliance runs on the kernel, built from one configuration."""

    config: Config
    host: HostRoot
    telemetry: dict[str, TelemetryService]
    """By sampling key: cpu, memory, disk, load, network, identity, uptime, process."""
    state: StateProcess
    health: HealthProcess
    auto_devices: tuple[DeviceConfig, ...]
    """What ``detect_devices`` found (used when ``config.devices`` is None)."""
    devices: dict[str, Device] = field(default_factory=dict)
    device_services: dict[str, Service] = field(default_factory=dict)
    pin_factory: Any = None
    outputs: dict[str, Service] = field(default_factory=dict)
    """What the config sends elsewhere, by service name: ``mqtt``, ``notifications``."""

    @property
    def device_configs(self) -> tuple[DeviceConfig, ...]:
        """The devices in effect: configured, or auto-detected."""
        return self.auto_devices if self.config.devices is None else self.config.devices

    @property
    def services(self) -> list[Service]:
        return [*self.telemetry.values(), *self.device_services.values(), *self.outputs.values()]

    @property
    def processes(self) -> list[Process]:
        return [self.state, self.health]

    def _add_device(self, spec: DeviceConfig) -> tuple[Device, Service]:
        device, service = build_device(spec, self.host, pin_factory=self.pin_factory)
        self.devices[spec.id] = device
        self.device_services[spec.id] = service
        return device, service

    # -- runtime ------------------------------------------------------------------------

    def register(self, runtime: Runtime) -> None:
        """Devices, then processes (state before health), then services."""
        for device in self.devices.values():
            runtime.attach_device(device)
        for process in self.processes:
            runtime.register_process(process)
        for service in self.services:
            runtime.register_service(service)

    def apply(self, runtime: Runtime, diff: ConfigDiff, config: Config) -> None:
        """Apply a reload live, only what ``diff`` says changed: ``prepare_devices`` then
        ``commit``. ``DeviceError`` (nothing changed) if a new device cannot attach."""
        self.commit(runtime, diff, config, self.prepare_devices(runtime, diff))

    def prepare_devices(self, runtime: Runtime, diff: ConfigDiff) -> PreparedDevices:
        """Build and attach the added and changed devices while the running ones stay as
        they are; ``DeviceError`` saying which device and why, with nothing changed. The
        one exception: a changed device whose old version holds its hardware (a status
        LED on the same GPIO pin) is detached first, and attached again if the reload is
        abandoned."""
        prepared = PreparedDevices()
        running = {d.id: d for d in self.device_configs}
        changed = {d.id for d in diff.devices_changed}
        try:
            for spec in (*diff.devices_added, *diff.devices_changed):
                device, service = build_device(spec, self.host, pin_factory=self.pin_factory)
                old = self.devices.get(spec.id)
                if (
                    spec.id in changed
                    and old is not None
                    and spec.id in runtime.devices()
                    and _same_hardware(running.get(spec.id), spec)
                ):
                    runtime.detach_device(spec.id)
                    prepared.handed_over.append(old)
                try:
                    device.attach(runtime.ctx)
                except Exception as exc:
                    raise DeviceError(
                        f"device {spec.id} ({spec.kind}): {str(exc) or repr(exc)}"
                    ) from exc
                prepared.ready.append((spec, device, service))
        except BaseException:
            prepared.discard(runtime)
            raise
        return prepared

    def commit(
        self, runtime: Runtime, diff: ConfigDiff, config: Config, devices: PreparedDevices
    ) -> None:
        """Switch over to ``config`` (nothing here fails): assignments in place, then the
        removed and changed devices out, the prepared ones in."""
        if diff.sampling_changed:
            self.apply_sampling(config)
        if diff.health_changed:
            self.apply_health(config)
        if diff.disks_changed:
            self.apply_disks(config, runtime)
        for spec in (*diff.devices_removed, *diff.devices_changed):
            self.remove_device(runtime, spec.id)
        for spec, device, service in devices.ready:
            self.devices[spec.id] = device
            self.device_services[spec.id] = service
            runtime.attach_device(device, attached=True)
            runtime.register_service(service)
        devices.ready.clear()
        devices.handed_over.clear()
        self.apply_outputs(runtime, diff, config)
        self.config = config

    def apply_sampling(self, config: Config) -> None:
        """New intervals take effect at each service's next tick."""
        for key in _SAMPLED:
            self.telemetry[key].interval = float(getattr(config.sampling, key))
        self.config = config

    def apply_health(self, config: Config) -> None:
        self.health.set_thresholds(config.health)
        self.config = config

    def apply_disks(self, config: Config, runtime: Runtime | None = None) -> None:
        disk = self.telemetry["disk"]
        assert isinstance(disk, DiskService)
        mounts = tuple(config.disks.mounts)
        disk.mounts = mounts
        disk.sd_card = config.disks.sd_card or detect_sd_card(self.host)
        self.health.retain_mounts(mounts)
        if runtime is not None:
            runtime.state.update("system.disk", _keep(mounts))
            runtime.state.update("system.disk_io", _keep((disk.sd_card,)))
        self.config = config

    def apply_outputs(self, runtime: Runtime, diff: ConfigDiff, config: Config) -> None:
        """A changed ``mqtt:`` or ``notifications:`` section replaces its service (the
        old one stops first: MQTT says ``offline``); the bridge follows disks, web and
        history changes in place."""
        for name, changed in (
            ("mqtt", diff.mqtt_changed),
            ("notifications", diff.notifications_changed),
        ):
            if not changed:
                continue
            old = self.outputs.pop(name, None)
            if old is not None and runtime.services.get(name) is old:
                runtime.remove_service(name)
            new = build_outputs(config, self.host, only=name).get(name)
            if new is not None:
                self.outputs[name] = new
                runtime.register_service(new)
        bridge = self.outputs.get("mqtt")
        follows = diff.disks_changed or diff.web_changed or diff.history_changed
        if bridge is not None and follows and not diff.mqtt_changed:
            from bussdcc_system.mqtt import MqttBridge

            assert isinstance(bridge, MqttBridge)
            bridge.apply_config(config)

    def remove_device(self, runtime: Runtime, device_id: str) -> None:
        service = self.device_services.pop(device_id, None)
        if service is not None and runtime.services.get(service.name) is service:
            runtime.remove_service(service.name)
        self.devices.pop(device_id, None)
        if device_id in runtime.devices():
            runtime.detach_device(device_id)


def _same_hardware(old: DeviceConfig | None, new: DeviceConfig) -> bool:
    """Can the two not be attached at once? A GPIO pin has one owner at a time."""
    if old is None:
        return False
    a, b = old.options, new.options
    return isinstance(a, StatusLedOptions) and isinstance(b, StatusLedOptions) and a.pin == b.pin


def _keep(keys: Sequence[str | None]) -> Callable[[Any], Any]:
    def fn(old: Any) -> Any:
        return {k: v for k, v in old.items() if k in keys} if isinstance(old, dict) else {}

    return fn


def _mqtt(config: Config, host: HostRoot) -> Service | None:
    # Loaded only when turned on: paho and ssl are 3 MB a daemon without a broker keeps.
    if not config.mqtt.enabled:
        return None
    from bussdcc_system.mqtt import mqtt_bridge

    return mqtt_bridge(config, host)


def _notifications(config: Config, host: HostRoot) -> Service | None:
    # Loaded only with an endpoint (it needs ssl and urllib.request).
    if not (config.notifications.ntfy_url or config.notifications.webhook_url):
        return None
    from bussdcc_system.notifications import notification_service

    return notification_service(config.notifications, host)


def build_outputs(config: Config, host: HostRoot, *, only: str | None = None) -> dict[str, Service]:
    """The MQTT bridge and the notification service, those ``config`` turns on (their
    modules load only then)."""
    builders: dict[str, Callable[[], Service | None]] = {
        "mqtt": lambda: _mqtt(config, host),
        "notifications": lambda: _notifications(config, host),
    }
    built = {name: build() for name, build in builders.items() if only in (None, name)}
    return {name: service for name, service in built.items() if service is not None}


def build_components(
    config: Config,
    *,
    root: HostRoot | str | None = None,
    addresses: AddressSource | None = None,
    pin_factory: Any = None,
) -> Components:
    """Every component for ``config`` on the host at ``root`` (default: $BUSSDCC_SYSTEM_ROOT
    or ``/``). ``addresses`` replaces psutil for identity (fake hosts), ``pin_factory``
    gpiozero's default (tests pass a ``MockFactory``). Components read time from the
    runtime's context."""
    host = _host(root)
    s = config.sampling
    telemetry: dict[str, TelemetryService] = {
        "cpu": CpuService(host, interval=s.cpu),
        "memory": MemoryService(host, interval=s.memory),
        "disk": DiskService(
            host,
            interval=s.disk,
            mounts=config.disks.mounts,
            sd_card=config.disks.sd_card or detect_sd_card(host),
        ),
        "load": LoadService(host, interval=s.load),
        "network": NetworkService(host, interval=s.network),
        "identity": IdentityService(host, interval=s.identity, addresses=addresses),
        "uptime": UptimeService(host, interval=s.uptime),
        "process": ProcessUsageService(host, interval=PROCESS_USAGE_INTERVAL),
        "processes": TopProcessesService(host, interval=s.processes),
    }
    components = Components(
        config=config,
        host=host,
        telemetry=telemetry,
        state=StateProcess(),
        health=HealthProcess(config.health),
        auto_devices=tuple(detect_devices(host)),
        pin_factory=pin_factory,
    )
    for spec in components.device_configs:
        components._add_device(spec)
    components.outputs = build_outputs(config, host)
    return components


__all__ = [
    "PROCESS_USAGE_INTERVAL",
    "SD_CARD",
    "Components",
    "PreparedDevices",
    "build_components",
    "build_device",
    "build_outputs",
    "detect_devices",
    "detect_sd_card",
]
