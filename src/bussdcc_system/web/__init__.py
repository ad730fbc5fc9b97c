"""The web interface: live dashboard and kiosk, JSON API, Prometheus ``/metrics``.

``WebInterface`` (a bussdcc Interface) owns the server; ``create_app`` builds the Flask
app around a ``StateStore``. See ``docs/web.md``.

The names below load on first use (PEP 562): importing a light module of this package
(``listener``, ``view``) must not load Flask, which the daemon loads after ``READY=1``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bussdcc_system.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from bussdcc_system.web.app import create_app
    from bussdcc_system.web.interface import WebInterface
    from bussdcc_system.web.listener import BindError
    from bussdcc_system.web.settings import WebSettings

_HOMES = {
    "BindError": "bussdcc_system.web.listener",
    "WebInterface": "bussdcc_system.web.interface",
    "WebSettings": "bussdcc_system.web.settings",
    "create_app": "bussdcc_system.web.app",
}


__getattr__ = lazy_exports(__name__, _HOMES)


__all__ = ["BindError", "WebInterface", "WebSettings", "create_app"]
