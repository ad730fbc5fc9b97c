"""install.sh as a person runs it, from a copy of the source tree in a fresh Debian 12:

1. without systemd as PID 1 (a chroot-like container, like this CI machine): it installs
   the package and says the service cannot start here and how to run it in the
   foreground; with --foreground it runs the daemon, which answers /healthz;
2. in the same system booted with systemd: run again (idempotent), the service is active.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from nspawn_container import Container, clean_env, http_get, rootfs_tarball, wait_for
from service_checks import HEALTHZ, UNIT, Timings, wait_active, wait_healthz

pytestmark = [pytest.mark.system, pytest.mark.timeout(1500)]

REPO = Path(__file__).resolve().parents[2]
VENDOR = Path("src/bussdcc_system/web/static/vendor")
FOREGROUND_CMD = "bussdcc-system run --config /etc/bussdcc-system/config.yaml"


def copy_source_tree(dest: Path) -> None:
    """The files a clone has (git's view, ignoring build litter) plus fetched assets."""
    dest.mkdir(parents=True)
    listed = subprocess.run(
        ["git", "-c", "safe.directory=*", "ls-files", "-z", "--cached", "--others",
         "--exclude-standard"],
        cwd=REPO, capture_output=True, env=clean_env(), check=False,
    )  # fmt: skip
    if listed.returncode == 0:
        for name in filter(None, listed.stdout.decode().split("\0")):
            src = REPO / name
            if not (src.exists() or src.is_symlink()):
                continue
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if src.is_symlink():
                target.symlink_to(src.readlink())
            else:
                shutil.copy2(src, target)
    else:
        shutil.copytree(
            REPO,
            dest,
            symlinks=True,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns(
                ".git", ".venv", "dist", "build", "artifacts", "*.egg-info", "__pycache__",
                ".mypy_cache", ".ruff_cache", ".pytest_cache", ".cache",
            ),
        )  # fmt: skip
    if (REPO / VENDOR).is_dir():
        shutil.copytree(REPO / VENDOR, dest / VENDOR, dirs_exist_ok=True)
    fetch = dest / "scripts" / "fetch-assets.sh"
    if fetch.exists():
        # Fetched here, with the host's network and trust store, so that the build in
        # the container needs no HTTPS access of its own (it checks, and finds them).
        result = subprocess.run(
            ["bash", str(fetch)], capture_output=True, text=True, env=clean_env(), timeout=300
        )
        assert result.returncode == 0, f"fetch-assets.sh failed:\n{result.stderr[-3000:]}"


def test_install_sh_without_and_with_systemd(
    container_prereqs: None, system_workdir: Path, timings: Timings
) -> None:
    with Container("bookworm", rootfs_tarball("bookworm"), system_workdir) as c:
        c.unpack()
        copy_source_tree(c.rootfs / "root" / "bussdcc-system")
        script = "/root/bussdcc-system/install.sh"

        # 1. No systemd as PID 1: installs, explains, does not pretend to start anything.
        start = time.monotonic()
        first = c.run_unbooted(script, timeout=1200)
        timings.record("install_sh", "first_run_no_systemd_s", time.monotonic() - start)
        out = first.stdout + first.stderr
        print(first.stdout[-3000:])
        assert first.returncode == 0, out
        assert "systemd is not running as PID 1" in out
        assert "cannot be started" in out
        assert FOREGROUND_CMD in out
        assert ":8086/" in out
        status = c.run_unbooted("dpkg-query", "-W", "-f=${db:Status-Status}", "bussdcc-system")
        assert status.stdout == "installed", status.stdout + status.stderr

        # --foreground: the daemon runs in the foreground and serves the dashboard.
        log = system_workdir / "install-foreground.log"
        c.spawn_unbooted(script, "--foreground", output=log)

        def answers() -> bool:
            assert not c.exited(), f"install.sh --foreground exited:\n{log.read_text()[-3000:]}"
            return http_get(HEALTHZ, timeout=3)[0] == 200

        try:
            wait_for("the foreground daemon to answer /healthz", answers, timeout=300)
        except TimeoutError:
            pytest.fail(f"--foreground never answered:\n{log.read_text()[-3000:]}")
        finally:
            c.stop(timeout=5)
        assert "running bussdcc-system in the foreground" in log.read_text()

        # 2. Booted: the same command again reinstalls and the service is active.
        c.start()
        start = time.monotonic()
        second = c.run(script, check=False, timeout=1200)
        timings.record("install_sh", "second_run_with_systemd_s", time.monotonic() - start)
        out = second.stdout + second.stderr
        print(second.stdout[-3000:])
        assert second.returncode == 0, out
        assert "reinstalling bussdcc-system" in out
        assert f"{UNIT} is active" in out
        assert "http://" in out
        wait_active(c)
        wait_healthz()
