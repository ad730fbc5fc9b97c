"""Fixtures for the packaging and real-systemd tier: prerequisites, the built .debs,
and the timings every run records (printed, and written to artifacts/system-timings.json).

Prerequisites missing (not root, no systemd-nspawn, no debootstrap, ...) skip these tests
with the reason, except under CI=true, where a missing prerequisite is a failure: CI must
not go green by skipping the tier that proves the package works.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nspawn_container import DASHBOARD_PORT, clean_env, port_in_use
from service_checks import TIMINGS_FILE, Timings, require, require_tools
from source_tree import Build, copy_source_tree, dpkg_buildpackage, offline_interfaces

REPO = Path(__file__).resolve().parents[2]
_TIMINGS_KEY = pytest.StashKey[dict[str, Any]]()


# --------------------------------------------------------------------------- timings


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_TIMINGS_KEY] = {}


@pytest.fixture(scope="session")
def timings(pytestconfig: pytest.Config) -> Timings:
    return Timings(pytestconfig.stash[_TIMINGS_KEY])


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    store = config.stash.get(_TIMINGS_KEY, {})
    if not store:
        return
    terminalreporter.section("bussdcc-system packaging and systemd figures")
    for section, values in sorted(store.items()):
        for key, value in sorted(values.items()):
            terminalreporter.write_line(f"{section}.{key}: {value}")
    terminalreporter.write_line(f"(saved to {TIMINGS_FILE})")


# --------------------------------------------------------------------------- prerequisites


@pytest.fixture(scope="session")
def build_prereqs() -> None:
    """Building the .deb: dpkg-buildpackage and the build-deps, or root to install them."""
    require_tools("dpkg-buildpackage", "dpkg-deb", "unshare")
    if os.geteuid() != 0:
        check = subprocess.run(
            ["dpkg-checkbuilddeps", "-I"],
            cwd=REPO,
            env=clean_env(),
            capture_output=True,
            text=True,
        )
        require(check.returncode == 0, f"not root and build-deps missing: {check.stderr.strip()}")


@pytest.fixture(scope="session")
def offline_build_prereqs(build_prereqs: None) -> None:
    """The plain Debian build: the build-deps installed (it installs nothing), and a
    network namespace without network (``unshare -n``)."""
    check = subprocess.run(
        ["dpkg-checkbuilddeps"], cwd=REPO, env=clean_env(), capture_output=True, text=True
    )
    require(
        check.returncode == 0,
        f"build-deps missing (apt-get build-dep . or scripts/build-deb.sh once as root): "
        f"{check.stderr.strip()}",
    )
    try:
        interfaces = offline_interfaces()
    except (OSError, subprocess.CalledProcessError) as exc:
        require(False, f"cannot run a command without network (unshare -n): {exc}")
    assert interfaces == ["lo"], f"unshare -n still sees {interfaces}"


@pytest.fixture(scope="session")
def container_prereqs() -> None:
    """Booting a real systemd: root, systemd-nspawn, debootstrap, nsenter, a free port."""
    require(os.geteuid() == 0, "needs root (systemd-nspawn, debootstrap)")
    require_tools("systemd-nspawn", "debootstrap", "nsenter", "tar")
    require(
        not port_in_use(DASHBOARD_PORT),
        f"port {DASHBOARD_PORT} is already in use on this machine; the container shares the "
        "host network and its dashboard needs that port",
    )


# --------------------------------------------------------------------------- packages


def build_deb(outdir: Path, version: str | None = None) -> Path:
    """Build both packages into ``outdir``; return bussdcc-system's .deb (the last path
    build-deb.sh prints; bussdcc-system-kiosk's lies next to it, see :func:`kiosk_deb`)."""
    cmd = [str(REPO / "scripts" / "build-deb.sh"), "-o", str(outdir)]
    if version:
        cmd += ["--version", version]
    result = subprocess.run(cmd, env=clean_env(), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"build-deb.sh failed:\n{result.stderr[-6000:]}"
    deb = Path(result.stdout.strip().splitlines()[-1])
    assert deb.is_file(), f"build-deb.sh printed {deb}, which is not a file"
    return deb


def changelog_version() -> str:
    first = (REPO / "debian" / "changelog").read_text().splitlines()[0]
    return first.split("(", 1)[1].split(")", 1)[0]


@pytest.fixture(scope="session")
def offline_build(
    offline_build_prereqs: None, tmp_path_factory: pytest.TempPathFactory, timings: Timings
) -> Build:
    """This tree as a clean checkout has it, built the Debian way with no network:
    ``dpkg-buildpackage -us -uc -b`` under ``unshare -n``. Every container test installs
    this package."""
    tree = tmp_path_factory.mktemp("offline-build") / "bussdcc-system"
    copy_source_tree(tree)
    build = dpkg_buildpackage(tree)
    assert build.returncode == 0, f"dpkg-buildpackage failed offline:\n{build.log[-6000:]}"
    timings.record("package", "build_offline_s", build.seconds)
    return build


@pytest.fixture(scope="session")
def deb(offline_build: Build, timings: Timings) -> Path:
    """bussdcc-system's .deb from :func:`offline_build`."""
    path = offline_build.debs["bussdcc-system"]
    timings.record("package", "deb_size_bytes", path.stat().st_size)
    timings.record("package", "deb_name", path.name)
    return path


@pytest.fixture(scope="session")
def kiosk_deb(deb: Path, timings: Timings) -> Path:
    """bussdcc-system-kiosk's .deb, built with ``deb`` into the same directory. Its glob
    cannot match the daemon's package: "bussdcc-system_*" wants "_" right after the name."""
    found = sorted(deb.parent.glob("bussdcc-system-kiosk_*.deb"))
    assert len(found) == 1, f"expected one bussdcc-system-kiosk_*.deb next to {deb}: {found}"
    assert found[0] != deb and not deb.name.startswith("bussdcc-system-kiosk_"), deb
    timings.record("package", "kiosk_deb_size_bytes", found[0].stat().st_size)
    timings.record("package", "kiosk_deb_name", found[0].name)
    return found[0]


@pytest.fixture(scope="session")
def deb_upgrade(
    build_prereqs: None, tmp_path_factory: pytest.TempPathFactory, timings: Timings
) -> Path:
    """The same tree built as a newer version (changelog entry in a temporary copy), by
    scripts/build-deb.sh, the developers' and install.sh's way to build."""
    start = time.monotonic()
    path = build_deb(tmp_path_factory.mktemp("deb-upgrade"), f"{changelog_version()}+test1")
    timings.record("package", "build_deb_sh_s", time.monotonic() - start)
    return path


@pytest.fixture(scope="session")
def system_workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where container root filesystems are unpacked (removed after each container)."""
    path = tmp_path_factory.mktemp("containers")
    yield path
    shutil.rmtree(path, ignore_errors=True)
