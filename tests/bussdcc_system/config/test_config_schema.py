"""The schema: its defaults, frozen values, and the device kinds it declares."""

from __future__ import annotations

import dataclasses

import pytest

from bussdcc_system.config import (
    DEVICE_KINDS,
    DEVICE_OPTIONS,
    Config,
    DisksConfig,
    LoggingConfig,
    SamplingConfig,
    WebConfig,
    default_config,
    parse_config,
)
from bussdcc_system.config.docs import yaml_value
from bussdcc_system.config.schema import DEVICE_TYPES
from bussdcc_system.config.settings import sections_of, settings_of
from tests.bussdcc_system.config.config_helpers import SOURCE


def test_defaults_are_the_documented_schema() -> None:
    config = default_config()
    assert config.sampling == SamplingConfig(
        cpu=1.0, memory=2.0, disk=30.0, load=5.0, network=2.0, identity=300.0, uptime=60.0
    )
    assert config.disks == DisksConfig(mounts=("/",), sd_card=None)
    assert config.web == WebConfig(
        enabled=True, host="0.0.0.0", port=8086, token=None, allowed_origins=()
    )
    assert config.history.directory == "/var/lib/bussdcc-system/history"
    assert config.history.include == ("*",)
    assert config.history.min_severity == "info"
    assert config.health.undervoltage_recent == 3600.0
    assert config.logging == LoggingConfig(level="info", console=True)
    assert config.devices is None
    assert config == Config()


def test_configs_are_frozen() -> None:
    config = default_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.web = WebConfig()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.sampling.cpu = 2.0  # type: ignore[misc]


def test_device_kinds_and_option_types_agree() -> None:
    assert set(DEVICE_KINDS) == set(DEVICE_OPTIONS)


# ---------------------------------------------------------------- the declarations


def _one_setting_documents() -> list[tuple[str, str, object]]:
    """(key, a document that sets only that key to its default or example, the value it
    must parse to) for every declared setting."""
    cases: list[tuple[str, str, object]] = []
    for declared in sections_of(Config):
        for item in declared.settings:
            text = f"{declared.name}:\n  {item.name}: {yaml_value(item.default)}\n"
            cases.append((f"{declared.name}.{item.name}", text, item.default))
    for device_type in DEVICE_TYPES:
        required = "".join(
            f"    {item.name}: {yaml_value(item.example)}\n"
            for item in device_type.settings
            if item.required
        )
        for item in device_type.settings:
            own = "" if item.required else f"    {item.name}: {yaml_value(item.default)}\n"
            text = f"devices:\n  - kind: {device_type.kind}\n{required}{own}"
            # an example is how an admin writes it, normalised when parsed (GPIO17 -> 17)
            value = dataclasses.MISSING if item.required else item.default
            cases.append((f"{device_type.kind}.{item.name}", text, value))
    return cases


_DOCUMENTS = _one_setting_documents()


@pytest.mark.parametrize(("key", "text", "value"), _DOCUMENTS, ids=[c[0] for c in _DOCUMENTS])
def test_every_default_and_example_passes_its_own_validator(
    key: str, text: str, value: object
) -> None:
    config = parse_config(text, SOURCE)
    owner, name = key.split(".")
    if config.devices is not None:
        parsed = getattr(config.devices[0].options, name)
    else:
        parsed = getattr(getattr(config, owner), name)
    if value is not dataclasses.MISSING:
        assert parsed == value
        assert type(parsed) is type(value)


def test_sections_are_every_field_of_config_but_devices_and_source() -> None:
    names = [declared.name for declared in sections_of(Config)]
    assert [*names, "devices", "source"] == [f.name for f in dataclasses.fields(Config)]
    for declared in sections_of(Config):
        assert [item.name for item in declared.settings] == [
            f.name for f in dataclasses.fields(declared.cls)
        ]


def test_device_types_are_the_device_kinds() -> None:
    assert [device_type.kind for device_type in DEVICE_TYPES] == list(DEVICE_KINDS)
    assert list(DEVICE_OPTIONS) == list(DEVICE_KINDS)
    for device_type in DEVICE_TYPES:
        assert DEVICE_OPTIONS[device_type.kind] is device_type.options


def test_the_secrets_are_the_token_and_the_notification_urls() -> None:
    secrets = [
        f"{declared.name}.{item.name}"
        for declared in sections_of(Config)
        for item in declared.settings
        if item.secret
    ]
    assert secrets == ["web.token", "notifications.ntfy_url", "notifications.webhook_url"]
    assert "0123456789abcdef" not in repr(WebConfig(token="0123456789abcdef"))


def test_every_interval_declares_a_floor_of_at_least_a_tenth_of_a_second() -> None:
    intervals = {f"sampling.{s.name}": s.check for s in settings_of(SamplingConfig)}
    for declared in sections_of(Config):
        for s in declared.settings:
            if s.name.endswith("_interval") or s.name == "interval":
                intervals[f"{declared.name}.{s.name}"] = s.check
    for device_type in DEVICE_TYPES:
        for s in device_type.settings:
            if s.name == "interval":
                intervals[f"{device_type.kind}.interval"] = s.check
    assert len(intervals) == 8 + 2 + 2 + 2  # sampling, history, devices, mqtt/notifications
    floors = {key: getattr(check, "ge", None) for key, check in intervals.items()}
    assert all(floor is not None and floor >= 0.1 for floor in floors.values()), floors
