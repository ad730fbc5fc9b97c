"""The Flask app factory: pages, static assets, Socket.IO, JSON errors, security headers.

``create_app`` builds everything the dashboard serves around one ``StateStore``; it
binds nothing (``WebInterface`` owns the server). Pages render the current view on
the server, so the first paint is complete before the first push; Socket.IO
(Flask-SocketIO in "threading" mode) then keeps it current through the ``Bridge``.
Every error is JSON with a message, never a stack trace.
"""

from __future__ import annotations

import gzip
import importlib.util
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, abort, jsonify, render_template, request
from flask_socketio import SocketIO
from werkzeug.exceptions import HTTPException

from bussdcc import Message, StateStore
from bussdcc_system import __version__
from bussdcc_system.web.assets import Assets
from bussdcc_system.web.bridge import Bridge
from bussdcc_system.web.view import Journal, ViewBuilder, layout_lists, power_words

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("bussdcc_system.web")

EXTENSION = "bussdcc_system"
SOCKETIO_PATH = "socket.io"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@dataclass
class WebSettings:
    """What a reload may change without rebinding: the write token and allowed origins."""

    token: str | None = None
    allowed_origins: tuple[str, ...] = ()


@dataclass
class Web:
    """Everything the routes need, kept in ``app.extensions["bussdcc_system"]``."""

    state: StateStore
    settings: WebSettings
    assets: Assets
    socketio: SocketIO
    bridge: Bridge
    journal: Journal
    history_dir: str | None
    emit: Callable[[Message], object] | None
    liveness: Callable[[], object] | None
    started_at: float
    build_id: str
    wall: Callable[[], float] = time.time
    extras: dict[str, Any] = field(default_factory=dict)
    _views: ViewBuilder = field(default_factory=ViewBuilder)
    _view_lock: threading.Lock = field(default_factory=threading.Lock)

    def view(self) -> dict[str, Any]:
        with self._view_lock:  # the bridge thread and page requests share the builder
            return self._views.build(
                self.state, self.journal, now=self.wall(), started_at=self.started_at
            )

    def source_version(self) -> int:
        return self.state.version + self.journal.count


def get_web(app: Flask) -> Web:
    web: Web = app.extensions[EXTENSION]
    return web


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
    started_at: float | None = None,
    assets: Assets | None = None,
) -> Flask:
    """The dashboard app over ``state``; ``emit`` enables write endpoints (with a token)."""
    from bussdcc_system.web.api import api
    from bussdcc_system.web.metrics import metrics_response

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
    journal = Journal()
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
        started_at=started_at if started_at is not None else time.time(),
        build_id=_build_id(assets),
    )
    web.bridge = Bridge(socketio.server, web.view, web.source_version, build_id=web.build_id)
    app.extensions[EXTENSION] = web
    app.wsgi_app = OriginGuard(app.wsgi_app, settings, SOCKETIO_PATH)  # type: ignore[method-assign]
    app.register_blueprint(api)
    _register_socketio(socketio, web)
    _register_pages(app, web)
    _register_errors(app)

    @app.get("/metrics")
    def metrics() -> Response:
        return metrics_response(web)

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
    def on_hello(*_args: Any) -> dict[str, Any]:
        return web.bridge.hello(request.sid)  # type: ignore[attr-defined]

    def on_disconnect(*_args: Any) -> None:
        web.bridge.disconnect(request.sid)  # type: ignore[attr-defined]

    socketio.on_event("hello", on_hello)
    socketio.on_event("disconnect", on_disconnect)


def _register_pages(app: Flask, web: Web) -> None:
    lock = threading.Lock()
    cache: dict[str, Any] = {}

    def episodes() -> list[str]:
        """Power episodes of the last days, in words (cached for a minute)."""
        from bussdcc_system.web.api import recent_power_episodes

        now = time.monotonic()
        with lock:
            if cache.get("at") is not None and now - cache["at"] < 60:
                return list(cache["words"])
        words = power_words(recent_power_episodes(web, days=7), now=web.wall())
        with lock:
            cache.update(at=now, words=words)
        return words

    def page(kiosk: bool) -> tuple[str, int] | str:
        if web.assets.missing:
            return render_template(
                "missing.html", missing=web.assets.missing, root=str(web.assets.root)
            ), 503
        view = web.view()
        disks, ifaces = layout_lists(view["layout"])
        return render_template(
            "dashboard.html",
            v=view,
            disks=disks,
            ifaces=ifaces,
            kiosk=kiosk,
            episodes=episodes(),
            asset=web.assets.url,
            build=web.build_id,
        )

    @app.get("/")
    def dashboard() -> tuple[str, int] | str:
        return page(request.args.get("kiosk", "") in ("1", "true", "yes"))

    @app.get("/kiosk")
    def kiosk() -> tuple[str, int] | str:
        return page(True)

    @app.get("/static/<path:name>")
    def static(name: str) -> Response:
        resp = web.assets.response(name)
        if resp is None:
            if name.startswith("vendor/"):
                return _error(404, "Not Found", f"{name} is missing: run scripts/fetch-assets.sh")
            return _error(404, "Not Found", f"no static file {name!r}")
        return resp

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return web.assets.response("favicon.svg") or _error(404, "Not Found", "no favicon")

    live_lock = threading.Lock()
    last_live: list[Any] = [-1.0, None, None]  # monotonic time, result, error

    def checked_liveness() -> tuple[object, str | None]:
        """The daemon's liveness, at most once a second: each check sends a heartbeat
        through dispatch, and a flood of probes must not become a flood of events."""
        assert web.liveness is not None
        with live_lock:
            now = time.monotonic()
            if now - last_live[0] >= 1.0:
                try:
                    last_live[1:] = [web.liveness(), None]
                except Exception as exc:
                    last_live[1:] = [None, f"liveness check failed: {exc!r}"]
                last_live[0] = now
            return last_live[1], last_live[2]

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        body: dict[str, Any] = {
            "status": "ok",
            "version": __version__,
            "pid": os.getpid(),
            "uptime_seconds": round(max(0.0, web.wall() - web.started_at), 1),
            "clients": web.bridge.stats().clients,
        }
        ok = True
        if web.liveness is not None:
            live, error = checked_liveness()
            if error is not None:
                ok = False
                body["reasons"] = [error]
            elif live is not None:
                ok = bool(getattr(live, "ok", live))
                reasons = getattr(live, "reasons", ())
                body["reasons"] = list(reasons) if isinstance(reasons, tuple | list) else []
        body["status"] = "ok" if ok else "failing"
        return jsonify(body), 200 if ok else 503


def _error(status: int, name: str, message: str, headers: dict[str, str] | None = None) -> Response:
    resp = jsonify({"error": name, "message": message, "status": status})
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _register_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        headers = {
            k: v
            for k, v in exc.get_headers()
            if k.lower() not in ("content-type", "content-length")
        }
        message = exc.description or exc.name
        return _error(code, exc.name, str(message), headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        if isinstance(exc, HTTPException):  # pragma: no cover - handled above
            return http_error(exc)
        log.exception("unhandled error serving %s %s", request.method, request.path)
        return _error(
            500,
            "Internal Server Error",
            "the server failed to answer this request; the daemon log has details",
        )
