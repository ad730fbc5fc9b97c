"""paho-mqtt 1.6 (Debian 12's python3-paho-mqtt) and 2.x (PyPI) behind one small surface.

paho 2.0 changed the client's constructor (a ``CallbackAPIVersion`` comes first) and the
signatures of ``on_connect`` and ``on_disconnect`` (a ``ReasonCode`` object where 1.x
passed an int, and ``properties``). Everything else this appliance uses (``connect``,
``loop``, ``publish``, ``subscribe``, ``will_set``, ``tls_set_context``,
``username_pw_set``, ``disconnect``) is the same in both. :func:`new_client` builds a
client of either version with callbacks in one shape: ``on_connect(refusal)`` (``None``
when the broker accepted), ``on_disconnect(reason)`` (``None`` after our own clean
disconnect) and ``on_message(topic, payload)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import paho.mqtt.client as paho

__all__ = [
    "PAHO_2",
    "PAHO_VERSION",
    "Callbacks",
    "connack_refusal",
    "lost_v1",
    "lost_v2",
    "new_client",
    "v1_callbacks",
    "v2_callbacks",
]

PAHO_2: Final[bool] = hasattr(paho, "CallbackAPIVersion")
"""True with paho-mqtt 2.x (the callback API version must be chosen)."""

SUCCESS: Final = 0

# MQTT 3.1.1 CONNACK return codes (paho 1.x passes these ints) ...
_V3_REFUSALS: Final[dict[int, str]] = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "broker unavailable",
    4: "bad user name or password",
    5: "not authorised",
}
# ... and the MQTT 5 reason codes paho 2.x turns them into (ReasonCode.value).
_V5_REFUSALS: Final[dict[int, str]] = {
    128: "unspecified error",
    129: "malformed packet",
    130: "protocol error",
    132: "unacceptable protocol version",
    133: "client identifier rejected",
    134: "bad user name or password",
    135: "not authorised",
    136: "broker unavailable",
    137: "broker busy",
    138: "banned",
    140: "bad authentication method",
}
_AUTH: Final = frozenset({4, 5, 134, 135})


def _version_of_package() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("paho-mqtt")
    except PackageNotFoundError:
        return "unknown"


PAHO_VERSION: Final[str] = str(getattr(paho, "__version__", "") or _version_of_package())


def _code(reason: Any) -> int:
    """The number in an int (1.x) or a ``ReasonCode`` (2.x)."""
    value = getattr(reason, "value", reason)
    return int(value) if isinstance(value, int) else -1


def connack_refusal(reason: Any) -> str | None:
    """``None`` when a CONNACK accepted the connection, else why not, in words."""
    code = _code(reason)
    if code == SUCCESS:
        return None
    words = _V3_REFUSALS.get(code) or _V5_REFUSALS.get(code) or f"refused (code {reason})"
    if code in _AUTH:
        words += " (check mqtt.username and the password in mqtt.password_file)"
    return words


def lost_v1(rc: int) -> str | None:
    """paho 1.x ``on_disconnect``'s ``rc`` (a paho error number) in words; ``None`` after a
    disconnect we asked for."""
    if rc == SUCCESS:
        return None
    if rc == int(paho.MQTT_ERR_CONN_LOST):
        return "the connection was lost"
    return "the connection was lost: " + paho.error_string(rc).rstrip(".").lower()


def lost_v2(reason: Any) -> str | None:
    """paho 2.x ``on_disconnect``'s ``ReasonCode`` in words; ``None`` after a disconnect
    we asked for. paho reports a dropped connection as "Unspecified error" (128)."""
    code = _code(reason)
    if code == SUCCESS:
        return None
    if code == 128:
        return "the connection was lost"
    return f"the connection was lost: {str(reason).lower()}"


@dataclass(frozen=True)
class Callbacks:
    """What the link wants to hear, in one shape for both paho versions."""

    on_connect: Callable[[str | None], None]
    on_disconnect: Callable[[str | None], None]
    on_message: Callable[[str, bytes], None]


def v1_callbacks(cb: Callbacks) -> dict[str, Callable[..., None]]:
    """paho 1.x signatures: ``on_connect(client, userdata, flags, rc)``,
    ``on_disconnect(client, userdata, rc)``."""

    def on_connect(client: Any, userdata: Any, flags: Any, rc: int) -> None:
        cb.on_connect(connack_refusal(rc))

    def on_disconnect(client: Any, userdata: Any, rc: int) -> None:
        cb.on_disconnect(lost_v1(rc))

    def on_message(client: Any, userdata: Any, msg: Any) -> None:
        cb.on_message(str(msg.topic), bytes(msg.payload))

    return {"on_connect": on_connect, "on_disconnect": on_disconnect, "on_message": on_message}


def v2_callbacks(cb: Callbacks) -> dict[str, Callable[..., None]]:
    """paho 2.x ``CallbackAPIVersion.VERSION2`` signatures: ``on_connect(client, userdata,
    flags, reason_code, properties)``, ``on_disconnect(client, userdata, flags,
    reason_code, properties)``."""

    def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        cb.on_connect(connack_refusal(reason))

    def on_disconnect(client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        cb.on_disconnect(lost_v2(reason))

    def on_message(client: Any, userdata: Any, msg: Any) -> None:
        cb.on_message(str(msg.topic), bytes(msg.payload))

    return {"on_connect": on_connect, "on_disconnect": on_disconnect, "on_message": on_message}


def new_client(client_id: str, callbacks: Callbacks) -> paho.Client:
    """A clean-session MQTT 3.1.1 client of the installed paho, callbacks attached."""
    if PAHO_2:
        api = importlib.import_module("paho.mqtt.enums").CallbackAPIVersion
        client = paho.Client(api.VERSION2, client_id=client_id, clean_session=True)
        handlers = v2_callbacks(callbacks)
    else:  # pragma: no cover - exercised with paho-mqtt 1.6 on the path (see docs/fleet.md)
        client = paho.Client(client_id=client_id, clean_session=True)
        handlers = v1_callbacks(callbacks)
    client.on_connect = handlers["on_connect"]
    client.on_disconnect = handlers["on_disconnect"]
    client.on_message = handlers["on_message"]
    return client
