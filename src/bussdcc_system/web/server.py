"""The HTTP server: a socket bound synchronously, served by werkzeug in one thread.

The port is bound in the constructor (or earlier, by ``listener.bind_socket``, which the
daemon does during boot), and a port in use is a clear error at boot, not a ``sys.exit`` from inside
werkzeug (which newer werkzeug does when *it* binds). Requests run in daemon threads
(werkzeug's threaded server), which Flask-SocketIO's "threading" mode needs; access logs
are dropped and werkzeug's own messages go to this module's logger. A hostile client
is bounded by ``ConnectionLimits`` (``connection_limits``: connections per client and
in total, refused without a thread) and ``request_deadline`` (headers and body in time).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from typing import TYPE_CHECKING, Any

from bussdcc_system.web.connection_limits import (
    Admission,
    ConnectionLimits,
    LimitedWSGIServer,
)
from bussdcc_system.web.listener import BindError, bind_socket
from bussdcc_system.web.request_deadline import DeadlineRequestHandler

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

log = logging.getLogger("bussdcc_system.web")


class _Handler(DeadlineRequestHandler):
    """No access log (the journal is not a web log). What werkzeug says about one
    connection (bad request syntax, a WebSocket's close frame read as a request) is the
    client's business: debug level."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None

    def log(self, type: str, message: str, *args: Any) -> None:
        log.debug("%s: " + message.rstrip(), self.address_string(), *args)


class _Server(LimitedWSGIServer):
    def log(self, type: str, message: str, *args: Any) -> None:
        log.log(logging.DEBUG if type == "info" else logging.ERROR, message.rstrip(), *args)


class WebServer:
    """One bound address serving one WSGI app until ``close``, within ``limits``."""

    def __init__(
        self,
        host: str,
        port: int,
        app: WSGIApplication,
        *,
        sock: socket.socket | None = None,
        limits: ConnectionLimits | None = None,
    ) -> None:
        """``sock``: a listener ``bind_socket`` made earlier (a reload binds before it
        commits); the server takes it over. Without one, ``host:port`` is bound now."""
        self.host = host
        sock = bind_socket(host, port) if sock is None else sock
        try:
            self._server = _Server(
                host,
                port,
                app,
                handler=_Handler,
                fd=sock.fileno(),
                limits=limits if limits is not None else ConnectionLimits(),
            )
        finally:
            sock.close()  # the server holds its own duplicate of the descriptor
        self.port: int = self._server.port
        self._thread: threading.Thread | None = None

    @property
    def admission(self) -> Admission:
        """The connections held now, refused so far, and the total admitted (``limits.total``
        or fewer when descriptors are short)."""
        return self._server.admission

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        host = "[::1]" if host == "::" else (f"[{host}]" if ":" in host else host)
        return f"http://{host}:{self.port}"

    @property
    def bound(self) -> str:
        """The address the socket is bound to (``0.0.0.0:8086``), as the journal says it."""
        host, port = self._server.socket.getsockname()[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    POLL_INTERVAL = 5.0
    """How often the idle server thread wakes up by itself: ``close`` wakes it (it shuts the
    listening socket down), so this is only a fallback, not a 5-per-second idle cost."""

    def start(self) -> None:
        thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": self.POLL_INTERVAL},
            name=f"web:{self.port}",
            daemon=True,
        )
        self._thread = thread
        thread.start()

    def close(self, timeout: float = 2.0) -> bool:
        """Stop accepting and release the port; False if the serving thread lingers."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            # serve_forever looks at the shutdown flag when its select() returns, and a
            # listening socket shut down is readable at once (accept then fails: ignored).
            stopper = threading.Thread(target=self._server.shutdown, daemon=True)
            stopper.start()
            with contextlib.suppress(OSError):
                self._server.socket.shutdown(socket.SHUT_RDWR)
            stopper.join(timeout)
            thread.join(timeout)
        self._server.server_close()
        return thread is None or not thread.is_alive()


__all__ = ["BindError", "WebServer", "bind_socket"]
