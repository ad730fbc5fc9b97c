"""Where notices go and how one POST is made: an ntfy topic or a generic JSON webhook.

A batch of notices (usually one; several when they came faster than the rate limit)
becomes one request. ntfy gets ntfy's JSON publishing format (``POST`` to the server's
root with ``topic``, ``title``, ``message``, ``priority``, ``tags``: UTF-8 safe, unlike
its headers), so a topic URL ``https://ntfy.sh/my-pi`` is all it takes, self-hosted
servers under a path prefix included. The webhook gets ``{"source", "host", "level",
"title", "message", "notices": [...]}``.

A URL is a secret (an ntfy topic can be read by anyone who knows it; a webhook URL
often carries its token), so :attr:`Endpoint.target` names only the scheme and host.
:func:`post` raises :class:`DeliveryError` in words, saying whether trying again may
help (connection problems, timeouts, 5xx, 408, 429) or not (any other 4xx).
"""

from __future__ import annotations

import json
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import urlsplit, urlunsplit

from bussdcc_system import __version__
from bussdcc_system.messages import HEALTH_RANK
from bussdcc_system.notifications.notices import Notice

__all__ = ["TIMEOUT", "DeliveryError", "Endpoint", "Request", "post", "summary"]

TIMEOUT: Final = 10.0
"""Seconds one POST may take (connect and answer)."""
_PRIORITY: Final = {"ok": 3, "warning": 4, "critical": 5}
_TAGS: Final = {"ok": "white_check_mark", "warning": "warning", "critical": "rotating_light"}
_RETRY_STATUS: Final = frozenset({408, 425, 429})
_OPENER: Final = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""No proxies from the environment: the endpoint is reached as configured."""


class DeliveryError(Exception):
    """A POST that did not get a 2xx answer; ``retry`` says whether trying again may help."""

    def __init__(self, words: str, *, retry: bool) -> None:
        super().__init__(words)
        self.words = words
        self.retry = retry


@dataclass(frozen=True)
class Request:
    url: str
    body: bytes
    headers: dict[str, str]


def summary(host: str, notices: Sequence[Notice], dropped: int = 0) -> tuple[str, str, str]:
    """(level, title, message) of a batch: one notice as it is; several as a list,
    the worst level first in the title."""
    level = max((n.level for n in notices), key=lambda lv: HEALTH_RANK.get(lv, 0), default="ok")
    more = f"\n(and {dropped} earlier notices not sent: too many at once)" if dropped else ""
    if len(notices) == 1:
        return level, notices[0].title, notices[0].text + more
    title = f"{host}: {len(notices)} changes"
    lines = [f"- {n.title.removeprefix(host + ': ')}: {n.text}" for n in notices]
    return level, title, "\n".join(lines) + more


@dataclass(frozen=True)
class Endpoint:
    """One configured destination; ``url`` is the secret the config gave."""

    kind: Literal["ntfy", "webhook"]
    url: str

    @property
    def target(self) -> str:
        """What messages and the log may say about it: ``https://ntfy.sh``."""
        parts = urlsplit(self.url)
        host = parts.hostname or "?"
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}"

    def request(self, host: str, notices: Sequence[Notice], dropped: int = 0) -> Request:
        level, title, message = summary(host, notices, dropped)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"bussdcc-system/{__version__}",
        }
        body: dict[str, Any]
        if self.kind == "ntfy":
            parts = urlsplit(self.url)
            base, _, topic = parts.path.rstrip("/").rpartition("/")
            url = urlunsplit((parts.scheme, parts.netloc, base + "/", parts.query, ""))
            body = {
                "topic": topic,
                "title": title,
                "message": message,
                "priority": _PRIORITY.get(level, 3),
                "tags": [_TAGS.get(level, "information_source")],
            }
        else:
            url = self.url
            body = {
                "source": "bussdcc-system",
                "host": host,
                "level": level,
                "title": title,
                "message": message,
                "notices": [n.to_json() for n in notices],
                "dropped": dropped,
            }
        return Request(url, json.dumps(body, ensure_ascii=False).encode(), headers)


def post(endpoint: Endpoint, request: Request, *, timeout: float = TIMEOUT) -> int:
    """POST ``request``; the HTTP status on a 2xx, else :class:`DeliveryError`."""
    where = f"{endpoint.kind} at {endpoint.target}"
    req = urllib.request.Request(
        request.url, data=request.body, headers=request.headers, method="POST"
    )
    try:
        with _OPENER.open(req, timeout=timeout) as response:
            response.read(65536)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
        retry = status >= 500 or status in _RETRY_STATUS
        reason = f" {exc.reason}" if exc.reason else ""
        raise DeliveryError(f"{where} answered HTTP {status}{reason}", retry=retry) from None
    except urllib.error.URLError as exc:
        raise DeliveryError(f"{where}: {_reason_words(exc.reason, timeout)}", retry=True) from None
    except TimeoutError:
        raise DeliveryError(f"{where}: no answer within {timeout:g}s", retry=True) from None
    except (OSError, ValueError) as exc:  # a reset connection, a bad status line
        raise DeliveryError(f"{where}: {exc}", retry=True) from None


def _reason_words(reason: object, timeout: float) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return f"cannot find the host ({reason.strerror or reason})"
    if isinstance(reason, TimeoutError):
        return f"no answer within {timeout:g}s"
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"its TLS certificate is not trusted: {reason.verify_message}"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason)
