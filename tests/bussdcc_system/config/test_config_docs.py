"""The shipped commented file and the reference: they say what the declarations say."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bussdcc_system.config import (
    DEVICE_KINDS,
    DEVICE_OPTIONS,
    Config,
    DeviceConfig,
    StatusLedOptions,
    ThermalZoneOptions,
    ThrottlingOptions,
    default_config,
    load_config,
    parse_config,
)
from bussdcc_system.config.docs import (
    WRITE_COMMAND,
    conffile,
    reference,
    reference_tables,
    yaml_value,
)
from bussdcc_system.config.settings import sections_of
from tests.bussdcc_system.config.config_helpers import (
    DOCS,
    REPO,
    SHIPPED,
    uncomment,
)

STALE = (
    "differs from the declarations in src/bussdcc_system/config/schema.py;"
    f" run from the repository root: {WRITE_COMMAND}"
)


# ---------------------------------------------------------------- agreement with the declarations


def test_reference_tables_are_the_declarations() -> None:
    committed = DOCS.read_text()
    assert reference(committed) == committed, f"docs/configuration.md {STALE}"


def test_shipped_file_is_the_declarations() -> None:
    assert conffile() == SHIPPED.read_text(), f"etc/bussdcc-system/config.yaml {STALE}"


def test_a_table_edited_by_hand_is_put_back() -> None:
    committed = DOCS.read_text()
    row = "| `port` | `8086` | an integer 1-65535 | TCP port |\n"
    assert row in committed
    edited = committed.replace(row, "| `port` | `8080` | an integer 1-65535 | TCP port |\n")
    assert reference(edited) != edited
    assert reference(edited) == committed
    dropped = committed.replace(row, "")
    assert reference(dropped) == committed


def test_every_table_is_under_its_heading() -> None:
    committed = DOCS.read_text()
    for heading, table in reference_tables().items():
        section = committed.split(heading + "\n", 1)[1]
        assert table in section.split("\n#", 1)[0], heading


def test_a_heading_without_a_table_gets_one_and_a_missing_heading_is_an_error() -> None:
    committed = DOCS.read_text()
    table = reference_tables()["## `logging`"]
    without = committed.replace(table, "")
    assert table not in without
    assert table in reference(without)
    with pytest.raises(ValueError, match="has no heading '## `logging`': add it"):
        reference(without.replace("## `logging`\n", "## Logging\n"))


@pytest.mark.parametrize(
    ("value", "spelt"),
    [
        (None, "null"),
        (True, "true"),
        (8086, "8086"),
        (1.0, "1.0"),
        ("0.0.0.0", "0.0.0.0"),
        ("yes", '"yes"'),
        ("", '""'),
        ("a: b", '"a: b"'),
        (("/",), '["/"]'),
        ((), "[]"),
    ],
)
def test_yaml_value_is_read_back_as_the_value(value: object, spelt: str) -> None:
    assert yaml_value(value) == spelt
    read = yaml.safe_load(f"key: {spelt}")["key"]
    assert (tuple(read) if isinstance(read, list) else read) == value


def _tree(tmp_path: Path) -> Path:
    for relative in ("docs/configuration.md", "etc/bussdcc-system/config.yaml"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / relative, tmp_path / relative)
    return tmp_path


def _generate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", "-m", "bussdcc_system.config.docs", *args],
        env={**os.environ, "PYTHONWARNINGS": "error"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_generator_checks_and_writes_a_tree(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    assert _generate("--root", str(root)).returncode == 0
    docs, shipped = root / "docs/configuration.md", root / "etc/bussdcc-system/config.yaml"
    docs.write_text(docs.read_text().replace("| `8086` |", "| `8080` |"))
    shipped.write_text(shipped.read_text().replace("port: 8086", "port: 8080"))
    stale = _generate("--root", str(root))
    assert (stale.returncode, stale.stdout) == (1, "")
    assert stale.stderr == (
        f"{docs}: differs from the declarations; run: {WRITE_COMMAND}\n"
        f"{shipped}: differs from the declarations; run: {WRITE_COMMAND}\n"
    )
    written = _generate("--write", "--root", str(root))
    assert (written.returncode, written.stderr) == (0, "")
    assert written.stdout == f"wrote {docs}\nwrote {shipped}\n"
    assert docs.read_text() == DOCS.read_text()
    assert shipped.read_text() == SHIPPED.read_text()
    assert _generate("--root", str(root)).returncode == 0


def test_generator_outside_a_repository(tmp_path: Path) -> None:
    result = _generate("--root", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == (
        f"{tmp_path / 'docs/configuration.md'}: no such file; run this from the repository root\n"
    )


# ---------------------------------------------------------------- the shipped file itself


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
    for declared in sections_of(Config):
        assert list(root[declared.name]) == [f.name for f in dataclasses.fields(declared.cls)]
    for device in root["devices"]:
        option_type = DEVICE_OPTIONS[device["kind"]]
        assert set(device) == {"id", "kind"} | {f.name for f in dataclasses.fields(option_type)}


def test_shipped_file_is_ascii() -> None:
    SHIPPED.read_bytes().decode("ascii")


def test_docs_name_every_setting() -> None:
    docs = DOCS.read_text()
    for cls in [*(declared.cls for declared in sections_of(Config)), *DEVICE_OPTIONS.values()]:
        for f in dataclasses.fields(cls):
            assert f"`{f.name}`" in docs, f"{cls.__name__}.{f.name}"
    for kind in DEVICE_KINDS:
        assert f"`{kind}`" in docs
