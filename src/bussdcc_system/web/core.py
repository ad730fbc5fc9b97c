"""The ``Web`` object: everything the pages, the API and ``/metrics`` read.

``create_app`` (``app.py``) builds one and keeps it in ``app.extensions``; the route
modules only import this module, never the factory, so the web package is a one-way
graph: ``core`` <- ``errors``/``api``/``prometheus``/``pages`` <- ``app`` <- ``interface``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from flask_socketio import SocketIO

from bussdcc import Message, StateStore
from bussdcc_system.web.assets import Assets
from bussdcc_system.web.bridge import Bridge
from bussdcc_system.web.settings import WebSettings
from bussdcc_system.web.view import Journal, ViewBuilder

EXTENSION = "bussdcc_system"
"""The key of the ``Web`` object in ``app.extensions``."""


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
    degraded: Callable[[], Sequence[str]] | None
    """What works but not fully (history cannot be written...), in words."""
    started_at: float
    build_id: str
    wall: Callable[[], float] = time.time
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


def current_web() -> Web:
    """The ``Web`` of the app serving the current request."""
    return get_web(current_app)


__all__ = ["EXTENSION", "Web", "WebSettings", "current_web", "get_web"]
