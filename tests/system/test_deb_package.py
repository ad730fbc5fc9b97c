"""The built .debs (bussdcc-system and bussdcc-system-kiosk): built offline from a clean
checkout, what they contain, what they declare, and what lintian says about them and
about the source package."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from nspawn_container import clean_env
from service_checks import Timings, require
from source_tree import VENDOR, Build, copy_source_tree, dpkg_buildpackage

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


def control_file(deb: Path, name: str) -> str | None:
    """A member of the control archive (postinst, conffiles, ...), None when absent."""
    tarball = subprocess.run(
        ["dpkg-deb", "--ctrl-tarfile", str(deb)], capture_output=True, check=True
    ).stdout
    found = subprocess.run(["tar", "-xO", f"./{name}"], input=tarball, capture_output=True)
    return found.stdout.decode() if found.returncode == 0 else None


def unit_path(files: set[str], unit: str) -> str | None:
    """Where the package puts ``unit``: lib/systemd/system on bookworm's debhelper,
    usr/lib/systemd/system on newer ones."""
    hits = [f for f in files if f.endswith(f"systemd/system/{unit}")]
    assert len(hits) <= 1, hits
    return hits[0] if hits else None


KIOSK_UNIT = "bussdcc-system-kiosk.service"
KIOSK_SYSUSERS = "usr/lib/sysusers.d/bussdcc-system-kiosk.conf"


def source_files(package: str) -> list[Path]:
    """Every file of a Python package in the tree, except caches."""
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


def test_the_offline_build_ships_the_pinned_browser_assets(deb: Path) -> None:
    """Built with no network from what a clean checkout holds, the package still has every
    vendor file, byte for byte the committed one, so the dashboard works (the container
    tests load it)."""
    tarball = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True
    ).stdout
    inside = f"{SITE}/bussdcc_system/web/static/vendor"
    packaged = {f for f in deb_files(deb) if f.startswith(inside + "/")}
    committed = {f"{inside}/{p.name}" for p in (REPO / VENDOR).iterdir()}
    assert packaged == committed, packaged ^ committed
    assert f"{inside}/socket.io.min.js" in packaged
    sums = {}
    for line in (REPO / VENDOR / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name] = digest
    for name, digest in sums.items():
        shipped = subprocess.run(
            ["tar", "-xO", f"./{inside}/{name}"], input=tarball, capture_output=True, check=True
        ).stdout
        assert hashlib.sha256(shipped).hexdigest() == digest, name
    assert not any("missing-sources" in f for f in deb_files(deb))


def test_the_offline_build_checked_the_assets_and_compiled_nothing(
    offline_build: Build,
) -> None:
    log = offline_build.log
    assert "fetch-assets.sh --check" in log and "browser assets match" in log, log[-3000:]
    assert "bussdcc-system-kiosk" in offline_build.debs, offline_build.debs
    for never in ("npm", "registry.npmjs.org", "fetching socket.io-client"):
        assert never not in log, f"{never!r} in the build log"


@pytest.mark.parametrize("damage", ["altered", "missing"])
def test_the_build_fails_loudly_without_the_pinned_assets(
    damage: str, offline_build_prereqs: None, tmp_path: Path
) -> None:
    """A builder never gets a package whose dashboard answers 503."""
    tree = tmp_path / "bussdcc-system"
    copy_source_tree(tree)
    js = tree / VENDOR / "socket.io.min.js"
    if damage == "altered":
        js.write_bytes(js.read_bytes().replace(b"Socket.IO", b"Socket.I0", 1))
    else:
        js.unlink()
    build = dpkg_buildpackage(tree, timeout=300)
    assert build.returncode != 0, build.log[-3000:]
    said = {"altered": ": missing or its sha256 differs", "missing": " is missing"}[damage]
    assert f"{VENDOR}/socket.io.min.js{said}" in build.log, build.log[-3000:]
    assert "fetch-assets: error: the browser assets do not match" in build.log
    assert not build.debs, build.debs


def lintian(package: Path) -> subprocess.CompletedProcess[str]:
    """lintian on a .deb or .dsc as these tests run it (pedantic, info tags); its report
    is printed."""
    result = subprocess.run(
        ["lintian", "--fail-on", "error,warning", "--display-info", "--pedantic", str(package)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=600,
    )
    print(result.stdout)
    return result


def assert_lintian_clean(result: subprocess.CompletedProcess[str]) -> None:
    """No error or warning tag, and lintian itself agrees (exit status 0)."""
    tags = [line for line in result.stdout.splitlines() if line[:2] in ("E:", "W:")]
    assert result.returncode == 0 and not tags, result.stdout + result.stderr


def test_lintian_clean_source_package(offline_build_prereqs: None, tmp_path: Path) -> None:
    """The source package has the readable source of the minified client
    (debian/missing-sources), so lintian finds no error or warning in it either."""
    from service_checks import require_tools

    require_tools("lintian", "dpkg-source")
    tree = tmp_path / "bussdcc-system"
    copy_source_tree(tree)
    subprocess.run(
        ["dpkg-source", "-b", "."], cwd=tree, env=clean_env(), capture_output=True, check=True
    )
    (dsc,) = tmp_path.glob("*.dsc")
    assert_lintian_clean(lintian(dsc))


def test_pyproject_builds_without_a_licence_warning_on_current_setuptools(
    tmp_path: Path,
) -> None:
    """Debian 12's setuptools 66 builds the package (the offline build above: it rejects
    the SPDX string form); the newest setuptools, as pip takes it from PyPI, must neither
    warn about the licence nor lose the LICENSE file."""
    tree = tmp_path / "bussdcc-system"
    copy_source_tree(tree)
    shutil.rmtree(tree / "debian")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path), "."],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0 and "setuptools" in output and "Could not" in output:
        require(False, f"pip cannot fetch setuptools from PyPI: {output[-1500:]}")
    assert result.returncode == 0, output[-4000:]
    print("\n".join(line for line in output.splitlines() if "setuptools" in line.lower()))
    for warning in ("license", "License"):
        flagged = [
            line
            for line in output.splitlines()
            if warning in line and ("deprecat" in line.lower() or "Warning" in line)
        ]
        assert not flagged, flagged
    (wheel,) = tmp_path.glob("bussdcc_system-*.whl")
    with zipfile.ZipFile(wheel) as whl:
        metadata = next(n for n in whl.namelist() if n.endswith(".dist-info/METADATA"))
        assert "License-File: LICENSE" in whl.read(metadata).decode()
        assert any(n.endswith("/LICENSE") for n in whl.namelist())


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
    # WebSocket for Socket.IO where the distribution has it (Debian 13, not 12).
    assert "python3-simple-websocket" in recommends, recommends


def test_main_package_does_not_ship_the_kiosk(deb: Path) -> None:
    """The kiosk's unit and user belong to bussdcc-system-kiosk only: installing the
    daemon must not add a disabled unit that takes tty1, nor its user."""
    files = deb_files(deb)
    assert unit_path(files, KIOSK_UNIT) is None, sorted(f for f in files if "kiosk" in f)
    assert KIOSK_SYSUSERS not in files
    sysusers = {f for f in files if f.startswith("usr/lib/sysusers.d/")}
    assert sysusers == {"usr/lib/sysusers.d/bussdcc-system.conf"}, sysusers


def test_kiosk_package_layout(kiosk_deb: Path) -> None:
    """A unit, a sysusers.d file and the docs; no code, no conffile."""
    files = deb_files(kiosk_deb)
    unit = unit_path(files, KIOSK_UNIT)
    assert unit is not None, sorted(files)
    expected = {
        unit,
        KIOSK_SYSUSERS,
        "usr/share/doc/bussdcc-system-kiosk/copyright",
        "usr/share/doc/bussdcc-system-kiosk/changelog.gz",
        "usr/share/lintian/overrides/bussdcc-system-kiosk",
    }
    regular = {f for f in files if not any(other.startswith(f + "/") for other in files)}
    assert regular == expected, regular ^ expected
    assert control_file(kiosk_deb, "conffiles") is None
    listing = subprocess.run(
        ["dpkg-deb", "-c", str(kiosk_deb)], capture_output=True, text=True, check=True
    ).stdout
    print(listing)
    assert "systemd/system/bussdcc-system-kiosk.service" in listing
    assert "sysusers.d/bussdcc-system-kiosk.conf" in listing
    # The shipped files are the repository's, byte for byte.
    contents = {
        unit: REPO / "systemd" / KIOSK_UNIT,
        KIOSK_SYSUSERS: REPO / "systemd" / "bussdcc-system-kiosk.sysusers",
    }
    tarball = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(kiosk_deb)], capture_output=True, check=True
    ).stdout
    for inside, source in contents.items():
        shipped = subprocess.run(
            ["tar", "-xO", f"./{inside}"], input=tarball, capture_output=True, check=True
        ).stdout
        assert shipped == source.read_bytes(), inside


def test_kiosk_control_fields(deb: Path, kiosk_deb: Path) -> None:
    info = subprocess.run(
        ["dpkg-deb", "-I", str(kiosk_deb)], capture_output=True, text=True, check=True
    ).stdout
    print(info)
    assert field(kiosk_deb, "Package") == "bussdcc-system-kiosk"
    assert field(kiosk_deb, "Architecture") == "all"
    assert field(kiosk_deb, "Source") == "bussdcc-system"
    version = field(deb, "Version")
    assert field(kiosk_deb, "Version") == version
    depends = [d.strip() for d in field(kiosk_deb, "Depends").split(",")]
    assert f"bussdcc-system (= {version})" in depends, depends
    assert "cage" in depends, depends
    assert "chromium | chromium-browser" in depends, depends
    # dh_installsysusers' dependency (systemd-sysusers runs in the postinst).
    assert any(d.startswith("systemd") for d in depends), depends
    description = field(kiosk_deb, "Description")
    assert "systemctl enable --now bussdcc-system-kiosk" in description, description
    assert "disabled by default" in description, description


def test_kiosk_maintainer_scripts_never_enable_or_start(kiosk_deb: Path) -> None:
    """dh_installsystemd --no-enable --no-start: the postinst creates the user, keeps an
    admin's earlier enablement, and only try-restarts a running kiosk on upgrade; the
    prerm stops it on removal; the postrm purges its state and enablement links."""
    postinst = control_file(kiosk_deb, "postinst")
    prerm = control_file(kiosk_deb, "prerm")
    postrm = control_file(kiosk_deb, "postrm")
    assert postinst and prerm and postrm
    assert "systemd-sysusers" in postinst and "bussdcc-system-kiosk.conf" in postinst
    # Enabling happens only under "was-enabled" (the admin enabled it before an upgrade).
    assert "was-enabled 'bussdcc-system-kiosk.service'" in postinst, postinst
    assert "deb-systemd-invoke try-restart 'bussdcc-system-kiosk.service'" in postinst
    for never in ("deb-systemd-invoke start", "deb-systemd-invoke restart", "_dh_action=start"):
        assert never not in postinst, f"{never!r} in postinst:\n{postinst}"
    assert "deb-systemd-invoke stop bussdcc-system-kiosk.service" in prerm, prerm
    assert "rm -rf /var/lib/bussdcc-kiosk" in postrm, postrm
    assert "deb-systemd-helper purge 'bussdcc-system-kiosk.service'" in postrm, postrm


def run_lintian(package: Path, timings: Timings, key: str) -> None:
    """No error or warning beyond debian/<package>.lintian-overrides (pedantic, info)."""
    from service_checks import require_tools

    require_tools("lintian")
    result = lintian(package)
    timings.record("package", key, len(result.stdout.splitlines()))
    assert_lintian_clean(result)


def test_lintian_clean(deb: Path, timings: Timings) -> None:
    run_lintian(deb, timings, "lintian_lines_after_overrides")


def test_lintian_clean_kiosk(kiosk_deb: Path, timings: Timings) -> None:
    run_lintian(kiosk_deb, timings, "kiosk_lintian_lines_after_overrides")
