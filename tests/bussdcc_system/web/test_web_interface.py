"""WebInterface: synchronous bind, clear bind errors, bounded stop, live reconfiguration."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from web_helpers import WebRig, make_rig

from bussdcc import BootError, Runtime
from bussdcc.testing import SimClock
from bussdcc_system.config import WebConfig
from bussdcc_system.web import BindError, WebInterface


@pytest.fixture
def fresh_rig(tmp_path: Path) -> Iterator[WebRig]:
    """A started rig that has been fed nothing, stopped after the test."""
    rig = make_rig(tmp_path)
    yield rig
    rig.rt.stop(timeout=10)


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_the_port_answers_as_soon_as_start_returns(tmp_path: Path) -> None:
    rt = Runtime(clock=SimClock(), join_timeout=2.0)
    web = WebInterface(WebConfig(host="127.0.0.1", port=0), history_dir=str(tmp_path))
    rt.register_interface(web)
    rt.boot()
    try:
        assert web.address is not None
        resp = requests.get(f"{web.url}/healthz", timeout=5)  # no waiting, no retry
        assert resp.status_code == 200 and resp.json()["status"] == "ok"
    finally:
        rt.shutdown()
    assert web.address is None


def test_a_port_in_use_fails_the_boot_with_a_clear_reason(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        rt = Runtime(clock=SimClock(), join_timeout=2.0)
        rt.register_interface(WebInterface(WebConfig(host="127.0.0.1", port=port)))
        with pytest.raises(BootError) as info:
            rt.boot()
    cause = info.value.__cause__
    assert isinstance(cause, BindError)
    assert str(cause) == f"cannot listen on 127.0.0.1:{port}: address already in use"


def test_an_address_the_host_does_not_have() -> None:
    web = WebInterface(WebConfig(host="192.0.2.123", port=0))
    rt = Runtime(clock=SimClock(), join_timeout=2.0)
    rt.register_interface(web)
    with pytest.raises(BootError) as info:
        rt.boot()
    assert str(info.value.__cause__).startswith("cannot listen on 192.0.2.123:0: ")


def test_stop_releases_the_port_for_the_next_daemon(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    assert rig.web.address is not None
    port = rig.web.address[1]
    rig.rt.stop(timeout=10)
    assert not listening(port)
    again = make_rig(tmp_path, port=port)  # a restarted daemon binds the same port at once
    try:
        assert again.web.address == ("127.0.0.1", port)
    finally:
        again.rt.stop(timeout=10)


def test_reload_with_a_new_port_rebinds(fresh_rig: WebRig) -> None:
    assert fresh_rig.web.address is not None
    old = fresh_rig.web.address[1]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        new = probe.getsockname()[1]
    fresh_rig.web.apply_config(WebConfig(host="127.0.0.1", port=new))
    assert fresh_rig.web.address == ("127.0.0.1", new)
    assert requests.get(f"http://127.0.0.1:{new}/healthz", timeout=5).ok
    assert not listening(old)


def test_reload_to_a_taken_port_keeps_the_old_bind(fresh_rig: WebRig) -> None:
    before = fresh_rig.web.address
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        with pytest.raises(BindError, match="address already in use"):
            fresh_rig.web.apply_config(WebConfig(host="127.0.0.1", port=taken))
    assert fresh_rig.web.address == before
    assert requests.get(f"{fresh_rig.url}/healthz", timeout=5).ok


def test_reload_with_a_new_token_needs_no_rebind(fresh_rig: WebRig) -> None:
    before = fresh_rig.web.address
    url = fresh_rig.url + "/api/led/test"
    assert requests.post(url, timeout=5).status_code == 403  # no token configured
    cfg = dataclasses.replace(fresh_rig.web.config, token="s3cret")
    fresh_rig.web.apply_config(cfg)
    assert fresh_rig.web.address == before
    ok = requests.post(url, headers={"Authorization": "Bearer s3cret"}, timeout=5)
    assert ok.status_code == 202


def test_handle_event_before_start_is_harmless() -> None:
    from bussdcc import message
    from bussdcc.event import EventBus

    web = WebInterface(WebConfig(port=0))
    evt = EventBus().emit(message.RuntimeBooted("x"))
    web.handle_event(None, evt)  # type: ignore[arg-type]
    web.stop(None)
