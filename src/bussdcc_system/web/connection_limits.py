"""How many connections the dashboard holds: per client address, in total, and within
the process's descriptor limit.

Werkzeug's threaded server gives every accepted connection a thread and keeps it for
as long as the client likes, so one LAN client with a thousand half-sent requests once
pinned a thousand threads and every file descriptor the daemon had (history then failed
with "too many open files"). ``LimitedWSGIServer`` counts open connections in the
accepting thread: one over a limit is answered ``503`` with ``Retry-After`` and closed
there, before any thread exists for it. When the total is reached, the oldest
connection still sending its request gives its slot to the new one, so half-sent
requests from many addresses cannot lock a browser out (``Admission``). The total is
capped below ``RLIMIT_NOFILE``, with descriptors kept free for history, the notify
socket and the rest of the daemon (``connection_budget``); the deadline that frees a
slot held by a half-sent request is ``request_deadline``'s.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from werkzeug.serving import ThreadedWSGIServer

from bussdcc_system.web.errors import error_document

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from werkzeug.serving import WSGIRequestHandler

log = logging.getLogger("bussdcc_system.web")

MAX_CONNECTIONS_PER_CLIENT: Final = 32
"""A browser opens at most 6 connections to a host plus its Socket.IO one: 32 leaves room
for several tabs and a kiosk behind one address."""
MAX_CONNECTIONS: Final = 128
"""Threads and descriptors a Pi can spare for the dashboard."""
REQUEST_TIMEOUT: Final = 10.0
"""Seconds a client has to send a request's headers and body (``request_deadline``)."""

WANTED_DESCRIPTORS: Final = 4096
"""The soft ``RLIMIT_NOFILE`` asked for when it is lower (systemd's default is 1024)."""
RESERVED_DESCRIPTORS: Final = 256
"""Kept free for history segments, the notify socket, device files and the like (at
most half the limit when the limit is very low)."""
DESCRIPTORS_PER_CONNECTION: Final = 2
"""The socket, and the selector werkzeug opens to drain a request or simple-websocket
holds for a WebSocket's lifetime."""

REFUSAL_LOG_INTERVAL: Final = 60.0
"""Seconds between two warnings about refused or evicted connections (a flood is one
line a minute)."""


@dataclass(frozen=True)
class ConnectionLimits:
    """The bounds a ``LimitedWSGIServer`` enforces (the module's constants by default)."""

    per_client: int = MAX_CONNECTIONS_PER_CLIENT
    total: int = MAX_CONNECTIONS
    request_timeout: float = REQUEST_TIMEOUT

    @property
    def retry_after(self) -> int:
        """Seconds after which a refused client may try again: by then every half-sent
        request that held a slot has been dropped."""
        return max(1, math.ceil(self.request_timeout))


def connection_budget() -> int:
    """How many connections the descriptor limit allows with the reserve kept free.

    Raises the soft ``RLIMIT_NOFILE`` towards ``WANTED_DESCRIPTORS`` (never above the hard
    limit) first: a process may do that on its own, and systemd's soft 1024 is what let
    a flood of connections starve history.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - not a POSIX system
        return MAX_CONNECTIONS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    unlimited = resource.RLIM_INFINITY
    if soft != unlimited and soft < WANTED_DESCRIPTORS:
        wanted = WANTED_DESCRIPTORS if hard == unlimited else min(hard, WANTED_DESCRIPTORS)
        if wanted > soft:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            except (ValueError, OSError) as exc:  # pragma: no cover - refused by the kernel
                log.debug("cannot raise the descriptor limit from %d to %d: %s", soft, wanted, exc)
            else:
                log.debug("raised the descriptor limit from %d to %d", soft, wanted)
                soft = wanted
    if soft == unlimited:
        return MAX_CONNECTIONS * 1000
    reserved = min(RESERVED_DESCRIPTORS, soft // 2)
    return max(1, (soft - reserved) // DESCRIPTORS_PER_CONNECTION)


class _Connection:
    __slots__ = ("client", "sock")

    def __init__(self, client: str, sock: socket.socket) -> None:
        self.client = client
        self.sock = sock


class Admission:
    """Counts open connections per client address and in total (thread-safe).

    When the total is reached, a new connection takes the slot of the oldest one still
    sending its request (``reading``; a browser's request is in within milliseconds, a
    half-sent one never is): its socket is shut down and its thread ends. Only when no
    connection is still reading (all are being served: long-polls, WebSockets,
    responses), or as many evicted ones as ``total`` have not finished yet (each holds
    its descriptor until its thread ends), is the new one refused. A client at its own
    limit is always refused. ``peak``, ``peak_per_client``, ``refused`` and ``evicted``
    count what happened.
    """

    def __init__(self, per_client: int, total: int) -> None:
        self.per_client = per_client
        self.total = total
        self._open: dict[str, int] = {}
        self._held: dict[socket.socket, _Connection] = {}
        self._reading: dict[socket.socket, _Connection] = {}  # oldest first
        self._evicted: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.refused = 0
        self.evicted = 0
        self.peak = 0
        self.peak_per_client = 0

    def admit(self, client: str, sock: socket.socket) -> str | None:
        """None and one more open connection for ``client``, or why it is refused."""
        victim = None
        with self._lock:
            held = self._open.get(client, 0)
            if held >= self.per_client:
                self.refused += 1
                return f"{client} has {held} connections open, the limit for one client"
            if len(self._held) >= self.total:
                if not self._reading or len(self._evicted) >= self.total:
                    self.refused += 1
                    return f"the dashboard has {len(self._held)} connections open, its limit"
                victim = self._reading[next(iter(self._reading))]
                self._forget(victim.sock)
                self._evicted.add(victim.sock)
                self.evicted += 1
            conn = _Connection(client, sock)
            self._held[sock] = self._reading[sock] = conn
            self._open[client] = held = held + 1
            self.peak = max(self.peak, len(self._held))
            self.peak_per_client = max(self.peak_per_client, held)
        if victim is not None:
            with contextlib.suppress(OSError):  # its thread's read returns: it ends
                victim.sock.shutdown(socket.SHUT_RDWR)
        return None

    def was_evicted(self, sock: socket.socket) -> bool:
        with self._lock:
            return sock in self._evicted

    def request_read(self, sock: socket.socket) -> None:
        """The connection's request is in: it is being served, no longer evictable."""
        with self._lock:
            self._reading.pop(sock, None)

    def release(self, sock: socket.socket) -> None:
        """The connection is closed (its thread has ended)."""
        with self._lock:
            if sock in self._evicted:
                self._evicted.discard(sock)
            else:
                self._forget(sock)

    def _forget(self, sock: socket.socket) -> None:
        conn = self._held.pop(sock, None)
        self._reading.pop(sock, None)
        if conn is None:
            return
        held = self._open.get(conn.client, 0) - 1
        if held > 0:
            self._open[conn.client] = held
        else:
            self._open.pop(conn.client, None)

    def open_connections(self, client: str | None = None) -> int:
        with self._lock:
            return len(self._held) if client is None else self._open.get(client, 0)

    def reading_connections(self) -> int:
        """Connections still sending their request (the evictable ones)."""
        with self._lock:
            return len(self._reading)


def refusal(reason: str, retry_after: int) -> bytes:
    """The whole ``503`` answer to a refused connection, JSON as every API error is."""
    body = json.dumps(
        error_document(503, "Service Unavailable", f"{reason}; try again in {retry_after} s")
    ).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Retry-After: {retry_after}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def _client_of(address: Any) -> str:
    return str(address[0]) if isinstance(address, tuple) and address else str(address)


class LimitedWSGIServer(ThreadedWSGIServer):
    """Werkzeug's threaded server with ``ConnectionLimits``: a connection over a limit is
    refused in the accepting thread, so a flood costs no thread and holds no descriptor."""

    def __init__(
        self,
        host: str,
        port: int,
        app: WSGIApplication,
        *,
        handler: type[WSGIRequestHandler],
        fd: int,
        limits: ConnectionLimits,
    ) -> None:
        super().__init__(host, port, app, handler=handler, fd=fd)
        # Half the budget: an evicted connection holds its descriptors until its thread ends.
        total = max(1, min(limits.total, connection_budget() // 2))
        if total < limits.total:
            log.warning(
                "the descriptor limit allows %d dashboard connections, not %d "
                "(descriptors are kept free for history and systemd)",
                total,
                limits.total,
            )
        self.limits = limits
        self.request_timeout: float | None = limits.request_timeout
        self.admission = Admission(limits.per_client, total)
        self._logged = (0, 0)  # refused, evicted as of the last warning
        self._logged_at = -math.inf

    def verify_request(self, request: Any, client_address: Any) -> bool:
        evicted = self.admission.evicted
        reason = self.admission.admit(_client_of(client_address), request)
        if reason is None:
            if self.admission.evicted != evicted:
                self._warn(
                    f"the dashboard is full ({self.admission.total} connections): requests "
                    "still being sent give their slots to new connections"
                )
            return True
        self._refuse(request, reason)
        return False  # socketserver closes it: no thread was started

    def _warn(self, what: str) -> None:
        """One warning a minute at most, with what happened since the last one."""
        now = time.monotonic()
        if now - self._logged_at < REFUSAL_LOG_INTERVAL:
            return
        refused, evicted = self.admission.refused, self.admission.evicted
        log.warning(
            "%s; since the last such warning: %d refused, %d evicted",
            what,
            refused - self._logged[0],
            evicted - self._logged[1],
        )
        self._logged = (refused, evicted)
        self._logged_at = now

    def _refuse(self, request: socket.socket, reason: str) -> None:
        # Never blocks: a client that is gone or does not read is only closed.
        with contextlib.suppress(OSError):
            request.setblocking(False)
            with contextlib.suppress(OSError):
                request.recv(65536)  # what has arrived: closing on unread data resets
            request.send(refusal(reason, self.limits.retry_after))
        self._warn(f"refusing dashboard connections: {reason}")

    def process_request(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.admission.release(request)  # no thread will
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.admission.release(request)

    def request_read(self, request: socket.socket) -> None:
        """Called by the handler once the request is in (``request_deadline``)."""
        self.admission.request_read(request)

    def evicted(self, request: socket.socket) -> bool:
        """Whether the connection was shut down to give its slot to another."""
        return self.admission.was_evicted(request)
