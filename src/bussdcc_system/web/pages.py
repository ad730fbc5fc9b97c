"""The pages: the dashboard and the kiosk (rendered from the current view), static
assets, the favicon and ``/healthz``."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from flask import Flask, Response, jsonify, render_template, request

from bussdcc_system import __version__
from bussdcc_system.web.api import recent_power_episodes
from bussdcc_system.web.assets import restore_hint
from bussdcc_system.web.core import Web
from bussdcc_system.web.errors import json_error
from bussdcc_system.web.view import layout_lists


def register_pages(app: Flask, web: Web) -> None:
    def page(kiosk: bool) -> tuple[str, int] | str:
        if web.assets.missing:
            return render_template(
                "missing.html", missing=web.assets.missing, root=str(web.assets.root)
            ), 503
        view = web.view()
        disks, ifaces = layout_lists(view["layout"])
        found = [e for e in ([] if kiosk else recent_power_episodes(web, days=7)) if e["words"]]
        return render_template(
            "dashboard.html",
            v=view,
            disks=disks,
            ifaces=ifaces,
            kiosk=kiosk,
            episodes=[e["words"] for e in found],
            timeline=[[e["kind"], e["start"], e["end"], e["words"]["observed"]] for e in found],
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
                hint = restore_hint(web.assets.root)
                return json_error(404, "Not Found", f"{name} is missing: {hint}")
            return json_error(404, "Not Found", f"no static file {name!r}")
        return resp

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return web.assets.response("favicon.svg") or json_error(404, "Not Found", "no favicon")

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
        degraded = checked_degraded() if ok else []
        if degraded:
            body["degraded"] = degraded
        body["status"] = ("degraded" if degraded else "ok") if ok else "failing"
        return jsonify(body), 200 if ok else 503

    def checked_degraded() -> list[str]:
        """What works only in part, in words; a failing check is one more such reason.
        Degraded is still 200: a restart would not free a disk, so neither systemd's
        watchdog nor a load balancer should act on it."""
        if web.degraded is None:
            return []
        try:
            return [str(r) for r in web.degraded()]
        except Exception as exc:
            return [f"checking for degraded parts failed: {exc!r}"]


__all__ = ["register_pages"]
