"""What the daemon loads after ``READY=1``, all of it right after, never later.

Start-up pays only for what ``READY=1`` needs: the kernel, the configuration, the
history writer, telemetry and the dashboard's bound port. The web stack (Flask,
Socket.IO, prometheus_client), the history query stack and the rest load right after
``READY=1``, on the main thread before its loop starts (``Daemon.boot``). Not lazily on
first use: a Debian upgrade unpacks the new version's ``.py`` files under the running
daemon before it restarts it, and a module first imported in between would be the new
version meeting the old ones in memory. MQTT, notifications and gpiozero load when the
configuration turns them on, at boot or at the reload that does.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterator
from typing import Final

WEB_STACK: Final = ("bussdcc_system.web.app", "bussdcc_system.web.server")
"""The dashboard's app factory and server, with Flask, Socket.IO and prometheus_client."""

LATE: Final = (
    *WEB_STACK,
    "bussdcc_system.history.query",  # the charts: /api/history, /api/metrics
    "bussdcc_system.history.episodes",  # /api/power/episodes and the dashboard's list
    "resource",  # the process telemetry's and the connection limits' first reading
)
"""Everything the running daemon imports inside functions, and what those import."""

CLIENT_ONLY: Final = ("requests", "websocket")
"""python-engineio imports its client's HTTP and WebSocket libraries when they are
installed; a server never uses them (about 5 MB and 130 modules, ssl among them)."""


@contextlib.contextmanager
def _kept_out(names: tuple[str, ...]) -> Iterator[None]:
    """Imports of ``names`` fail meanwhile (a ``None`` in ``sys.modules``), unless they
    are loaded already; afterwards they can be imported again."""
    blocked = [name for name in names if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in blocked:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]


def load_web_stack() -> None:
    """Import the dashboard's modules, without engineio's client libraries."""
    with _kept_out(CLIENT_ONLY):
        for name in WEB_STACK:
            importlib.import_module(name)


def finish_imports() -> None:
    """Import everything in ``LATE``."""
    load_web_stack()
    for name in LATE:
        importlib.import_module(name)


__all__ = ["CLIENT_ONLY", "LATE", "WEB_STACK", "finish_imports", "load_web_stack"]
