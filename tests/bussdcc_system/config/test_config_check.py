"""``bussdcc-system check-config`` as an admin runs it (a real process, real files), and
the summary it prints."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bussdcc_system.config import default_config, describe_config, parse_config
from tests.bussdcc_system.config.config_helpers import FULL, SHIPPED, SOURCE, parse

DEFAULT = Path("/etc/bussdcc-system/config.yaml")


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "BUSSDCC_SYSTEM_CONFIG"}
    environ.update(env or {})
    return subprocess.run(
        [*prefix, sys.executable, "-m", "bussdcc_system", "check-config", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_valid_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config.yaml",
        "web:\n  port: 9000\n"
        "devices:\n  - kind: throttling\n  - {id: led, kind: status_led, pin: GPIO17}\n",
    )
    result = run(str(path), cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (
        f"OK: {path}\n"
        "  devices: 2 configured: throttling, led (status_led)\n"
        "  web: 0.0.0.0:9000, read-only (no token)\n"
        "  history: /var/lib/bussdcc-system/history, kept 30 days or 512 MB\n"
    )


def test_shipped_file(tmp_path: Path) -> None:
    result = run(str(SHIPPED), cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (
        f"OK: {SHIPPED}\n"
        "  devices: auto-detect\n"
        "  web: 0.0.0.0:8086, read-only (no token)\n"
        "  history: /var/lib/bussdcc-system/history, kept 30 days or 512 MB\n"
    )


def test_invalid_file_prints_every_error_and_exits_78(tmp_path: Path) -> None:
    path = write(
        tmp_path / "site.yaml",
        "web:\n  prot: 80\nsampling:\n  cpu: yes\n"
        "devices:\n  - kind: status_led\n    pin: seventeen\n",
    )
    result = run(str(path), cwd=tmp_path)
    assert result.returncode == 78
    assert result.stdout == ""
    assert result.stderr == (
        "site.yaml:2: web.prot: unknown key; did you mean 'port'?\n"
        "site.yaml:4: sampling.cpu: expected a number of seconds >= 0.1 and <= 86400,"
        " got yes (a boolean)\n"
        "site.yaml:7: devices[0].pin: expected a GPIO pin number 0-27 or a name like 'GPIO17',"
        " got 'seventeen'\n"
    )


def test_malformed_yaml(tmp_path: Path) -> None:
    path = write(tmp_path / "config.yaml", "web:\n  port: 8086\n host: x\n")
    result = run(str(path), cwd=tmp_path)
    assert (result.returncode, result.stdout) == (78, "")
    assert result.stderr == (
        "config.yaml:3: invalid YAML at column 2: expected <block end>, but found"
        " '<block mapping start>' (while parsing a block mapping started on line 1)\n"
    )


def test_missing_explicit_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    result = run(str(path), cwd=tmp_path)
    assert (result.returncode, result.stdout) == (78, "")
    assert result.stderr == f"nope.yaml: cannot read {path}: no such file\n"


def test_directory(tmp_path: Path) -> None:
    path = tmp_path / "conf.d"
    path.mkdir()
    result = run(str(path), cwd=tmp_path)
    assert (result.returncode, result.stdout) == (78, "")
    assert result.stderr == f"conf.d: cannot read {path}: it is a directory, not a file\n"


def test_top_level_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path / "config.yaml", "- web\n- devices\n")
    result = run(str(path), cwd=tmp_path)
    assert (result.returncode, result.stdout) == (78, "")
    assert result.stderr == (
        "config.yaml:1: expected a mapping of settings such as 'web:' or 'devices:', got a list\n"
    )


def _without_file_permission_override() -> tuple[str, ...]:
    """Root reads any file; without CAP_DAC_* (dropped at exec) it obeys the mode bits."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv(1) to drop CAP_DAC_OVERRIDE")
    return (setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search")


def test_unreadable_file_says_permission_denied(tmp_path: Path) -> None:
    prefix = _without_file_permission_override()
    path = write(tmp_path / "config.yaml", "web: {}\n")
    path.chmod(0)
    result = run(str(path), cwd=tmp_path, prefix=prefix)
    assert (result.returncode, result.stdout) == (78, "")
    assert result.stderr == f"config.yaml: cannot read {path}: permission denied\n"


def test_environment_variable_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "env.yaml", "web:\n  enabled: false\n")
    result = run(cwd=tmp_path, env={"BUSSDCC_SYSTEM_CONFIG": str(path)})
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[:3] == [
        f"OK: {path}",
        "  devices: auto-detect",
        "  web: disabled",
    ]


def test_environment_variable_file_must_exist(tmp_path: Path) -> None:
    path = tmp_path / "gone.yaml"
    result = run(cwd=tmp_path, env={"BUSSDCC_SYSTEM_CONFIG": str(path)})
    assert (result.returncode, result.stdout) == (78, "")
    assert result.stderr == f"gone.yaml: cannot read {path}: no such file\n"


@pytest.mark.skipif(DEFAULT.exists(), reason="this host has a real /etc/bussdcc-system/config.yaml")
def test_absent_default_file_means_defaults(tmp_path: Path) -> None:
    result = run(cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (
        f"OK: {DEFAULT} (no such file: built-in defaults)\n"
        "  devices: auto-detect\n"
        "  web: 0.0.0.0:8086, read-only (no token)\n"
        "  history: /var/lib/bussdcc-system/history, kept 30 days or 512 MB\n"
    )


def test_describe_config() -> None:
    assert describe_config(default_config()) == [
        "devices: auto-detect",
        "web: 0.0.0.0:8086, read-only (no token)",
        "history: /var/lib/bussdcc-system/history, kept 30 days or 512 MB",
    ]
    config = parse_config(FULL, SOURCE)
    assert describe_config(config) == [
        "devices: 5 configured: throttling, cpu_temp (thermal_zone), led-green (status_led),"
        " led-red (status_led), led-blue (status_led)",
        "web: [::]:8443, write actions enabled (token set)",
        "history: /data/history, kept 30 days or 512 MB",
    ]
    off = parse("web: {enabled: false}\nhistory: {enabled: false}\ndevices: []\n")
    assert describe_config(off) == ["devices: none", "web: disabled", "history: disabled"]
