"""A stalled client (a long-polling client that stops polling, a WebSocket that stops
reading) neither delays dispatch nor the other clients, and when it comes back it gets
the latest values, not the backlog."""

from __future__ import annotations

import importlib.util
import json
import re
from typing import Any

import pytest
import requests
import websocket
from test_web_socketio import Client, close_all
from web_helpers import WebRig, wait_for

from bussdcc_system import messages as m

EVENTS = 200


def process_usage(i: int) -> m.ProcessUsageUpdated:
    return m.ProcessUsageUpdated(pid=1, cpu_percent=float(i), rss=1 << 20, threads=3)


def parse(text: str) -> list[str]:
    return [p for p in text.split("\x1e") if p]


def pushes(packets: list[str]) -> list[tuple[int, dict[str, Any]]]:
    """(ack id, patch) of every ``"s"`` event packet."""
    out = []
    for p in packets:
        found = re.match(r'^42(\d+)\["s",(.*)\]$', p, re.S)
        if found:
            out.append((int(found.group(1)), json.loads(found.group(2))))
    return out


class RawPolling:
    """Engine.IO v4 long-polling by hand, so the test decides when (not) to poll."""

    def __init__(self, url: str) -> None:
        self.base = f"{url}/socket.io/?EIO=4&transport=polling"
        self.http = requests.Session()
        first = self.http.get(self.base, timeout=5).text
        assert first.startswith("0")
        self.sid = json.loads(first[1:])["sid"]
        self.url = f"{self.base}&sid={self.sid}"
        self.post("40")
        assert any(p.startswith("40") for p in self.poll())
        self.post('421["hello"]')
        hello = [p for p in self.poll() if p.startswith("431")]
        assert hello, "no hello acknowledgement"

    def post(self, body: str) -> None:
        assert self.http.post(self.url, data=body.encode(), timeout=5).text.lower() == "ok"

    def poll(self) -> list[str]:
        packets = parse(self.http.get(self.url, timeout=15).text)
        for p in packets:
            if p == "2":
                self.post("3")
        return packets


def first_push_in_flight(rig: WebRig) -> None:
    """Emit event 0 and wait until the bridge has pushed it (to the only client)."""
    assert rig.web.web is not None
    bridge = rig.web.web.bridge
    before = bridge.stats().pushes
    rig.rt.emit(process_usage(0))
    wait_for(lambda: bridge.stats().pushes > before, what="the push of event 0")


def flood(rig: WebRig, good: Client) -> None:
    for i in range(1, EVENTS + 1):
        rig.rt.emit(process_usage(i))  # returns at once: dispatch never waits for a browser
        if i % 20 == 0:
            wait_for(
                lambda i=i: good.get("self.cpu") == f"{i:.1f} % of one core",
                what=f"the good client to see event {i}",
            )


def test_a_long_polling_client_that_stops_polling(rig: WebRig) -> None:
    stalled = RawPolling(rig.url)
    first_push_in_flight(rig)  # ...and the client stops polling
    good = Client(rig.url)
    try:
        flood(rig, good)
        # Back to polling: the one push sent before it stalled was waiting, nothing more.
        waiting = pushes(stalled.poll())
        assert [p["c"]["self.cpu"] for _, p in waiting] == ["0.0 % of one core"]
        stalled.post(f"43{waiting[0][0]}[]")
        latest: list[tuple[int, dict[str, Any]]] = []
        wait_for(lambda: latest.extend(pushes(stalled.poll())) or latest, what="catch-up push")
        # One patch, straight to the latest values.
        assert [p["c"]["self.cpu"] for _, p in latest] == [f"{EVENTS:.1f} % of one core"]
    finally:
        close_all([good])


def test_a_websocket_that_stops_reading(rig: WebRig) -> None:
    if importlib.util.find_spec("simple_websocket") is None:
        pytest.skip("no simple-websocket (as on Debian 12): the server offers long-polling only")
    url = rig.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    ws = websocket.create_connection(url, timeout=10)
    try:
        assert ws.recv().startswith("0")
        ws.send("40")
        assert ws.recv().startswith("40")
        ws.send('421["hello"]')
        assert ws.recv().startswith("431")
        first_push_in_flight(rig)  # ...and the client reads no more
        good = Client(rig.url)
        try:
            flood(rig, good)
        finally:
            close_all([good])

        def next_push() -> tuple[int, dict[str, Any]]:
            while True:
                frame = ws.recv()
                if frame == "2":
                    ws.send("3")
                    continue
                found = pushes([frame])
                if found:
                    return found[0]

        ack_id, first = next_push()
        assert first["c"]["self.cpu"] == "0.0 % of one core"
        ws.send(f"43{ack_id}[]")
        _ack2, second = next_push()
        assert second["c"]["self.cpu"] == f"{EVENTS:.1f} % of one core"
    finally:
        ws.close()
