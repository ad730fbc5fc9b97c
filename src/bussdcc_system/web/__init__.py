"""The web interface: live dashboard and kiosk, JSON API, Prometheus ``/metrics``.

``WebInterface`` (a bussdcc Interface) owns the server; ``create_app`` builds the Flask
app around a ``StateStore``. See ``docs/web.md``.
"""

from bussdcc_system.web.app import create_app
from bussdcc_system.web.core import WebSettings
from bussdcc_system.web.interface import WebInterface
from bussdcc_system.web.server import BindError

__all__ = ["BindError", "WebInterface", "WebSettings", "create_app"]
