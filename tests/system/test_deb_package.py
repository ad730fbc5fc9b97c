"""The built .deb: what it contains, what it declares, and what lintian says about it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from nspawn_container import clean_env
from service_checks import Timings

pytestmark = [pytest.mark.system, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
SITE = "usr/lib/python3/dist-packages"


def deb_files(deb: Path) -> set[str]:
    out = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True, env=clean_env()
    ).stdout
    names = subprocess.run(
        ["tar", "-t"], input=out, capture_output=True, check=True, env=clean_env()
    ).stdout.decode()
    return {n.removeprefix("./").rstrip("/") for n in names.splitlines() if n.strip("./")}


def field(deb: Path, name: str) -> str:
    return subprocess.run(
        ["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True
    ).stdout.strip()


def source_files(package: str) -> list[Path]:
    """Every file of a Python package in the tree (incl. git-ignored web/static/vendor,
    which build-deb.sh carries into the build), except caches."""
    root = REPO / "src" / package
    return [
        p
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
    ]


def test_every_source_file_is_in_the_package(deb: Path) -> None:
    """Templates and static files must be package data, or they silently go missing."""
    files = deb_files(deb)
    missing = [
        str(p.relative_to(REPO))
        for package in ("bussdcc", "bussdcc_system")
        for p in source_files(package)
        if f"{SITE}/{package}/{p.relative_to(REPO / 'src' / package)}" not in files
    ]
    assert not missing, f"files of the tree missing from {deb.name}: {missing}"
    web = [f for f in files if f.startswith(f"{SITE}/bussdcc_system/web/")]
    print(f"{len(web)} web files packaged")


def test_package_layout(deb: Path) -> None:
    files = deb_files(deb)
    expected = {
        "usr/bin/bussdcc-system",
        "etc/bussdcc-system/config.yaml",
        "usr/lib/sysusers.d/bussdcc-system.conf",
        "usr/share/doc/bussdcc-system/copyright",
    }
    assert expected <= files, expected - files
    units = {f for f in files if f.endswith("systemd/system/bussdcc-system.service")}
    assert len(units) == 1, units
    conffiles = subprocess.run(
        ["dpkg-deb", "--ctrl-tarfile", str(deb)], capture_output=True, check=True
    ).stdout
    listing = subprocess.run(
        ["tar", "-xO", "./conffiles"], input=conffiles, capture_output=True, check=True
    ).stdout.decode()
    assert listing.split() == ["/etc/bussdcc-system/config.yaml"]


def test_control_fields(deb: Path) -> None:
    assert field(deb, "Package") == "bussdcc-system"
    assert field(deb, "Architecture") == "all"
    depends = field(deb, "Depends")
    for name in (
        "python3-psutil",
        "python3-humanize",
        "python3-flask",
        "python3-flask-socketio",
        "python3-gpiozero",
        "python3-sdnotify",
        "python3-yaml",
        "python3-prometheus-client",
        "systemd",
    ):
        assert name in depends, f"{name} not in Depends: {depends}"
    recommends = field(deb, "Recommends")
    assert "raspi-utils | libraspberrypi-bin" in recommends and "python3-lgpio" in recommends


def test_lintian_clean(deb: Path, timings: Timings) -> None:
    """No error or warning beyond debian/bussdcc-system.lintian-overrides."""
    from service_checks import require_tools

    require_tools("lintian")
    result = subprocess.run(
        ["lintian", "--fail-on", "error,warning", "--display-info", "--pedantic", str(deb)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=600,
    )
    print(result.stdout)
    tags = [line for line in result.stdout.splitlines() if line[:2] in ("E:", "W:")]
    timings.record("package", "lintian_lines_after_overrides", len(result.stdout.splitlines()))
    assert result.returncode == 0 and not tags, result.stdout + result.stderr
