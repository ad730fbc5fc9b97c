"""The same package on Debian 13 (trixie) under a real systemd: installs and starts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from nspawn_container import Container, booted
from service_checks import (
    Timings,
    check_history,
    check_installed_and_running,
    check_security,
    check_telemetry_under_sandbox,
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

    def test_security_exposure(self, trixie: Container, timings: Timings) -> None:
        check_security(trixie, timings, self.section)
