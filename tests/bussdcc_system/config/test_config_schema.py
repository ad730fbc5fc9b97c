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
)


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
