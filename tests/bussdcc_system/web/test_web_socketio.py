"""Real Socket.IO clients against a real WebInterface on a real runtime."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
from web_helpers import WebRig, make_rig, wait_for

from bussdcc_system import messages as m


class Client:
    """A python-socketio client that records every patch and acknowledges it."""

    def __init__(self, url: str, transports: list[str] | None = None) -> None:
        self.patches: list[dict[str, Any]] = []
        self.view: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("s", self._on_patch)
        self.sio.connect(url, transports=transports or ["polling", "websocket"], wait_timeout=10)
        hello = self.sio.call("hello", timeout=10)
        self.build = hello["build"]
        self.view = dict(hello["view"])

    def _on_patch(self, patch: dict[str, Any]) -> bool:
        with self.lock:
            self.patches.append(patch)
            self.view.update(patch["c"])
            for k in patch.get("r", []):
                self.view.pop(k, None)
        return True  # the acknowledgement

    def get(self, key: str) -> Any:
        with self.lock:
            return self.view.get(key)

    def close(self) -> None:
        self.sio.disconnect()


def close_all(clients: list[Client]) -> None:
    """Disconnect in parallel (python-socketio's WebSocket close waits up to 3 s for the
    close frame in the client library)."""
    threads = [threading.Thread(target=c.close) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)


@pytest.fixture
def client(rig: WebRig) -> Iterator[Client]:
    c = Client(rig.url)
    yield c
    c.close()


def test_hello_is_the_whole_dashboard(rig: WebRig, client: Client) -> None:
    assert client.build
    assert client.view["mem.text"] == "3.2 GiB of 7.6 GiB"
    assert client.view["temp.text"] == "51.2 °C"
    assert client.view["id.up"] == "up 4 days"


def test_pushes_carry_only_what_changed(rig: WebRig, client: Client) -> None:
    rig.rt.emit(m.TemperatureUpdated(device="cpu_thermal", zone="cpu-thermal", celsius=63.4))
    wait_for(lambda: client.get("temp.text") == "63.4 °C", what="the temperature push")
    with client.lock:
        patch = next(p for p in client.patches if "temp.text" in p["c"])
    assert "mem.text" not in patch["c"] and "id.host" not in patch["c"]
    assert set(patch["c"]) <= {"t", "temp.text", "temp.m", "c.temp"}


def test_health_changes_arrive_with_reasons_in_words(rig: WebRig, client: Client) -> None:
    rig.rt.emit(m.TemperatureUpdated(device="cpu_thermal", zone="cpu-thermal", celsius=85.0))
    wait_for(lambda: client.get("h.level") == "critical", what="critical health")
    reasons = client.get("h.reasons")
    assert any("85.0 °C" in r for r in reasons), reasons
    wait_for(
        lambda: any(
            sev == "error" and text.startswith("Health went warning → critical: CPU temperature")
            for _when, sev, text in client.get("log")
        ),
        what="the event log line",
    )


def test_many_clients_all_converge_on_the_latest_values(rig: WebRig) -> None:
    clients = [Client(rig.url) for _ in range(8)]
    try:
        for i in range(40):
            rig.rt.emit(m.ProcessUsageUpdated(pid=1, cpu_percent=float(i), rss=1 << 20, threads=3))
        for c in clients:
            wait_for(lambda c=c: c.get("self.cpu") == "39.0 % of one core", what="convergence")
            assert len(c.patches) <= 40
    finally:
        close_all(clients)


def _handshake(url: str, origin: str | None) -> requests.Response:
    headers = {"Origin": origin} if origin else {}
    return requests.get(f"{url}/socket.io/?EIO=4&transport=polling", headers=headers, timeout=5)


def test_socketio_accepts_only_same_origin_browsers(rig: WebRig) -> None:
    evil = _handshake(rig.url, "http://evil.example")
    assert evil.status_code == 403
    assert "origin not allowed" in evil.json()["message"]
    assert _handshake(rig.url, rig.url).status_code == 200
    assert _handshake(rig.url, None).status_code == 200  # not a browser


def test_allowed_origins_from_the_config(tmp_path: Path) -> None:
    r = make_rig(tmp_path, allowed_origins=("http://ops.example:3000",))
    try:
        assert _handshake(r.url, "http://ops.example:3000").status_code == 200
        assert _handshake(r.url, "http://evil.example").status_code == 403
    finally:
        r.rt.stop(timeout=10)


def test_stopping_the_runtime_disconnects_clients(tmp_path: Path) -> None:
    r = make_rig(tmp_path)
    url = r.url
    c = Client(url)
    gone = threading.Event()
    c.sio.on("disconnect", lambda *a: gone.set())
    r.rt.stop(timeout=10)
    assert gone.wait(15)
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/healthz", timeout=2)


def test_patch_format_is_compact_json(rig: WebRig, client: Client) -> None:
    rig.rt.emit(m.LoadUpdated(1.5, 1.0, 0.5, 0.375, 0.25, 0.125, 4))
    wait_for(lambda: client.get("load.text") == "1.50 · 1.00 · 0.50", what="load push")
    with client.lock:
        patch = next(p for p in client.patches if "load.text" in p["c"])
    assert len(json.dumps(patch, separators=(",", ":"), ensure_ascii=False)) < 200


def test_connected_dashboards_are_counted_in_the_state(rig: WebRig) -> None:
    """``web.clients``: what tells the process-list sampler that someone is watching."""
    from bussdcc_system.state import WEB_CLIENTS

    assert rig.rt.state.get(WEB_CLIENTS) is None  # nobody has connected yet
    clients = [Client(rig.url), Client(rig.url)]
    try:
        assert rig.rt.state.get(WEB_CLIENTS) == 2
        clients[0].close()
        wait_for(lambda: rig.rt.state.get(WEB_CLIENTS) == 1, what="one dashboard gone")
    finally:
        close_all(clients[1:])
    wait_for(lambda: rig.rt.state.get(WEB_CLIENTS) == 0, what="every dashboard gone")
