"""The packaged service under a real systemd: Debian 12 (bookworm) in systemd-nspawn.

One container, booted once for the module; the tests run in file order and walk the
package's life: install -> running -> reload -> bad reload -> bad start -> watchdog ->
upgrade -> purge. Each test leaves the service running for the next, so a failure shows
where the life broke. Durations are recorded, never asserted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nspawn_container import Container, booted, http_get, wait_for
from service_checks import (
    BROKEN_CONFIG,
    CONFIG,
    EX_CONFIG,
    HEALTHZ,
    INVALID_CONFIG,
    RELOAD_EDIT,
    STATE_DIR,
    UNIT,
    Timings,
    browser_transport,
    check_dashboard_page,
    check_history,
    check_installed_and_running,
    check_security,
    check_telemetry_under_sandbox,
    engineio_upgrades,
    health,
    install,
    service,
    wait_active,
    wait_for_port_closed,
    wait_healthz,
)

pytestmark = [pytest.mark.system, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def bookworm(container_prereqs: None, system_workdir: Path) -> Iterator[Container]:
    with booted("bookworm", system_workdir) as c:
        yield c


@pytest.fixture(scope="module")
def shipped_config() -> dict[str, str]:
    """The conffile as the package shipped it (filled in by the install test)."""
    return {}


class TestBookworm:
    """Debian 12: the whole life of the package."""

    section = "bookworm"

    def test_install_enables_and_starts(
        self, bookworm: Container, deb: Path, timings: Timings, shipped_config: dict[str, str]
    ) -> None:
        install(bookworm, deb, timings, self.section)
        shipped_config["text"] = bookworm.read_file(CONFIG)
        conffiles = bookworm.run("dpkg-query", "-W", "-f=${Conffiles}", "bussdcc-system").stdout
        assert CONFIG in conffiles
        check_installed_and_running(bookworm, timings, self.section)

    def test_dashboard_answers_healthz(self, bookworm: Container) -> None:
        wait_healthz()
        status, _ = http_get(HEALTHZ)
        assert status == 200

    def test_dashboard_works_and_long_polls(self, bookworm: Container, timings: Timings) -> None:
        """Debian 12 has no python3-simple-websocket: the server offers no upgrade, and the
        browser's Socket.IO connection stays on HTTP long-polling (and works)."""
        status = bookworm.run(
            "dpkg-query", "-W", "-f=${db:Status-Status}", "python3-simple-websocket", check=False
        ).stdout
        assert status != "installed", "Debian 12 was not expected to have simple-websocket"
        check_dashboard_page()
        assert engineio_upgrades() == []
        assert browser_transport(timings, self.section, expect="polling") == "polling"

    def test_history_jsonl_appears(self, bookworm: Container, timings: Timings) -> None:
        check_history(bookworm, timings, self.section)

    def test_telemetry_works_in_the_sandbox(self, bookworm: Container, timings: Timings) -> None:
        check_telemetry_under_sandbox(timings, self.section)

    def test_security_exposure(self, bookworm: Container, timings: Timings) -> None:
        check_security(bookworm, timings, self.section)

    def test_reload_applies_config_in_place(
        self, bookworm: Container, timings: Timings, shipped_config: dict[str, str]
    ) -> None:
        before = wait_active(bookworm)
        assert health()["level"] == "ok", health()
        bookworm.write_file(CONFIG, shipped_config["text"] + RELOAD_EDIT)
        start = time.monotonic()
        bookworm.run("systemctl", "reload", UNIT)

        def applied() -> dict[str, Any] | None:
            h = health()
            return h if h["level"] == "warning" else None

        after_health = wait_for("the new disk threshold to apply", applied, timeout=30)
        timings.record(self.section, "reload_applied_s", time.monotonic() - start)
        assert any("disk" in str(r).lower() for r in after_health["reasons"]), after_health
        after = wait_active(bookworm)
        assert after["MainPID"] == before["MainPID"], "reload must not restart the process"
        assert after["NRestarts"] == before["NRestarts"]
        status_text = wait_for(
            "STATUS= to show the new health",
            lambda: (t := service(bookworm)["StatusText"]) and "warning" in t and t,
            timeout=30,
        )
        print(f"StatusText after reload: {status_text}")
        print(f"/api/health after reload: {after_health}")
        wait_healthz(timeout=30)

    def test_invalid_config_on_reload_keeps_running(
        self, bookworm: Container, shipped_config: dict[str, str]
    ) -> None:
        before = wait_active(bookworm)
        good = bookworm.read_file(CONFIG)
        bookworm.write_file(CONFIG, BROKEN_CONFIG)
        # `systemctl reload` checks the file first (ExecReload= runs check-config, as nginx
        # and sshd do): it fails with a non-zero status and never signals the daemon.
        refused = bookworm.run("systemctl", "reload", UNIT, check=False)
        print(f"systemctl reload of a broken file: exit {refused.returncode}\n{refused.stderr}")
        assert refused.returncode != 0

        # What an admin sees: `systemctl status` names the file, line and problem in the
        # journal lines under it.
        def reason() -> str | None:
            shown = bookworm.run("systemctl", "status", "--no-pager", "-n", "20", UNIT).stdout
            return shown if "config.yaml:" in shown else None

        shown = wait_for("the reason in `systemctl status`", reason, timeout=30)
        print(f"systemctl status after a refused reload:\n{shown}")
        after = wait_active(bookworm)
        assert after["MainPID"] == before["MainPID"]
        assert after["NRestarts"] == before["NRestarts"]
        wait_healthz(timeout=30)
        # A SIGHUP that reaches the daemon anyway keeps the running configuration, and
        # STATUS= says why (across watchdog pings) until a reload succeeds.
        bookworm.run("systemctl", "kill", "--kill-who=main", "--signal=SIGHUP", UNIT)
        wait_for(
            "the reason in STATUS=",
            lambda: service(bookworm)["StatusText"].startswith("reload failed"),
            timeout=30,
        )
        after = wait_active(bookworm)
        status = service(bookworm)["StatusText"]
        assert status.startswith("reload failed, still running the previous configuration: "), (
            status
        )
        assert "config.yaml:" in status
        assert after["MainPID"] == before["MainPID"]
        assert after["NRestarts"] == before["NRestarts"]
        wait_healthz(timeout=30)
        # Put the good file back; the next reload succeeds again.
        bookworm.write_file(CONFIG, good)
        bookworm.run("systemctl", "reload", UNIT)
        wait_for(
            "a successful reload",
            lambda: "reload failed" not in service(bookworm)["StatusText"],
            timeout=30,
        )

    def test_bad_config_at_start_fails_without_restart_loop(
        self, bookworm: Container, timings: Timings
    ) -> None:
        good = bookworm.read_file(CONFIG)
        bookworm.write_file(CONFIG, INVALID_CONFIG)
        restart = bookworm.run("systemctl", "restart", UNIT, check=False, timeout=120)
        assert restart.returncode != 0, "a start with a bad config must fail"

        def failed() -> dict[str, str] | None:
            x = service(bookworm)
            return x if x["ActiveState"] == "failed" else None

        s = wait_for(f"{UNIT} failed", failed, timeout=30)
        assert s["ExecMainStatus"] == str(EX_CONFIG), s
        # RestartPreventExitStatus=78: no restart, however long we look (RestartSec=3).
        time.sleep(6)
        s = service(bookworm)
        assert s["ActiveState"] == "failed" and s["NRestarts"] == "0", s
        journal = bookworm.journal(UNIT, lines=20)
        assert "temperature_warning" in journal, journal  # key and line reach the journal
        bookworm.write_file(CONFIG, good)
        bookworm.run("systemctl", "reset-failed", UNIT)
        bookworm.run("systemctl", "start", UNIT, timeout=120)
        wait_active(bookworm)
        wait_healthz()

    def test_watchdog_restarts_a_frozen_process(
        self, bookworm: Container, timings: Timings
    ) -> None:
        before = wait_active(bookworm)
        pid = before["MainPID"]
        restarts = int(before["NRestarts"])
        bookworm.sh(f"kill -STOP {pid}")  # dash's builtin: a minbase has no /bin/kill
        start = time.monotonic()

        def restarted() -> dict[str, str] | None:
            s = service(bookworm)
            ok = (
                s["ActiveState"] == "active"
                and s["SubState"] == "running"
                and s["MainPID"] not in ("0", pid)
                and int(s["NRestarts"]) == restarts + 1
            )
            return s if ok else None

        after = wait_for("the watchdog to restart the service", restarted, timeout=90)
        timings.record(self.section, "watchdog_restart_s", time.monotonic() - start)
        assert "Watchdog timeout" in bookworm.journal(UNIT, lines=40)
        print(f"watchdog: MainPID {pid} -> {after['MainPID']}, NRestarts {after['NRestarts']}")
        wait_healthz()

    def test_upgrade_keeps_edited_conffile(
        self,
        bookworm: Container,
        deb_upgrade: Path,
        timings: Timings,
        shipped_config: dict[str, str],
    ) -> None:
        edited = shipped_config["text"] + "\n# kept across upgrades\n" + RELOAD_EDIT
        bookworm.write_file(CONFIG, edited)
        bookworm.run("systemctl", "reload", UNIT)
        before = wait_active(bookworm)
        inside = bookworm.copy_in(deb_upgrade)
        start = time.monotonic()
        bookworm.apt("install", "-y", inside)
        timings.record(self.section, "upgrade_s", time.monotonic() - start)
        version = bookworm.run("dpkg-query", "-W", "-f=${Version}", "bussdcc-system").stdout
        assert version.endswith("+test1"), version
        assert bookworm.read_file(CONFIG) == edited
        leftovers = bookworm.run("ls", "-a", "/etc/bussdcc-system").stdout.split()
        assert sorted(leftovers) == [".", "..", "config.yaml"], leftovers
        after = wait_active(bookworm)
        assert after["MainPID"] != before["MainPID"], "the upgrade should restart the service"
        wait_healthz()

    def test_purge_leaves_nothing_behind(self, bookworm: Container) -> None:
        listed = bookworm.run("dpkg", "-L", "bussdcc-system").stdout.splitlines()
        bookworm.apt("purge", "-y", "bussdcc-system")
        status = bookworm.run(
            "dpkg-query", "-W", "-f=${db:Status-Abbrev}", "bussdcc-system", check=False
        )
        assert status.returncode != 0 or status.stdout.strip() in ("", "un"), status.stdout
        for path in (STATE_DIR, "/etc/bussdcc-system", "/run/bussdcc-system"):
            assert not bookworm.exists(path), f"{path} left behind"
        left = []
        for path in listed:
            if not path.startswith("/") or path == "/.":
                continue
            check = bookworm.run(
                "sh", "-c", 'test -e "$1" || test -L "$1"', "sh", path, check=False
            )
            if check.returncode != 0:
                continue
            owned = bookworm.run("dpkg-query", "-S", path, check=False).returncode == 0
            is_dir = bookworm.run("test", "-d", path, check=False).returncode == 0
            if not (is_dir and owned) and path not in ("/etc", "/lib", "/usr"):
                left.append(path)
        assert not left, f"left behind after purge: {left}"
        found = bookworm.run(
            "find", "/etc", "/usr", "/var", "/lib", "-name", "*bussdcc*", check=False
        ).stdout.split()
        assert not found, f"left behind after purge: {found}"
        assert "could not be found" in bookworm.run("systemctl", "status", UNIT, check=False).stderr
        assert not wait_for_port_closed(), "the dashboard still answers after purge"
