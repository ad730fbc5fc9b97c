"""A deadline for a request's headers and body, and none after them.

A per-read socket timeout does not stop a slowloris (one byte every few seconds resets
it), so every read of a request, from its first byte to the end of its body, must end
by one deadline counted from the request's start; a client that misses it is dropped
(``RequestTimeout``). The deadline governs reads through the handler's ``rfile`` only,
and the socket's own timeout is restored after each of them: a long-poll that waits 25 s
for a push, or a WebSocket that lives for hours on the raw socket after its handshake,
is never cut by it. The handler also tells the server when a request is in
(``request_read``): until then the connection is one a full server may evict.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from werkzeug.serving import WSGIRequestHandler

if TYPE_CHECKING:
    import socket

    from _typeshed import WriteableBuffer


class RequestTimeout(TimeoutError):
    """The client did not send its request's headers and body in time."""


class DeadlineReader(io.RawIOBase):
    """Reads ``raw`` (the socket's reader), each read bounded by what is left until
    ``deadline`` (``time.monotonic`` seconds; None: no bound). The end of the stream is
    ``ConnectionAbortedError`` when ``evicted()`` says the server shut the socket down:
    what was read of the request is not one to answer."""

    def __init__(
        self,
        raw: io.RawIOBase,
        sock: socket.socket,
        evicted: Callable[[], bool] = lambda: False,
    ) -> None:
        super().__init__()
        self._raw = raw
        self._sock = sock
        self._evicted = evicted
        self.deadline: float | None = None

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()  # the socket closes for real once its readers have
        super().close()

    def readinto(self, buffer: WriteableBuffer) -> int | None:
        read = self._read(buffer)
        if read == 0 and self._evicted():
            raise ConnectionAbortedError("evicted: the server needed the slot")
        return read

    def _read(self, buffer: WriteableBuffer) -> int | None:
        if self.deadline is None:
            return self._raw.readinto(buffer)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise RequestTimeout("the request was not sent in time")
        previous = self._sock.gettimeout()
        self._sock.settimeout(remaining)
        try:
            return self._raw.readinto(buffer)
        except TimeoutError as exc:
            raise RequestTimeout("the request was not sent in time") from exc
        finally:
            self._sock.settimeout(previous)


class DeadlineRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler reading each request under ``server.request_timeout`` seconds
    (an attribute of the server; absent or None: no deadline). Once the request is in
    (its headers, when it has no body; else when the answer starts) it calls
    ``server.request_read(socket)`` if the server has one: the connection is being
    served from then on. ``server.evicted(socket)``, if the server has one, tells an
    eviction from a client's end of stream."""

    _reader: DeadlineReader
    _read_reported = False

    def setup(self) -> None:
        super().setup()
        # Take over socketserver's raw reader (it holds a reference that keeps the socket
        # open while a request is read, as before) and read it under the deadline.
        raw = self.rfile.detach()
        evicted = getattr(self.server, "evicted", None)
        sock = self.request
        self._reader = DeadlineReader(
            raw, self.connection, (lambda: bool(evicted(sock))) if evicted else (lambda: False)
        )
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        timeout: float | None = getattr(self.server, "request_timeout", None)
        self._reader.deadline = None if timeout is None else time.monotonic() + timeout
        self._read_reported = False
        super().handle_one_request()

    def parse_request(self) -> bool:
        parsed = super().parse_request()
        if parsed and not self._has_body():
            self._request_read()
        return parsed

    def send_response(self, code: int, message: str | None = None) -> None:
        self._request_read()
        super().send_response(code, message)

    def _has_body(self) -> bool:
        length = self.headers.get("Content-Length", "").strip()
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        return chunked or length not in ("", "0")

    def _request_read(self) -> None:
        if self._read_reported:
            return
        self._read_reported = True
        report = getattr(self.server, "request_read", None)
        if report is not None:
            report(self.request)
