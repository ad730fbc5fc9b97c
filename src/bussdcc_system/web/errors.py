"""Every error the web interface answers is JSON with a message, never a stack trace.

A client that does not send its request body in time (``RequestTimeout``) is its own
business: a 408, logged at debug level, not an "unhandled error".
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from bussdcc_system.web.request_deadline import RequestTimeout

log = logging.getLogger("bussdcc_system.web")


def error_document(status: int, name: str, message: str) -> dict[str, str | int]:
    """The one shape of every error: ``{"error": name, "message": message, "status": status}``."""
    return {"error": name, "message": message, "status": status}


def json_error(
    status: int, name: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """``error_document`` as the response, with that status."""
    resp = jsonify(error_document(status, name, message))
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

    @app.errorhandler(RequestTimeout)
    def request_timeout(exc: RequestTimeout) -> Response:
        log.debug("%s: %s %s: %s", request.remote_addr, request.method, request.path, exc)
        return json_error(
            408, "Request Timeout", "the request body was not sent in time; send it again"
        )

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
