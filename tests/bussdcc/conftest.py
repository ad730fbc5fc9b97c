"""Fixtures for the kernel tests: a SimClock runtime that is always shut down."""

from __future__ import annotations

import pytest
from kernel_helpers import BusLog

from bussdcc import Runtime


@pytest.fixture
def buslog(runtime: Runtime) -> BusLog:
    log = BusLog()
    runtime.events.subscribe(log, name="buslog")
    return log
