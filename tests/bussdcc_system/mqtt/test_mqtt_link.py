"""The link's outbox (latest per topic, bounded), the password file, errors in words."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest

from bussdcc_system.mqtt.link import (
    BrokerSettings,
    MqttLink,
    Outbox,
    Publication,
    connect_error_words,
    read_password,
)
from tests.bussdcc_system.appliance_helpers import wait_until
from tests.bussdcc_system.daemon_harness import free_port

SETTINGS = BrokerSettings("127.0.0.1", 1883, "client", "base/availability")


def test_the_outbox_keeps_the_latest_of_each_topic() -> None:
    box = Outbox(limit=2)
    assert box.put(Publication("a", b"1"))
    assert box.put(Publication("a", b"2"))
    assert box.put(Publication("b", b"1", retain=True))
    assert not box.put(Publication("c", b"1"))  # full: a third topic is refused
    assert box.refused == 1
    assert box.take() == [Publication("a", b"2"), Publication("b", b"1", retain=True)]
    assert box.take() == []
    assert not box.put(Publication("b", b"1", retain=True), if_changed=True)
    assert box.put(Publication("b", b"2", retain=True), if_changed=True)
    box.all_pending()  # a new connection: everything again
    assert [p.topic for p in box.take()] == ["a", "b"]
    box.again([Publication("a", b"2")])
    box.again([Publication("b", b"stale")])  # superseded meanwhile: not sent again
    assert box.take() == [Publication("a", b"2")]
    box.forget("a")
    assert box.topics == ["b"]


def test_the_password_is_the_first_line(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_text("s3cret with spaces\nsecond line\n")
    assert read_password(str(path)) == "s3cret with spaces"
    path.write_text("\n")
    with pytest.raises(ValueError, match="is empty"):
        read_password(str(path))
    with pytest.raises(ValueError, match="No such file or directory"):
        read_password(str(tmp_path / "missing"))


def test_connect_errors_in_words() -> None:
    where = "the MQTT broker at 127.0.0.1:1883"
    assert connect_error_words(ConnectionRefusedError(111, "refused"), SETTINGS) == (
        f"{where} refused the connection (is it running and listening on that port?)"
    )
    assert connect_error_words(TimeoutError(), SETTINGS) == f"{where} did not answer in time"
    gai = socket.gaierror(-2, "Name or service not known")
    assert connect_error_words(gai, SETTINGS) == (
        "cannot find the MQTT broker's host '127.0.0.1': Name or service not known"
    )
    verify = ssl.SSLCertVerificationError(1, "certificate verify failed")
    verify.verify_message = "self-signed certificate in certificate chain"
    assert connect_error_words(verify, SETTINGS) == (
        f"{where}: its TLS certificate is not trusted: self-signed certificate in certificate"
        " chain (set mqtt.ca_file to the CA that signed it)"
    )
    v6 = BrokerSettings("::1", 8883, "c", "a")
    assert v6.broker == "[::1]:8883"


def test_offer_never_waits_even_with_no_broker() -> None:
    statuses = []
    link = MqttLink(
        BrokerSettings("127.0.0.1", free_port(), "c", "a"),
        on_status=statuses.append,
        backoff_initial=0.05,
        backoff_max=0.1,
    )
    link.start()
    try:
        for i in range(10000):
            assert link.offer(Publication("x/state", str(i).encode()))
        wait_until(lambda: len(statuses) >= 2, what="two failed attempts")
        assert not link.status.connected
        assert link.status.error is not None and "refused the connection" in link.status.error
        assert link.outbox.take() == [Publication("x/state", b"9999")]
    finally:
        link.stop()
    assert link.status.connected is False and link.status.error is None
