"""What a reload must apply: the settings and devices that differ between two configurations.

The sections compared are the ones the schema declares; a setting kept out of ``repr``
(the web token) is a secret, and the log only says that it was set, changed or removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Final

from bussdcc_system.config.schema import Config, DeviceConfig
from bussdcc_system.config.settings import sections_of
from bussdcc_system.config.wording import number

__all__ = ["ConfigDiff", "diff_configs"]

_SECTIONS: Final = sections_of(Config)
_SECRETS: Final = frozenset(
    (declared.name, setting.name)
    for declared in _SECTIONS
    for setting in declared.settings
    if setting.secret
)


@dataclass(frozen=True)
class ConfigDiff:
    """What a reload must apply. Section dicts map a field name to (old, new)."""

    devices_added: tuple[DeviceConfig, ...] = ()
    devices_removed: tuple[DeviceConfig, ...] = ()
    devices_changed: tuple[DeviceConfig, ...] = ()  # the new versions; same id, new settings
    sampling_changed: dict[str, tuple[float, float]] = field(default_factory=dict)
    disks_changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    web_changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    history_changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    health_changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    logging_changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    mqtt_changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    notifications_changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))

    @property
    def needs_web_restart(self) -> bool:
        """Any web change (bind, port, token, origins, on/off) means a new server."""
        return bool(self.web_changed)

    def describe(self) -> list[str]:
        """One line per change, for the log; a secret is never shown."""
        lines = [f"devices: added {d.id} ({d.kind})" for d in self.devices_added]
        lines += [f"devices: removed {d.id} ({d.kind})" for d in self.devices_removed]
        lines += [f"devices: changed {d.id} ({d.kind})" for d in self.devices_changed]
        for declared in _SECTIONS:
            changes: dict[str, tuple[Any, Any]] = getattr(self, f"{declared.name}_changed")
            for name, (old, new) in changes.items():
                if (declared.name, name) in _SECRETS:
                    state = "set" if old is None else "removed" if new is None else "changed"
                    lines.append(f"{declared.name}.{name}: {state}")
                else:
                    lines.append(f"{declared.name}.{name}: {_show(old)} -> {_show(new)}")
        return lines


def _show(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "null"
    if isinstance(value, float | int):
        return number(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


def _field_changes(old: Any, new: Any) -> dict[str, tuple[Any, Any]]:
    return {
        f.name: (getattr(old, f.name), getattr(new, f.name))
        for f in fields(old)
        if getattr(old, f.name) != getattr(new, f.name)
    }


def diff_configs(
    old: Config, new: Config, *, auto_devices: Sequence[DeviceConfig] = ()
) -> ConfigDiff:
    """What changed from ``old`` to ``new``, so reload applies only that.

    ``devices`` None (auto-detect) stands for ``auto_devices``: pass the devices that
    auto-detection attached, or switching between auto-detect and a list is misread."""
    old_devices = tuple(auto_devices) if old.devices is None else old.devices
    new_devices = tuple(auto_devices) if new.devices is None else new.devices
    old_by_id = {d.id: d for d in old_devices}
    new_by_id = {d.id: d for d in new_devices}
    sections = {
        f"{declared.name}_changed": _field_changes(
            getattr(old, declared.name), getattr(new, declared.name)
        )
        for declared in _SECTIONS
    }
    return ConfigDiff(
        devices_added=tuple(d for d in new_devices if d.id not in old_by_id),
        devices_removed=tuple(d for d in old_devices if d.id not in new_by_id),
        devices_changed=tuple(d for d in new_devices if d.id in old_by_id and old_by_id[d.id] != d),
        **sections,
    )
