"""One callback shape for paho-mqtt 1.6 and 2.x. The v1 and v2 wrappers are both tested
here whichever paho is installed; the broker tests run with the installed one."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from bussdcc_system.mqtt.paho_compat import (
    PAHO_2,
    PAHO_VERSION,
    Callbacks,
    connack_refusal,
    lost_v1,
    lost_v2,
    new_client,
    v1_callbacks,
    v2_callbacks,
)


@dataclass
class FakeReasonCode:
    """What paho 2.x passes: a ``value`` and a name for ``str()``."""

    value: int
    words: str

    def __str__(self) -> str:
        return self.words


@dataclass
class FakeMessage:
    topic: str
    payload: bytes


def recorder() -> tuple[Callbacks, list[tuple[str, Any]]]:
    heard: list[tuple[str, Any]] = []
    cb = Callbacks(
        on_connect=lambda refusal: heard.append(("connect", refusal)),
        on_disconnect=lambda reason: heard.append(("disconnect", reason)),
        on_message=lambda topic, payload: heard.append(("message", (topic, payload))),
    )
    return cb, heard


def test_the_installed_version_is_detected() -> None:
    assert version("paho-mqtt") == PAHO_VERSION
    assert PAHO_2 is (int(PAHO_VERSION.split(".")[0]) >= 2)


def test_connack_refusals_in_words() -> None:
    assert connack_refusal(0) is None
    assert connack_refusal(FakeReasonCode(0, "Success")) is None
    hint = " (check mqtt.username and the password in mqtt.password_file)"
    assert connack_refusal(5) == "not authorised" + hint
    assert connack_refusal(4) == "bad user name or password" + hint
    assert connack_refusal(FakeReasonCode(135, "Not authorized")) == "not authorised" + hint
    assert connack_refusal(FakeReasonCode(136, "Server unavailable")) == "broker unavailable"
    assert connack_refusal(3) == "broker unavailable"


def test_v1_callbacks() -> None:
    cb, heard = recorder()
    handlers = v1_callbacks(cb)
    handlers["on_connect"](None, None, {}, 5)
    handlers["on_disconnect"](None, None, 7)
    handlers["on_disconnect"](None, None, 0)
    handlers["on_message"](None, None, FakeMessage("homeassistant/status", b"online"))
    assert heard == [
        ("connect", connack_refusal(5)),
        ("disconnect", "the connection was lost"),
        ("disconnect", None),
        ("message", ("homeassistant/status", b"online")),
    ]


def test_v2_callbacks() -> None:
    cb, heard = recorder()
    handlers = v2_callbacks(cb)
    handlers["on_connect"](None, None, {}, FakeReasonCode(0, "Success"), None)
    handlers["on_disconnect"](None, None, {}, FakeReasonCode(128, "Unspecified error"), None)
    handlers["on_disconnect"](None, None, {}, FakeReasonCode(141, "Keep alive timeout"), None)
    assert heard == [
        ("connect", None),
        ("disconnect", "the connection was lost"),
        ("disconnect", "the connection was lost: keep alive timeout"),
    ]


def test_lost_words() -> None:
    assert lost_v1(0) is None and lost_v2(FakeReasonCode(0, "Success")) is None
    assert (
        lost_v1(16)
        == "the connection was lost: client or broker did not communicate in the keepalive interval"
    )


def test_new_client_of_the_installed_version() -> None:
    cb, _ = recorder()
    client = new_client("bussdcc-test", cb)
    assert client.on_connect is not None and client.on_disconnect is not None
