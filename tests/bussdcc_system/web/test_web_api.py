"""The JSON API, pages, static assets, errors and /metrics through Flask's test client."""

from __future__ import annotations

import gzip
import html
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from web_helpers import write_history

from bussdcc import Event, Message, Runtime, message
from bussdcc_system.web import WebSettings, create_app
from bussdcc_system.web.assets import Assets
from tests.bussdcc_system.telemetry_helpers import pi_runtime

NOW = time.time()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("history")
    write_history(directory, NOW - 3600, 300)
    return directory


@pytest.fixture
def rt() -> Iterator[Runtime]:
    runtime = pi_runtime()
    yield runtime
    runtime.shutdown()


@pytest.fixture
def settings() -> WebSettings:
    return WebSettings()


@pytest.fixture
def app(rt: Runtime, history: Path, settings: WebSettings) -> Flask:
    return create_app(state=rt.state, settings=settings, history_dir=str(history), emit=rt.emit)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def error_of(resp: Any, status: int) -> str:
    assert resp.status_code == status, resp.data
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert set(body) == {"error", "message", "status"} and body["status"] == status
    assert "Traceback" not in resp.get_data(as_text=True)
    return str(body["message"])


# -- state and health -----------------------------------------------------------------


def test_state_is_the_projected_tree(client: FlaskClient) -> None:
    body = client.get("/api/state").get_json()
    assert body["system"]["memory"]["percent"] == 42.1
    assert body["system"]["disk"]["/boot/firmware"]["total"] == 510 * 1024**2
    assert "devices" in body


def test_health_in_words(client: FlaskClient) -> None:
    body = client.get("/api/health").get_json()
    assert body["level"] == "warning"  # under-voltage occurred since boot
    assert any("nder-voltage" in r for r in body["reasons"])


def test_health_before_any_evaluation(history: Path) -> None:
    from bussdcc import StateStore

    app = create_app(state=StateStore(), history_dir=str(history))
    body = app.test_client().get("/api/health").get_json()
    assert body["level"] == "unknown"


# -- history --------------------------------------------------------------------------


def test_history_series_buckets(client: FlaskClient) -> None:
    resp = client.get(
        f"/api/history?metric=system.cpu.usage.updated:percent&start={NOW - 3600}&end={NOW}"
        "&points=60"
    )
    body = resp.get_json()
    assert resp.status_code == 200, body
    assert body["step"] == 120.0 and 0 < body["points"] <= 60
    full = [b for b in body["buckets"] if b["count"]]
    assert full and all(b["min"] <= b["avg"] <= b["max"] for b in full)
    assert sum(b["count"] for b in full) == 300


def test_history_named_range_and_selectors(client: FlaskClient) -> None:
    for metric in (
        "system.temperature.updated:celsius",
        "system.disk.usage.updated[mount=/]:percent",
        "system.network.usage.updated:interfaces.eth0.rx_bytes_per_s",
    ):
        resp = client.get(f"/api/history?metric={metric}&range=24h&points=24")
        assert resp.status_code == 200, resp.get_json()
        assert any(b["count"] for b in resp.get_json()["buckets"]), metric


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", "'metric' is required"),
        ("metric=nonsense", "must look like"),
        ("metric=system.cpu.usage.updated:wattage", "has no field 'wattage'"),
        ("metric=system.nothing.updated:percent", "no telemetry message"),
        ("metric=system.cpu.usage.updated:percent&range=2y", "'range' must be one of"),
        ("metric=system.cpu.usage.updated:percent&range=1h&start=0", "not both"),
        ("metric=system.cpu.usage.updated:percent&start=200&end=100", "after 'start'"),
        ("metric=system.cpu.usage.updated:percent&start=yesterday", "ISO 8601"),
        ("metric=system.cpu.usage.updated:percent&start=0&end=99999999", "at most 400 days"),
        ("metric=system.cpu.usage.updated:percent&points=100000", "between 1 and 1000"),
        ("metric=system.cpu.usage.updated:percent&points=ten", "must be an integer"),
        ("metric=" + "a" * 300 + ":x", "must look like"),
    ],
)
def test_bad_history_queries_say_why(client: FlaskClient, query: str, reason: str) -> None:
    assert reason in error_of(client.get(f"/api/history?{query}"), 400)


def test_history_disabled(rt: Runtime) -> None:
    app = create_app(state=rt.state, history_dir=None)
    resp = app.test_client().get("/api/history?metric=system.cpu.usage.updated:percent")
    assert "history is disabled" in error_of(resp, 503)


def test_metric_catalogue(client: FlaskClient) -> None:
    body = client.get("/api/history/metrics").get_json()
    assert "system.cpu.usage.updated:percent" in body["metrics"]
    assert "system.cpu.usage.updated:percent" in body["recorded"]
    assert body["ranges"] == ["1h", "6h", "24h", "7d", "30d"]


def test_power_episodes_from_history(client: FlaskClient) -> None:
    body = client.get("/api/power/episodes?days=2").get_json()
    (episode,) = body["episodes"]
    assert episode["kind"] == "under_voltage"
    assert episode["end"] - episode["start"] == pytest.approx(300, abs=1)
    assert episode["text"].endswith(": under-voltage for 5 minutes")
    words = episode["words"]
    assert (words["what"], words["lasted"], words["observed"]) == (
        "under-voltage",
        "5 minutes",
        True,
    )
    page = client.get("/").get_data(as_text=True)
    cells = "".join(f"<td>{html.escape(words[k])}</td>" for k in ("what", "start", "end", "lasted"))
    assert f"<tr>{cells}</tr>" in page  # the same words as the page's table
    assert "between 1 and 90" in error_of(client.get("/api/power/episodes?days=0"), 400)


# -- the one write action ---------------------------------------------------------------


def test_writes_are_refused_without_a_configured_token(client: FlaskClient) -> None:
    resp = client.post("/api/led/test", headers={"Authorization": "Bearer anything"})
    assert "no web.token is configured" in error_of(resp, 403)


def test_led_test_needs_the_right_token(
    client: FlaskClient, settings: WebSettings, rt: Runtime
) -> None:
    settings.token = "correct horse"
    seen: list[Event[Message]] = []
    rt.events.subscribe(lambda e: seen.append(e) if e.name.endswith("test_requested") else None)
    resp = client.post("/api/led/test")
    assert "Bearer" in error_of(resp, 401)
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    bad = client.post("/api/led/test", headers={"Authorization": "Bearer wrong"})
    assert "not valid" in error_of(bad, 403)
    assert not seen
    ok = client.post(
        "/api/led/test", json={"seconds": 3}, headers={"Authorization": "Bearer correct horse"}
    )
    assert ok.status_code == 202 and ok.get_json() == {"accepted": True, "seconds": 3.0}
    assert [e.data["seconds"] for e in seen] == [3.0]
    junk = client.post(
        "/api/led/test",
        data=b"{",
        content_type="application/json",
        headers={"Authorization": "Bearer correct horse"},
    )
    assert "must be JSON" in error_of(junk, 400)
    big = client.post(
        "/api/led/test", json={"seconds": 3600}, headers={"Authorization": "Bearer correct horse"}
    )
    assert "between 0 and 60" in error_of(big, 400)


# -- errors ---------------------------------------------------------------------------------


def test_errors_are_json(client: FlaskClient, settings: WebSettings) -> None:
    error_of(client.get("/api/nope"), 404)
    resp = client.delete("/api/state")
    error_of(resp, 405)
    assert "GET" in resp.headers["Allow"]
    settings.token = "t"
    huge = client.post("/api/led/test", data=b"x" * 100_000, headers={"Authorization": "Bearer t"})
    error_of(huge, 413)


def test_a_crash_is_a_500_without_a_stack_trace(
    rt: Runtime, history: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rt.state.set("system.weird", object())  # something no JSON encoder can write
    app = create_app(state=rt.state, history_dir=str(history))
    with caplog.at_level(logging.ERROR, logger="bussdcc_system.web"):
        resp = app.test_client().get("/api/state")
    assert "daemon log has details" in error_of(resp, 500)
    assert "unhandled error serving GET /api/state" in caplog.text


# -- pages and assets -------------------------------------------------------------------------


def test_dashboard_is_complete_on_first_load(client: FlaskClient) -> None:
    resp = client.get("/")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    for text in (
        "3.2 GiB of 7.6 GiB",
        "up 4 days",
        "51.2 °C",
        "pi-kitchen",
        "0.52 · 0.61 · 0.70",
        "/boot/firmware",
        "wlan0",
        "since boot: under-voltage occurred",
    ):
        assert text in html, text
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in html  # no inline script: CSP holds


def test_kiosk_page(client: FlaskClient) -> None:
    for url in ("/kiosk", "/?kiosk=1"):
        html = client.get(url).get_data(as_text=True)
        assert 'class="kiosk"' in html and 'id="offline"' in html


def test_static_assets_are_hashed_gzipped_and_cached(client: FlaskClient, app: Flask) -> None:
    assets: Assets = app.extensions["bussdcc_system"].assets
    url = assets.url("vendor/socket.io.min.js")
    resp = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert resp.status_code == 200 and resp.headers["Content-Encoding"] == "gzip"
    assert "immutable" in resp.headers["Cache-Control"]
    assert gzip.decompress(resp.data).startswith(b"/*!")
    etag = resp.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    plain = client.get("/static/app.css")
    assert plain.headers["Cache-Control"] == "no-cache" and b"--bg" in plain.data
    assert "fetch-assets" in error_of(client.get("/static/vendor/missing.js"), 404)


def test_missing_vendor_assets_say_how_to_fix_it(
    rt: Runtime, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "app.js").write_text("/* app */")
    with caplog.at_level(logging.ERROR, logger="bussdcc_system.web"):
        assets = Assets(tmp_path)
    assert "run scripts/fetch-assets.sh" in caplog.text
    app = create_app(state=rt.state, assets=assets)
    resp = app.test_client().get("/")
    assert resp.status_code == 503
    assert "scripts/fetch-assets.sh" in resp.get_data(as_text=True)
    assert app.test_client().get("/api/health").status_code == 200


def test_healthz_reports_liveness(rt: Runtime) -> None:
    ok = create_app(state=rt.state, liveness=rt.liveness).test_client().get("/healthz")
    assert ok.status_code == 200 and ok.get_json()["status"] == "ok"

    class Failing:
        ok = False
        reasons = ("dispatch stalled: heartbeat not delivered for 9.0s",)

    bad = create_app(state=rt.state, liveness=Failing).test_client().get("/healthz")
    assert bad.status_code == 503
    assert bad.get_json()["reasons"] == list(Failing.reasons)


# -- /metrics ---------------------------------------------------------------------------------


def test_metrics_in_prometheus_text_format(client: FlaskClient, rt: Runtime) -> None:
    rt.emit(message.DeviceFailed("led", "status_led", "no GPIO"))
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(resp.get_data(as_text=True))
        for s in fam.samples
    }
    p = "bussdcc_system_"
    assert samples[(p + "cpu_usage_percent", (("mode", "busy"),))] == 12.5
    assert samples[(p + "memory_usage_percent", ())] == 42.1
    assert samples[(p + "disk_usage_percent", (("mountpoint", "/"),))] == 26.4
    assert samples[(p + "load_average", (("period", "5m"),))] == 0.61
    assert samples[(p + "temperature_celsius", (("zone", "cpu-thermal"),))] == 51.2
    assert samples[(p + "throttling_flag", (("flag", "under_voltage_occurred"),))] == 1
    assert samples[(p + "throttling_flag", (("flag", "under_voltage"),))] == 0
    assert samples[(p + "health_level", ())] == 1
    assert (
        samples[(p + "network_bytes_total", (("direction", "rx"), ("interface", "eth0")))]
        == 10 * 1024**3
    )
    assert samples[(p + "device_online", (("device", "led"), ("kind", "status_led")))] == 0
    assert json.loads(json.dumps(samples[(p + "process_resident_bytes", ())])) == 38 * 1024**2


def test_pages_and_json_are_gzipped_for_clients_that_accept_it(client: FlaskClient) -> None:
    resp = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert resp.headers["Content-Encoding"] == "gzip"
    assert b"3.2 GiB of 7.6 GiB" in gzip.decompress(resp.data)
    assert "Content-Encoding" not in client.get("/").headers
