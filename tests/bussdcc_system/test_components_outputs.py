"""The ways out (MQTT bridge, notifications) built from the config and changed on reload."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bussdcc import Runtime
from bussdcc_system.components import build_components, build_outputs
from bussdcc_system.config import Config, diff_configs
from bussdcc_system.config.schema import DisksConfig, MqttConfig, NotificationsConfig
from bussdcc_system.host import HostRoot
from bussdcc_system.mqtt import MqttBridge
from bussdcc_system.notifications import NotificationService
from tests.bussdcc_system.appliance_helpers import boot_components, copy_host
from tests.bussdcc_system.daemon_harness import free_port

NTFY = "http://127.0.0.1:9/ntfy/pi"  # never reached: nothing is notified in these tests


def with_outputs(port: int) -> Config:
    return Config(
        mqtt=MqttConfig(enabled=True, host="127.0.0.1", port=port),
        notifications=NotificationsConfig(ntfy_url=NTFY),
        devices=(),
    )


def test_nothing_is_built_by_default(tmp_path: Path) -> None:
    host = HostRoot(copy_host("x86", tmp_path))
    assert build_outputs(Config(), host) == {}
    assert build_components(Config(devices=()), root=host).outputs == {}


def test_each_enabled_output_is_a_service(tmp_path: Path) -> None:
    components = build_components(with_outputs(free_port()), root=copy_host("x86", tmp_path))
    assert isinstance(components.outputs["mqtt"], MqttBridge)
    assert isinstance(components.outputs["notifications"], NotificationService)
    assert components.services[-2:] == [
        components.outputs["mqtt"],
        components.outputs["notifications"],
    ]


def test_reload_replaces_removes_and_follows(tmp_path: Path, runtime: Runtime) -> None:
    old = with_outputs(free_port())  # a closed port: the bridge keeps trying, harmlessly
    components = boot_components(runtime, old, copy_host("x86", tmp_path))
    bridge = components.outputs["mqtt"]
    notifier = components.outputs["notifications"]
    assert runtime.services.get("mqtt") is bridge

    # disks changed: the same bridge, now with a sensor for the new mount
    new = replace(old, disks=DisksConfig(mounts=("/", "/data")))
    components.apply(runtime, diff_configs(old, new), new)
    assert runtime.services.get("mqtt") is bridge
    assert isinstance(bridge, MqttBridge)
    assert "disk_data" in {e.key for e in bridge._entities}

    # notifications changed: a new service; mqtt off: no bridge at all
    newer = replace(
        new,
        mqtt=MqttConfig(enabled=False),
        notifications=NotificationsConfig(ntfy_url=NTFY, min_interval=600.0),
    )
    components.apply(runtime, diff_configs(new, newer), newer)
    assert "mqtt" not in runtime.services.names() and "mqtt" not in components.outputs
    assert runtime.services.get("notifications") is components.outputs["notifications"]
    assert components.outputs["notifications"] is not notifier
    assert runtime.state.get("system.mqtt") is None

    # both off
    off = replace(newer, notifications=NotificationsConfig())
    components.apply(runtime, diff_configs(newer, off), off)
    assert components.outputs == {}
    assert "notifications" not in runtime.services.names()
