"""The dashboard's listening socket, bound without loading the web stack.

The daemon binds its port during boot (a port in use fails the boot with the reason) but
builds the Flask app only after ``READY=1``; binding here needs nothing but ``socket``, so
the boot does not pay for werkzeug. Connections that arrive before the server runs wait in
the listen backlog and are answered once it does.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

LISTEN_QUEUE = 128
"""The backlog, as werkzeug's own servers use."""


class BindError(RuntimeError):
    """The dashboard cannot listen where the configuration says."""


def _describe(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "address already in use"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


def _address(host: str, port: int) -> tuple[socket.AddressFamily, tuple[Any, ...]]:
    """The family and address werkzeug would bind ``host:port`` to (IPv6 for a host
    with a colon, the first of ``getaddrinfo``'s answers, the name itself without one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        res = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    except socket.gaierror:
        return family, (host, port)
    return family, tuple(res[0][4])  # IPv6: with its flow info and scope id


RESOLVE_TIMEOUT = 10.0
"""Seconds a host name may take to resolve when binding on a reload."""


def bind_socket(
    host: str, port: int, *, while_waiting: Callable[[], object] | None = None
) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port`` 0 picks a free one).

    ``while_waiting``: called about every 0.2 s while a host name is looked up (which
    can take as long as DNS makes it), so that the daemon's main thread keeps feeding
    the watchdog during a reload; the lookup is then given up after ``RESOLVE_TIMEOUT``."""
    label = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        if while_waiting is None or _is_address(host):
            family, address = _address(host, port)
        else:
            family, address = _resolve_while(host, port, while_waiting, label)
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise BindError(f"cannot listen on {label}: {_describe(exc)}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(LISTEN_QUEUE)
    except OSError as exc:
        sock.close()
        reason = _describe(exc)
        if exc.errno == errno.EACCES and 0 < port < 1024:
            reason += " (a port below 1024 needs root or CAP_NET_BIND_SERVICE)"
        raise BindError(f"cannot listen on {label}: {reason}") from exc
    sock.set_inheritable(False)
    return sock


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _resolve_while(
    host: str, port: int, while_waiting: Callable[[], object], label: str
) -> tuple[socket.AddressFamily, tuple[Any, ...]]:
    """``_address`` in a thread, calling ``while_waiting`` until it answers."""
    result: list[tuple[socket.AddressFamily, tuple[Any, ...]] | OSError] = []

    def lookup() -> None:
        try:
            result.append(_address(host, port))
        except OSError as exc:
            result.append(exc)

    thread = threading.Thread(target=lookup, name="web-resolve", daemon=True)
    thread.start()
    deadline = time.monotonic() + RESOLVE_TIMEOUT
    while thread.is_alive():
        if time.monotonic() > deadline:
            raise BindError(
                f"cannot listen on {label}: looking up the host name took more than"
                f" {RESOLVE_TIMEOUT:g} seconds (is DNS reachable? an address such as"
                " 0.0.0.0 needs no lookup)"
            )
        thread.join(0.2)
        while_waiting()
    found = result[0]
    if isinstance(found, OSError):
        raise found
    return found


__all__ = ["LISTEN_QUEUE", "RESOLVE_TIMEOUT", "BindError", "bind_socket"]
