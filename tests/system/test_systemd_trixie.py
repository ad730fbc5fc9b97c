"""The same package on Debian 13 (trixie) under a real systemd: installs and starts, and
with python3-simple-websocket (a Recommends; Debian 13 has it) the dashboard's Socket.IO
connection upgrades to WebSocket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from nspawn_container import Container, booted
from service_checks import (
    Timings,
    browser_transport,
    check_dashboard_page,
    check_history,
    check_installed_and_running,
    check_security,
    check_telemetry_under_sandbox,
    engineio_upgrades,
    install,
    wait_healthz,
)

pytestmark = [pytest.mark.system, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def trixie(container_prereqs: None, system_workdir: Path) -> Iterator[Container]:
    with booted("trixie", system_workdir) as c:
        yield c


class TestTrixie:
    """Debian 13: the same package installs and starts."""

    section = "trixie"

    def test_install_enables_and_starts(
        self, trixie: Container, deb: Path, timings: Timings
    ) -> None:
        install(trixie, deb, timings, self.section)
        check_installed_and_running(trixie, timings, self.section)

    def test_dashboard_and_history(self, trixie: Container, timings: Timings) -> None:
        wait_healthz()
        check_history(trixie, timings, self.section)
        check_telemetry_under_sandbox(timings, self.section)

    def test_dashboard_upgrades_to_websocket(self, trixie: Container, timings: Timings) -> None:
        status = trixie.run(
            "dpkg-query", "-W", "-f=${db:Status-Status} ${Version}", "python3-simple-websocket"
        ).stdout
        assert status.startswith("installed "), f"the Recommends was not installed: {status}"
        timings.record(self.section, "simple_websocket", status.split()[1])
        check_dashboard_page()
        assert engineio_upgrades() == ["websocket"]
        assert browser_transport(timings, self.section, expect="websocket") == "websocket"

    def test_security_exposure(self, trixie: Container, timings: Timings) -> None:
        check_security(trixie, timings, self.section)
