"""Fixtures for the appliance tests: every event the runtime emits, in order."""

from __future__ import annotations

import pytest

from bussdcc import Runtime
from tests.bussdcc_system.telemetry_helpers import BusLog


@pytest.fixture
def bus(runtime: Runtime) -> BusLog:
    log = BusLog()
    runtime.events.subscribe(log, name="buslog")
    return log
