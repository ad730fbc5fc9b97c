"""Every error the web interface answers is JSON with a message, never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger("bussdcc_system.web")


def json_error(
    status: int, name: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """``{"error": name, "message": message, "status": status}`` with that status."""
    resp = jsonify({"error": name, "message": message, "status": status})
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        headers = {
            k: v
            for k, v in exc.get_headers()
            if k.lower() not in ("content-type", "content-length")
        }
        message = exc.description or exc.name
        return json_error(code, exc.name, str(message), headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        if isinstance(exc, HTTPException):  # pragma: no cover - handled above
            return http_error(exc)
        log.exception("unhandled error serving %s %s", request.method, request.path)
        return json_error(
            500,
            "Internal Server Error",
            "the server failed to answer this request; the daemon log has details",
        )


__all__ = ["json_error", "register_error_handlers"]
