"""A hostile LAN client cannot take the dashboard down: connections are limited per
client and in total, a request must arrive within its deadline, and descriptors stay
free for history. Each test runs the real server in a child process
(``hostile_clients.ServedApp``) and attacks it over real loopback sockets, from source
addresses 127.0.0.2 and up; the test's own clients come from 127.0.0.1."""

from __future__ import annotations

import importlib.util
import json
import re
import resource
import select
import socket
import time
from pathlib import Path

import pytest
from hostile_clients import (
    HalfSentRequests,
    HealthzProbe,
    ProcessSampler,
    ServedApp,
    attacker_addresses,
)
from test_web_socketio import Client, close_all
from web_helpers import wait_for

from bussdcc_system.web.connection_limits import (
    DESCRIPTORS_PER_CONNECTION,
    MAX_CONNECTIONS_PER_CLIENT,
    RESERVED_DESCRIPTORS,
    WANTED_DESCRIPTORS,
)

pytestmark = pytest.mark.slow

TIMEOUT = 1.0
"""The request deadline in these tests (the default is 10 s)."""
TOKEN = "hostile-test-token-0123456789"


@pytest.fixture(autouse=True)
def enough_descriptors_for_the_attacker() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))
    elif soft < 4096:
        pytest.skip(f"the test needs 4096 descriptors for its attacker, the limit is {hard}")


def websocket_served() -> bool:
    return importlib.util.find_spec("simple_websocket") is not None


def read_answer(sock: socket.socket, within: float = 10.0) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(within)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def json_error(answer: bytes, status: int) -> dict[str, object]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), head
    assert b"content-type: application/json" in head.lower()
    doc: dict[str, object] = json.loads(body)
    assert set(doc) == {"error", "message", "status"} and doc["status"] == status
    return doc


@pytest.mark.parametrize(
    ("addresses", "connections"),
    [(1, 1100), (40, 1280)],
    ids=["one client, 1100 requests", "40 clients, 32 requests each"],
)
def test_half_sent_requests_cannot_take_the_dashboard(
    tmp_path: Path, addresses: int, connections: int
) -> None:
    with ServedApp(timeout=TIMEOUT, log=tmp_path / "server.log") as app:
        # The soft descriptor limit was 1024 (systemd's default); the server raised it.
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        assert app.nofile >= min(WANTED_DESCRIPTORS, hard)
        base_fds, base_threads = app.fds(), app.threads()
        clients = [Client(app.url, transports=["polling"])]
        if websocket_served():
            clients.append(Client(app.url, transports=["websocket"]))
        sids = [c.sio.get_sid() for c in clients]
        attack = HalfSentRequests(app.port, attacker_addresses(addresses))
        probe = HealthzProbe(app.port).start()
        sampler = ProcessSampler(app).start()
        try:
            assert attack.open(connections, within=60) == connections
            # Held for three deadlines, reopened as the server drops them; the dashboards
            # sit idle meanwhile (a long-poll waits for a push, a WebSocket reads nothing).
            attack.sustain(3 * TIMEOUT, max_connects=10_000)
            late = Client(app.url, transports=["polling"])  # a browser arriving now
            clients.append(late)
            app.push(7)
            for c in clients:
                wait_for(lambda c=c: c.get("self.cpu") == "7.0 % of one core", what="the push")
            assert [c.sio.get_sid() for c in clients[: len(sids)]] == sids  # no reconnect
            assert all(c.sio.connected for c in clients)
        finally:
            probe.stop()
            sampler.stop()
            close_all(clients)
        # Every half-sent request the server accepted was dropped at its deadline.
        assert attack.wait_all_closed(within=5 * TIMEOUT + 5) == 0
        stats = app.stats()
        attack.close()
    print(
        f"\n/healthz answered {len(probe.latencies)} times while {attack.connects} "
        f"half-sent requests were made ({attack.refused} refused with 503); worst "
        f"{probe.worst * 1000:.1f} ms; peak {sampler.peak_fds} descriptors "
        f"({base_fds} before), {sampler.peak_threads} threads; {stats}"
    )
    assert probe.latencies and not probe.failures
    assert set(probe.statuses) == {200}
    assert not attack.failed_connects
    # Connections held, and as many evicted ones ending: each a socket and a selector.
    cap = 2 * DESCRIPTORS_PER_CONNECTION * app.max_connections
    assert sampler.peak_fds <= min(base_fds + cap, app.nofile - RESERVED_DESCRIPTORS)
    assert sampler.peak_threads <= base_threads + 2 * app.max_connections
    assert stats["peak_per_client"] <= MAX_CONNECTIONS_PER_CLIENT
    if addresses == 1:
        assert stats["peak_per_client"] == MAX_CONNECTIONS_PER_CLIENT
        assert attack.refused > 0
    else:  # the total was reached: half-sent requests gave their slots to newcomers
        assert stats["peak_connections"] == app.max_connections and stats["evicted"] > 0
    assert stats["open_failures"] == 0, stats


def test_a_request_that_trickles_in_is_dropped_at_its_deadline(tmp_path: Path) -> None:
    with ServedApp(timeout=TIMEOUT, token=TOKEN, log=tmp_path / "server.log") as app:
        # Headers, one byte every 50 ms (each read arrives well within any per-read
        # timeout): the connection is closed long before the 200 bytes are sent.
        with socket.create_connection(("127.0.0.1", app.port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            sent = 0
            while sent < 200 and not select.select([sock], [], [], 0.05)[0]:
                sock.sendall(b"a")
                sent += 1
            assert read_answer(sock) == b""
            assert sent < 200
        # A body, one byte every 50 ms: answered 408 in the API's words.
        with socket.create_connection(("127.0.0.1", app.port), timeout=10) as sock:
            sock.sendall(
                b"POST /api/led/test HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Authorization: Bearer " + TOKEN.encode() + b"\r\nContent-Length: 200\r\n\r\n"
            )
            sent = 0
            while sent < 200 and not select.select([sock], [], [], 0.05)[0]:
                sock.sendall(b" ")
                sent += 1
            doc = json_error(read_answer(sock), 408)
            assert sent < 200
        assert doc["message"] == "the request body was not sent in time; send it again"
        # A client that takes its time but not too long is served (each new request gets
        # a full deadline).
        with socket.create_connection(("127.0.0.1", app.port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            time.sleep(TIMEOUT / 4)
            sock.sendall(b"\r\n")
            assert read_answer(sock).startswith(b"HTTP/1.1 200 ")


def engineio_session(port: int) -> str:
    """A new Engine.IO session's id (the handshake of a long-polling client)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
        opened = re.search(rb'0(\{"sid".*?\})', read_answer(sock))  # in a chunked answer
    assert opened is not None
    sid: str = json.loads(opened.group(1))["sid"]
    return sid


def long_poll(port: int, source: str, sid: str) -> socket.socket:
    """The session's long-poll from ``source``, held by the server until its next ping
    (10 s): a connection being served, not one still sending its request."""
    sock = socket.socket()
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        f"GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    )
    return sock


def test_connections_over_the_limits_are_refused_with_503_and_retry_after(
    tmp_path: Path,
) -> None:
    with ServedApp(per_client=4, total=16, timeout=2.0, log=tmp_path / "server.log") as app:
        # One client at its own limit is refused; the others are served.
        one = HalfSentRequests(app.port, attacker_addresses(1, first=20))
        one.open(4, within=10)
        wait_for(lambda: app.stats()["open_connections"] == 4, what="4 held")
        over = socket.socket()
        over.bind((one.sources[0], 0))
        over.connect(("127.0.0.1", app.port))
        with over:  # sends nothing: the whole answer is read before the close
            answer = read_answer(over)
        doc = json_error(answer, 503)
        assert b"\r\nRetry-After: 2\r\n" in answer
        assert doc["message"] == (
            f"{one.sources[0]} has 4 connections open, the limit for one client; try again in 2 s"
        )
        with socket.create_connection(("127.0.0.1", app.port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_answer(sock).startswith(b"HTTP/1.1 200 ")
        assert one.wait_all_closed(within=10) == 0
        one.close()
        # Sixteen connections being served (long-polls from four addresses): the next
        # one is refused, whoever it is from.
        sids = [engineio_session(app.port) for _ in range(16)]
        wait_for(lambda: app.stats()["open_connections"] == 0, what="the handshakes closed")
        sources = [a for a in attacker_addresses(4) for _ in range(4)]
        polls = [long_poll(app.port, a, sid) for a, sid in zip(sources, sids, strict=True)]
        try:
            wait_for(
                lambda: (
                    (app.stats()["open_connections"], app.stats()["reading_connections"]) == (16, 0)
                ),
                what="16 long-polls being served",
            )
            with socket.create_connection(("127.0.0.1", app.port), timeout=10) as sock:
                answer = read_answer(sock)
            doc = json_error(answer, 503)
            assert doc["message"] == (
                "the dashboard has 16 connections open, its limit; try again in 2 s"
            )
        finally:
            for sock in polls:
                sock.close()
        wait_for(lambda: app.stats()["open_connections"] == 0, what="the long-polls closed")
        # Sixteen half-sent requests: the newcomer takes the oldest one's slot.
        crowd = HalfSentRequests(app.port, attacker_addresses(10))
        crowd.open(40, within=30)
        wait_for(lambda: app.stats()["open_connections"] == 16, what="16 half-sent")
        with socket.create_connection(("127.0.0.1", app.port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_answer(sock).startswith(b"HTTP/1.1 200 ")
        assert app.stats()["evicted"] >= 1
        assert crowd.wait_all_closed(within=10) == 0
        crowd.close()
        assert app.stats()["peak_connections"] == 16
    # The journal says it once (a minute), in words.
    assert (tmp_path / "server.log").read_text().splitlines() == [
        f"refusing dashboard connections: {one.sources[0]} has 4 connections open, the limit "
        "for one client; since the last such warning: 1 refused, 0 evicted"
    ]


def test_descriptors_stay_free_for_history_under_a_low_limit(tmp_path: Path) -> None:
    # A hard limit of 300 cannot be raised: the server admits fewer connections instead.
    with ServedApp(timeout=2.0, nofile="300:300", log=tmp_path / "server.log") as app:
        assert app.nofile == 300
        assert app.max_connections == (300 - 150) // DESCRIPTORS_PER_CONNECTION // 2
        before = app.stats()["opens"]
        sampler = ProcessSampler(app).start()
        crowd = HalfSentRequests(app.port, attacker_addresses(40))
        try:
            crowd.open(1280, within=60)  # 32 from each of 40 addresses
            wait_for(
                lambda: app.stats()["open_connections"] == app.max_connections,
                what="the server full",
            )
            during = app.stats()
            assert crowd.wait_all_closed(within=15) == 0
        finally:
            sampler.stop()
            crowd.close()
        after = app.stats()
        with socket.create_connection(("127.0.0.1", app.port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_answer(sock).startswith(b"HTTP/1.1 200 ")
    print(f"\npeak {sampler.peak_fds} of 300 descriptors; {after}")
    # The stand-in for history and sd_notify opened a file and a socket every 10 ms
    # throughout, and not one open failed.
    assert during["opens"] > before and after["open_failures"] == 0, after
    assert after["peak_connections"] == app.max_connections
    assert sampler.peak_fds < 300 - 64
