"""The shipped commented file and the reference: they say what the declarations say."""

from __future__ import annotations

import dataclasses

import yaml

from bussdcc_system.config import (
    DEVICE_KINDS,
    DEVICE_OPTIONS,
    DeviceConfig,
    DisksConfig,
    HealthConfig,
    HistoryConfig,
    LoggingConfig,
    SamplingConfig,
    StatusLedOptions,
    ThermalZoneOptions,
    ThrottlingOptions,
    WebConfig,
    default_config,
    load_config,
    parse_config,
)
from tests.bussdcc_system.config.config_helpers import (
    DOCS,
    SHIPPED,
    uncomment,
)


def test_shipped_file_is_exactly_the_defaults() -> None:
    assert load_config(SHIPPED, explicit=True) == default_config()


def test_uncommenting_every_shipped_setting_gives_defaults_plus_the_examples() -> None:
    text = uncomment(SHIPPED.read_text())
    config = parse_config(text, str(SHIPPED))
    assert dataclasses.replace(config, devices=None) == default_config()
    assert config.devices == (
        DeviceConfig("throttling", "throttling", ThrottlingOptions()),
        DeviceConfig("cpu_temperature", "thermal_zone", ThermalZoneOptions()),
        DeviceConfig("status_led", "status_led", StatusLedOptions(pin=17)),
    )
    # every setting of every section is shown, and every device option
    root = yaml.safe_load(text)
    for name, cls in [
        ("sampling", SamplingConfig),
        ("disks", DisksConfig),
        ("web", WebConfig),
        ("history", HistoryConfig),
        ("health", HealthConfig),
        ("logging", LoggingConfig),
    ]:
        assert list(root[name]) == [f.name for f in dataclasses.fields(cls)], name
    for device in root["devices"]:
        option_type = DEVICE_OPTIONS[device["kind"]]
        assert set(device) == {"id", "kind"} | {f.name for f in dataclasses.fields(option_type)}


def test_shipped_file_is_ascii() -> None:
    SHIPPED.read_bytes().decode("ascii")


def test_docs_name_every_setting() -> None:
    docs = DOCS.read_text()
    classes = [
        SamplingConfig,
        DisksConfig,
        WebConfig,
        HistoryConfig,
        HealthConfig,
        LoggingConfig,
        ThrottlingOptions,
        ThermalZoneOptions,
        StatusLedOptions,
    ]
    for cls in classes:
        for f in dataclasses.fields(cls):
            assert f"`{f.name}`" in docs, f"{cls.__name__}.{f.name}"
    for kind in DEVICE_KINDS:
        assert f"`{kind}`" in docs
