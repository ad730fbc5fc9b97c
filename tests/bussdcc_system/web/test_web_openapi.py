"""Schemathesis against /api/openapi.json: generated requests never produce a 500, and
responses match the description (status codes, schemas, content types)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from web_helpers import write_history

from bussdcc_system.web import WebSettings, create_app
from tests.bussdcc_system.telemetry_helpers import pi_runtime


def _app() -> Any:
    """The app over a Pi's state and an hour of history (built at import: schemathesis
    parametrizes from a module-level schema)."""
    history = Path(tempfile.mkdtemp(prefix="bussdcc-openapi-"))
    atexit.register(shutil.rmtree, history, True)
    write_history(history, time.time() - 3600, 200)
    rt = pi_runtime()
    atexit.register(rt.shutdown)  # the schema and its app live as long as the module
    return create_app(
        state=rt.state, settings=WebSettings(token="tok"), history_dir=str(history), emit=rt.emit
    )


schema = schemathesis.openapi.from_wsgi("/api/openapi.json", _app())


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_and_never_fails(case: Any) -> None:
    # A metric that fits the pattern but names no telemetry field is a 400 by design
    # ("unknown metric"), so the "schema-valid data is accepted" check does not apply.
    # The in-process WSGI transport does not undo gzip as an HTTP client would.
    case.call_and_validate(
        headers={"Accept-Encoding": "identity"}, excluded_checks=[positive_data_acceptance]
    )


def test_openapi_file_is_valid_json() -> None:
    import json

    from bussdcc_system.web.api import OPENAPI_PATH

    doc = json.loads(Path(OPENAPI_PATH).read_text())
    assert doc["openapi"].startswith("3.0")
    assert "/api/history" in doc["paths"] and "/metrics" in doc["paths"]


def test_episode_kinds_are_the_throttling_flags() -> None:
    import json

    from bussdcc_system.throttling_flags import FLAGS
    from bussdcc_system.web.api import OPENAPI_PATH

    doc = json.loads(Path(OPENAPI_PATH).read_text())
    kind = doc["components"]["schemas"]["Episode"]["properties"]["kind"]
    assert kind["enum"] == [flag.field for flag in FLAGS]
