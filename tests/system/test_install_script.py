"""install.sh as a person runs it, from a copy of the source tree in a fresh Debian 12:
the checkout belongs to an ordinary user, ``pi``, who runs ``./install.sh`` and lets it
re-run itself with sudo.

1. without systemd as PID 1 (a chroot-like container, like this CI machine), with
   --foreground: it installs the package, says the service cannot start here and how to
   run it in the foreground, and runs the daemon so, which answers /healthz; the system
   is left as it was apart from the product (the packages it installed to build are
   gone, ``apt-mark showmanual`` gains bussdcc-system only), and what it built is the
   user's;
2. in the same system booted with systemd: run again (idempotent), the service is active,
   and again nothing of the build is left.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from nspawn_container import Container, http_get, rootfs_tarball, wait_for
from service_checks import HEALTHZ, UNIT, Timings, wait_active, wait_healthz
from source_tree import copy_source_tree

pytestmark = [pytest.mark.system, pytest.mark.timeout(1800)]

FOREGROUND_CMD = "bussdcc-system run --config /etc/bussdcc-system/config.yaml"
USER = "pi"
CHECKOUT = f"/home/{USER}/bussdcc-system"
# What a build of this package installs when missing (build-deb.sh --print-build-deps and
# what they pull in), and build-essential, which it never needs (nothing is compiled).
BUILD_ONLY = (
    "dpkg-dev", "debhelper", "dh-python", "pybuild-plugin-pyproject", "python3-all",
    "python3-setuptools", "build-essential", "gcc", "g++", "make", "binutils", "libc6-dev",
)  # fmt: skip


def installed(c: Container, booted: bool) -> set[str]:
    cmd = ("dpkg-query", "-W", "-f=${db:Status-Abbrev}${Package}\\n")
    out = c.run(*cmd).stdout if booted else c.run_unbooted(*cmd).stdout
    return {line[3:].strip() for line in out.splitlines() if line.startswith("ii ")}


def manual(c: Container, booted: bool) -> set[str]:
    out = (c.run if booted else c.run_unbooted)("apt-mark", "showmanual").stdout
    return set(out.split())


def as_user(*cmd: str) -> tuple[str, ...]:
    """Run ``cmd`` as the checkout's owner, the way they would (no root to start with)."""
    return ("runuser", "-u", USER, "--", *cmd)


def apt_simulate(c: Container, booted: bool, *args: str) -> set[str]:
    """Packages ``apt-get -s ARGS`` would remove or purge, where a package that another
    one merely suggests counts as unneeded (apt never installs Suggests by itself)."""
    out = (c.run if booted else c.run_unbooted)(
        "apt-get", "-s", "-o", "APT::AutoRemove::SuggestsImportant=false", *args
    ).stdout
    return {line.split()[1] for line in out.splitlines() if line.startswith(("Remv ", "Purg "))}


def check_left_as_found(
    c: Container, booted: bool, packages_before: set[str], manual_before: set[str]
) -> set[str]:
    """Nothing of the build left: every package added since ``packages_before`` is
    bussdcc-system or something only it needs, and the only new manual package is
    bussdcc-system. Returns the added packages."""
    added = installed(c, booted) - packages_before
    manual_after = manual(c, booted)
    print(f"apt-mark showmanual before: {sorted(manual_before)}")
    print(f"apt-mark showmanual after:  {sorted(manual_after)}")
    print(f"packages added ({len(added)}): {sorted(added)}")
    assert manual_after - manual_before == {"bussdcc-system"}, manual_after ^ manual_before
    assert manual_before <= manual_after
    leftovers = sorted(set(BUILD_ONLY) & installed(c, booted) - packages_before)
    assert not leftovers, f"build tools left installed: {leftovers}"
    # Exactly what removing the product would take away again: nothing else was added.
    with_product = apt_simulate(c, booted, "purge", "--autoremove", "bussdcc-system")
    assert added <= with_product, sorted(added - with_product)
    assert apt_simulate(c, booted, "autoremove") == set(), "unneeded packages left"
    # apt keeps what it downloaded: the .debs of packages no longer installed must go.
    archives = (c.run if booted else c.run_unbooted)(
        "find", "/var/cache/apt/archives", "-maxdepth", "1", "-name", "*.deb"
    ).stdout.split()
    now = installed(c, booted)
    stale = [a for a in archives if Path(a).name.split("_", 1)[0] not in now]
    assert not stale, f"downloads of removed packages left in apt's cache: {stale}"
    return added


def check_owned_by_user(c: Container, booted: bool) -> None:
    """What install.sh wrote into the checkout (dist/) belongs to the user, not root."""
    run = c.run if booted else c.run_unbooted
    root_owned = run("find", CHECKOUT, "!", "-user", USER).stdout.split()
    assert not root_owned, f"owned by someone else than {USER}: {root_owned}"
    debs = run("find", f"{CHECKOUT}/dist", "-name", "*.deb", "-user", USER).stdout.split()
    assert len(debs) == 2, debs


def test_install_sh_without_and_with_systemd(
    container_prereqs: None, system_workdir: Path, timings: Timings
) -> None:
    with Container("bookworm", rootfs_tarball("bookworm"), system_workdir) as c:
        c.unpack()
        copy_source_tree(c.rootfs / CHECKOUT.lstrip("/"))
        # A Pi's user: a checkout of their own, sudo without a password (as on Raspberry
        # Pi OS). Installed before the "before" snapshot: it is not what is measured.
        setup = c.run_unbooted(
            "sh",
            "-ec",
            "apt-get update -qq && apt-get install -y -qq --no-install-recommends sudo"
            f" && useradd -m -s /bin/bash {USER}"
            f" && echo '{USER} ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/{USER}"
            f" && chown -R {USER}:{USER} /home/{USER}",
            timeout=600,
        )
        assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-2000:]
        packages_before, manual_before = installed(c, False), manual(c, False)
        timings.record("install_sh", "packages_before", len(packages_before))
        timings.record("install_sh", "manual_before", " ".join(sorted(manual_before)))
        script = f"{CHECKOUT}/install.sh"

        # 1. No systemd as PID 1: installs, explains, does not pretend to start anything;
        #    with --foreground it then runs the daemon, which serves the dashboard.
        log = system_workdir / "install-foreground.log"
        start = time.monotonic()
        c.spawn_unbooted(*as_user(script, "--foreground"), output=log)

        def answers() -> bool:
            assert not c.exited(), f"install.sh --foreground exited:\n{log.read_text()[-3000:]}"
            return http_get(HEALTHZ, timeout=3)[0] == 200

        try:
            wait_for("the foreground daemon to answer /healthz", answers, timeout=900)
        except TimeoutError:
            pytest.fail(f"--foreground never answered:\n{log.read_text()[-3000:]}")
        finally:
            c.stop(timeout=5)
        timings.record("install_sh", "first_run_no_systemd_s", time.monotonic() - start)
        out = log.read_text()
        print(out[-5000:])
        assert "not root: re-running with sudo" in out
        assert "systemd is not running as PID 1" in out
        assert "cannot be started" in out
        assert FOREGROUND_CMD in out
        assert ":8086/" in out
        assert "running bussdcc-system in the foreground" in out
        # It says, in words, what it installs for the build and that it removes it again.
        assert "installing what the build needs (removed again at the end)" in out
        assert "packages installed only for the build" in out
        status = c.run_unbooted("dpkg-query", "-W", "-f=${db:Status-Status}", "bussdcc-system")
        assert status.stdout == "installed", status.stdout + status.stderr
        added = check_left_as_found(c, False, packages_before, manual_before)
        timings.record("install_sh", "packages_after", len(packages_before | added))
        timings.record("install_sh", "packages_added_with_the_product", len(added))
        timings.record("install_sh", "manual_after", " ".join(sorted(manual(c, False))))
        check_owned_by_user(c, False)

        # 2. Booted: the same command again reinstalls and the service is active.
        c.start()
        start = time.monotonic()
        second = c.run(*as_user(script), check=False, timeout=1500)
        timings.record("install_sh", "second_run_with_systemd_s", time.monotonic() - start)
        out = second.stdout + second.stderr
        print(second.stdout[-3000:])
        assert second.returncode == 0, out
        assert "reinstalling bussdcc-system" in out
        assert f"{UNIT} is active" in out
        assert "http://" in out
        wait_active(c)
        wait_healthz()
        assert check_left_as_found(c, True, packages_before, manual_before) == added
        check_owned_by_user(c, True)
