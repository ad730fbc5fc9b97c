"""WebInterface: the dashboard as a bussdcc Interface.

``start`` binds the port synchronously and serves in a background thread; a port it
cannot have is a ``BindError`` naming the address and the reason, which fails the boot.
``deferred=True`` (the daemon) splits that: ``start`` only binds, and ``serve``, called
after ``READY=1``, loads Flask, builds the app and serves what waited in the backlog,
so start-up does not pay for the web stack. The journal records events from boot on
either way. ``handle_event`` runs on the dispatch
thread and only records and wakes (O(1), never blocks). ``stop`` closes the listener,
disconnects the browsers (they reconnect by themselves) and ends the broadcast
thread, each within a bounded time. ``apply_config`` takes a reloaded ``WebConfig``:
a new token or origin list applies at once, a new host or port rebinds. A reload binds
the new address before it changes anything and hands the listener over (``listener=``).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from bussdcc import Interface
from bussdcc_system.web.listener import BindError, bind_socket
from bussdcc_system.web.settings import WebSettings
from bussdcc_system.web.view import Journal

if TYPE_CHECKING:
    from flask import Flask

    from bussdcc import Context, Event, Message
    from bussdcc_system.config import WebConfig
    from bussdcc_system.web.core import Web
    from bussdcc_system.web.server import WebServer

log = logging.getLogger("bussdcc_system.web")

_UNSET: Any = object()


class WebInterface(Interface):
    """Flask + Socket.IO dashboard, JSON API and ``/metrics`` on ``host:port``."""

    name = "web"

    def __init__(
        self,
        config: WebConfig,
        *,
        history_dir: str | None = None,
        token: str | None = _UNSET,
        started_at: float | None = None,
        liveness: Callable[[], object] | None = None,
        degraded: Callable[[], Sequence[str]] | None = None,
        stop_timeout: float = 2.0,
        listener: socket.socket | None = None,
        deferred: bool = False,
    ) -> None:
        """``listener``: ``config``'s address, already bound (``bind_socket``), for
        ``start`` to serve on. ``deferred``: ``start`` binds only; ``serve`` serves."""
        self.config = config
        self._listener = listener
        self.history_dir = history_dir
        self.settings = WebSettings(
            token=config.token if token is _UNSET else token,
            allowed_origins=tuple(config.allowed_origins),
        )
        self.started_at = started_at if started_at is not None else time.time()
        self.liveness = liveness
        self.degraded = degraded
        self.stop_timeout = stop_timeout
        self.deferred = deferred
        self.journal = Journal()
        self.app: Flask | None = None
        self.web: Web | None = None
        self._server: WebServer | None = None
        self._lock = threading.RLock()
        self._ctx: Context | None = None

    # -- lifecycle (runtime thread) -------------------------------------------------------

    def attach(self, ctx: Context) -> None:
        self._ctx = ctx
        if self.app is None and not self.deferred:
            self._build(ctx)

    def _build(self, ctx: Context) -> None:
        from bussdcc_system.web.app import create_app
        from bussdcc_system.web.core import get_web

        self.app = create_app(
            state=ctx.state,
            settings=self.settings,
            history_dir=self.history_dir,
            emit=ctx.emit,
            liveness=self.liveness,
            degraded=self.degraded,
            started_at=self.started_at,
            journal=self.journal,
        )
        self.web = get_web(self.app)

    def start(self, ctx: Context) -> None:
        self._ctx = ctx
        if self.deferred and self.app is None:
            with self._lock:
                if self._listener is None:
                    self._listener = bind_socket(self.config.host, self.config.port)
            return
        self.serve()

    def serve(self) -> None:
        """Build the app (if ``deferred``), serve on the bound port, start pushing."""
        assert self._ctx is not None, "serve() before start()"
        if self.app is None:
            self._build(self._ctx)
            self._compile_templates()
        with self._lock:
            if self._server is None:
                listener, self._listener = self._listener, None
                self._server = self._serve(self.config.host, self.config.port, listener)
        assert self.web is not None
        self.web.bridge.start()

    def _compile_templates(self) -> None:
        """Now, not on the first request (jinja2 imports as it parses), and from the
        files of the version that is running (an upgrade replaces them)."""
        assert self.app is not None
        env = self.app.jinja_env
        for template in env.list_templates():
            env.get_template(template)

    def _serve(self, host: str, port: int, listener: socket.socket | None = None) -> WebServer:
        from bussdcc_system.web.server import WebServer

        assert self.app is not None
        # binds now (or raises BindError), unless given the listener
        server = WebServer(host, port, self.app, sock=listener)
        server.start()
        log.info("dashboard listening on %s", server.bound)
        return server

    def stop(self, ctx: Context | None = None) -> None:
        with self._lock:
            server, self._server = self._server, None
            if self._listener is not None:  # never started
                self._listener.close()
                self._listener = None
        if server is not None and not server.close(self.stop_timeout):
            log.warning("the web server thread did not stop within %.1fs", self.stop_timeout)
        self._disconnect_all()
        if self.web is not None and not self.web.bridge.stop(self.stop_timeout):
            log.warning("the dashboard push thread did not stop within %.1fs", self.stop_timeout)

    def _disconnect_all(self) -> None:
        """Close every Engine.IO session: browsers see the transport close and reconnect on
        their own (a Socket.IO-level disconnect would tell them not to). Never waits for
        a client to read the close packet: a vanished one never will."""
        if self.web is None:
            return
        eio = self.web.socketio.server.eio
        for sid, sock in list(eio.sockets.items()):
            try:
                sock.close(wait=False)
            except Exception as exc:  # pragma: no cover - a session closing under our feet
                log.debug("closing dashboard session %s: %r", sid, exc)
            eio.sockets.pop(sid, None)

    # -- dispatch thread: O(1), never blocks ------------------------------------------------

    def handle_event(self, ctx: Context, evt: Event[Message]) -> None:
        if self.journal.wants(evt):
            self.journal.add(evt)
        web = self.web
        if web is not None:
            web.bridge.notify()

    # -- reload -----------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int] | None:
        """Where the dashboard listens now (the real port when configured with 0)."""
        with self._lock:
            return (self._server.host, self._server.port) if self._server else None

    @property
    def url(self) -> str | None:
        with self._lock:
            return self._server.url if self._server else None

    def set_history_dir(self, directory: str | None) -> None:
        """Charts and episodes read history from ``directory`` from now on (a reload moved
        it)."""
        self.history_dir = directory
        if self.web is not None:
            self.web.history_dir = directory

    def apply_config(self, config: WebConfig, listener: socket.socket | None = None) -> None:
        """Apply a reloaded configuration. ``listener``: the new address, already bound
        (taken over). Without one a new address is bound here, and ``BindError`` if it
        cannot be had, with nothing changed (the old bind, token and origins kept)."""
        old = self.config
        with self._lock:
            moved = (config.host, config.port) != (old.host, old.port)
            if not moved or self._server is None:
                if listener is not None:
                    listener.close()
                self._apply_settings(config)
                return
            current = self._server
            try:
                new = self._serve(config.host, config.port, listener)
            except BindError:
                if config.port != current.port and config.port != 0:
                    raise
                # Same port on another address: the old wildcard bind may hold it.
                current.close(self.stop_timeout)
                self._server = None
                try:
                    new = self._serve(config.host, config.port)
                except BindError:
                    self._server = self._serve(old.host, current.port)
                    raise
            else:
                current.close(self.stop_timeout)
            self._server = new
            self._apply_settings(config)
        self._disconnect_all()
        log.info("dashboard moved to %s", new.bound)

    def _apply_settings(self, config: WebConfig) -> None:
        self.settings.token = config.token
        self.settings.allowed_origins = tuple(config.allowed_origins)
        self.config = config


__all__ = ["BindError", "WebInterface"]
