"""piuparts, the real one, on the built .debs in a clean Debian 12 chroot: install,
remove, purge; reinstall after a remove ("config-files" state) and, for the daemon,
after a purge; and after each purge compare the chroot with its state before the
package came: nothing left behind or changed, no broken symlink, debsums and adequate
clean.

The base is the cached ``rootfs-bookworm.tar`` of the container tests, so there is no
second debootstrap. piuparts 1.1.7 unpacks ``-b TARBALL`` with ``tar -zxf`` (gzip only),
which refuses that uncompressed tarball; so it is unpacked into a private directory and
given as ``-e DIR --hard-link`` (piuparts hard-links it into its own chroot, ~1 s).
Services never start: piuparts installs a policy-rc.d, and no systemd runs in a chroot.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from nspawn_container import SYSTEM_PATH, clean_env, rootfs_tarball, sources_for
from service_checks import Timings, require, require_tools

pytestmark = [pytest.mark.system, pytest.mark.timeout(1500)]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
SUITE = "bookworm"
PIUPARTS_TIMEOUT = 600.0

# What systemd itself leaves when it comes and goes with a package's dependencies (not
# ours): needed when the base lacks systemd; harmless with the cached base, which has it.
SYSTEMD_LEFTOVERS = (
    "/var/lib/private/",
    "/var/log/private/",
    "/var/cache/private/",
    "/var/lib/systemd/coredump/",
    "/var/lib/systemd/pstore/",
    "/root/.ssh/",
)

OPTIONS = (
    f"--distribution={SUITE}",
    # The base's own deb822 sources (rewritten below): the mirror, -updates, -security.
    "--keep-sources-list",
    # Nothing older is in the archive to upgrade from (the container tests do upgrades).
    "--no-upgrade-test",
    "--install-remove-install",
    "--fail-if-inadequate",
    "--fail-on-broken-symlinks",
    "--pedantic-purge-test",
    *(f"--ignore={path}" for path in SYSTEMD_LEFTOVERS),
)


@pytest.fixture()
def piuparts_prereqs() -> None:
    require(os.geteuid() == 0, "piuparts needs root (chroot, mount)")
    require_tools("tar", "debootstrap")
    missing = [t for t in ("piuparts", "adequate") if not shutil.which(t, path=SYSTEM_PATH)]
    require(not missing, f"missing tools: {', '.join(missing)} (apt-get install piuparts adequate)")


@pytest.fixture()
def base_chroot(piuparts_prereqs: None, tmp_path: Path) -> Path:
    """A private copy of the cached base, with sources for the current mirror settings
    (BUSSDCC_DEBIAN_MIRROR may differ from when the tarball was built)."""
    base = tmp_path / "base"
    base.mkdir()
    subprocess.run(
        ["tar", "--numeric-owner", "-C", str(base), "-xf", str(rootfs_tarball(SUITE))],
        env=clean_env(),
        check=True,
        timeout=300,
    )
    (base / "etc/apt/sources.list.d/debian.sources").write_text(sources_for(SUITE))
    return base


def mounts_under(directory: Path) -> list[str]:
    """Mount points below ``directory``, deepest first (/proc/self/mountinfo field 5)."""
    prefix = str(directory) + "/"
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point.startswith(prefix):
                points.append(point)
    return sorted(points, key=len, reverse=True)


def remove_tree(directory: Path) -> None:
    """Remove ``directory`` even after a killed piuparts left its chroot mounted,
    never crossing into a mounted file system."""
    for point in mounts_under(directory):
        subprocess.run(["umount", "-l", point], env=clean_env(), check=False)
    subprocess.run(["rm", "-rf", "--one-file-system", str(directory)], env=clean_env(), check=False)


def run_piuparts(debs: list[Path], base: Path, name: str, timings: Timings, *extra: str) -> str:
    """piuparts on ``debs`` (tested together), its log kept in artifacts/; return it."""
    work = base.parent / "piuparts"
    work.mkdir()
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / f"piuparts-{name}.log"
    cmd = [
        "piuparts",
        *OPTIONS,
        *extra,
        f"--existing-chroot={base}",
        "--hard-link",  # base is a throwaway copy: in-place edits through links are fine
        f"--tmpdir={work}",
        *map(str, debs),
    ]
    print("$ " + " ".join(cmd))
    start = time.monotonic()
    try:
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=clean_env(),
                start_new_session=True,
            )
            try:
                status = proc.wait(timeout=PIUPARTS_TIMEOUT)
            except subprocess.TimeoutExpired:
                # SIGINT lets piuparts kill what runs in its chroot, unmount and clean up.
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=30)
                pytest.fail(f"piuparts ran over {PIUPARTS_TIMEOUT:.0f}s; log: {log_path}")
    finally:
        elapsed = time.monotonic() - start
        remove_tree(work)
        remove_tree(base)
    timings.record("piuparts", f"{name}_s", elapsed)
    output = log_path.read_text(errors="replace")
    lines = output.splitlines()
    # The summary: piuparts' INFO/WARNING/ERROR lines, without the /usr merge notes.
    summary = [
        line
        for line in lines
        if any(f"s {level}: " in line for level in ("INFO", "WARNING", "ERROR"))
        and "by /usr merge" not in line
    ]
    print("\n".join(summary[-12:]))
    print(f"(full log: {log_path}, {elapsed:.1f}s)")
    passed = any(line.endswith("INFO: PASS: All tests.") for line in lines)
    assert status == 0 and passed, (
        f"piuparts exited {status}; log: {log_path}\n"
        + "\n".join(line for line in summary if "ERROR" in line or "FAIL" in line)
        + "\n--- last lines\n"
        + "\n".join(lines[-80:])
    )
    return output


def test_piuparts_daemon(deb: Path, base_chroot: Path, timings: Timings) -> None:
    output = run_piuparts([deb], base_chroot, "bussdcc-system", timings, "--install-purge-install")
    assert "Reinstalling after purge" in output and "Reinstalling after remove" in output
    assert "INFO: PASS: Installation and purging test." in output


def test_piuparts_with_kiosk(
    deb: Path, kiosk_deb: Path, base_chroot: Path, timings: Timings
) -> None:
    """Both packages together (the kiosk needs bussdcc-system of its own version, which
    no archive has), with the real cage and chromium: about 170 more packages, about a
    minute here (this run was to be dropped if it took over 3 minutes; it does not).
    No --install-purge-install: for it piuparts first installs a dummy package with the
    packages' dependencies from the archive, and bussdcc-system (= version) is not there;
    test_piuparts_daemon covers the daemon's reinstall after a purge."""
    output = run_piuparts([deb, kiosk_deb], base_chroot, "bussdcc-system-kiosk", timings)
    assert "INFO: PASS: Installation and purging test." in output
