"""The Flask app factory: assembles the pages, the API, ``/metrics``, Socket.IO, JSON
errors and security headers around one ``StateStore``.

``create_app`` builds the ``Web`` object (``core.py``) and registers the routes of
``pages.py``, ``api.py`` and ``prometheus.py``, which read only that object; it binds
nothing (``WebInterface`` owns the server). Pages render the current view on the
server, so the first paint is complete before the first push; Socket.IO
(Flask-SocketIO in "threading" mode) then keeps it current through the ``Bridge``.
"""

from __future__ import annotations

import gzip
import importlib.util
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, abort, request
from flask_socketio import SocketIO

from bussdcc import Message, StateStore
from bussdcc_system import __version__
from bussdcc_system.state import WEB_CLIENTS
from bussdcc_system.web.api import api
from bussdcc_system.web.assets import Assets
from bussdcc_system.web.bridge import Bridge
from bussdcc_system.web.core import EXTENSION, Web, WebSettings
from bussdcc_system.web.errors import register_error_handlers
from bussdcc_system.web.pages import register_pages
from bussdcc_system.web.prometheus import metrics_registry, metrics_response
from bussdcc_system.web.view import Journal

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("bussdcc_system.web")

SOCKETIO_PATH = "socket.io"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class OriginGuard:
    """Socket.IO accepts browsers from the page's own origin and the configured ones only.

    Browsers always send ``Origin`` on WebSocket handshakes and cross-origin requests;
    clients without one (scripts, python-socketio) are not browsers and pass.
    """

    def __init__(self, app: WSGIApplication, settings: WebSettings, path: str) -> None:
        self.app = app
        self.settings = settings
        self.prefix = f"/{path.strip('/')}"

    def allowed(self, environ: WSGIEnvironment) -> bool:
        origin = environ.get("HTTP_ORIGIN")
        if not origin:
            return True
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        return origin == own or origin in self.settings.allowed_origins

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(self.prefix) and not self.allowed(environ):
            body = (
                b'{"error":"Forbidden","message":"origin not allowed (same-origin only; '
                b'see web.allowed_origins)","status":403}'
            )
            start_response(
                "403 FORBIDDEN",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        return self.app(environ, start_response)


def websocket_available() -> bool:
    """Whether Engine.IO's threading mode can serve WebSockets (simple-websocket).

    Debian 12 has no python3-simple-websocket: clients then stay on long-polling, and
    not offering the upgrade keeps Engine.IO from logging an error per start.
    """
    if importlib.util.find_spec("simple_websocket") is not None:
        return True
    log.info("simple-websocket is not installed: dashboards use HTTP long-polling")
    return False


def _build_id(assets: Assets) -> str:
    return f"{__version__}-{assets.url('app.js').rsplit('=', 1)[-1][:8]}"


def create_app(
    *,
    state: StateStore,
    settings: WebSettings | None = None,
    history_dir: str | None = None,
    emit: Callable[[Message], object] | None = None,
    liveness: Callable[[], object] | None = None,
    degraded: Callable[[], Sequence[str]] | None = None,
    started_at: float | None = None,
    assets: Assets | None = None,
    journal: Journal | None = None,
) -> Flask:
    """The dashboard app over ``state``; ``emit`` enables write endpoints (with a token);
    ``journal``: the events recorded so far (``WebInterface`` records them from boot on)."""
    app = Flask(__name__, static_folder=None)
    app.config.update(MAX_CONTENT_LENGTH=64 * 1024)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    settings = settings or WebSettings()
    assets = assets or Assets()
    websocket = websocket_available()
    socketio = SocketIO(
        app,
        async_mode="threading",
        path=SOCKETIO_PATH,
        cors_allowed_origins="*",  # OriginGuard has already refused foreign origins
        manage_session=False,
        logger=False,
        engineio_logger=False,
        ping_interval=10,
        ping_timeout=10,
        max_http_buffer_size=64 * 1024,
        allow_upgrades=websocket,
    )
    journal = journal if journal is not None else Journal()
    web = Web(
        state=state,
        settings=settings,
        assets=assets,
        socketio=socketio,
        bridge=None,  # type: ignore[arg-type]  # set just below
        journal=journal,
        history_dir=history_dir,
        emit=emit,
        liveness=liveness,
        degraded=degraded,
        started_at=started_at if started_at is not None else time.time(),
        build_id=_build_id(assets),
    )
    web.bridge = Bridge(socketio.server, web.view, web.source_version, build_id=web.build_id)
    app.extensions[EXTENSION] = web
    app.wsgi_app = OriginGuard(app.wsgi_app, settings, SOCKETIO_PATH)  # type: ignore[method-assign]
    app.register_blueprint(api)
    _register_socketio(socketio, web)
    register_pages(app, web)
    register_error_handlers(app)
    registry = metrics_registry(web)

    @app.get("/metrics")
    def metrics() -> Response:
        return metrics_response(registry)

    @app.before_request
    def bounded_body() -> None:
        # Werkzeug 2.2 (Debian 12) only truncates an oversize body; say so for every version.
        limit = app.config["MAX_CONTENT_LENGTH"]
        if (request.content_length or 0) > limit:
            abort(413, description=f"the request body may be at most {limit} bytes")

    @app.after_request
    def headers(resp: Response) -> Response:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        if resp.mimetype == "text/html":
            resp.headers.setdefault("Content-Security-Policy", CSP)
            resp.headers.setdefault("Cache-Control", "no-store")
        return _gzip(resp)

    return app


_GZIP_TYPES = frozenset({"text/html", "application/json", "text/plain"})


def _gzip(resp: Response) -> Response:
    """Compress pages, JSON and /metrics for clients that accept it (a Pi on Wi-Fi)."""
    if (
        resp.direct_passthrough
        or resp.status_code != 200
        or resp.mimetype not in _GZIP_TYPES
        or "Content-Encoding" in resp.headers
        or request.accept_encodings.quality("gzip") <= 0
    ):
        return resp
    body = resp.get_data()
    if len(body) < 1024:
        return resp
    resp.set_data(gzip.compress(body, compresslevel=6))
    resp.headers["Content-Encoding"] = "gzip"
    resp.headers.add("Vary", "Accept-Encoding")
    return resp


def _register_socketio(socketio: SocketIO, web: Web) -> None:
    watchers = threading.Lock()  # one count written at a time, the latest last

    def on_hello(*_args: Any) -> dict[str, Any]:
        with watchers:
            resp = web.bridge.hello(request.sid)  # type: ignore[attr-defined]
            web.state.set(WEB_CLIENTS, web.bridge.stats().clients)
        return resp

    def on_disconnect(*_args: Any) -> None:
        with watchers:
            web.bridge.disconnect(request.sid)  # type: ignore[attr-defined]
            web.state.set(WEB_CLIENTS, web.bridge.stats().clients)

    socketio.on_event("hello", on_hello)
    socketio.on_event("disconnect", on_disconnect)


__all__ = ["SOCKETIO_PATH", "OriginGuard", "create_app", "websocket_available"]
