"""A reload's prepare step: real sockets, real directories, devices on a mock GPIO."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from gpiozero.pins.mock import MockFactory

from bussdcc import DeviceError, Runtime, message
from bussdcc.testing import MessageLog
from bussdcc_system.config import (
    Config,
    DeviceConfig,
    HistoryConfig,
    StatusLedOptions,
    ThermalZoneOptions,
    WebConfig,
    diff_configs,
)
from bussdcc_system.reload import (
    ReloadError,
    prepare,
    prepare_history_directory,
    prepare_listener,
)
from tests.bussdcc_system.appliance_helpers import FIXTURES, boot_components

LED = DeviceConfig("led", "status_led", StatusLedOptions(pin=17))
THERMAL = DeviceConfig("thermal_zone", "thermal_zone", ThermalZoneOptions())


@pytest.fixture
def pins() -> Iterator[MockFactory]:
    factory = MockFactory()
    yield factory
    factory.reset()


def listening(host: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen()
    return sock


def web_config(host: str, port: int) -> Config:
    return Config(web=WebConfig(host=host, port=port), devices=())


# -- the web address ---------------------------------------------------------------------


def test_a_new_address_is_bound_before_anything_changes() -> None:
    with listening() as running:
        port = running.getsockname()[1]
        web = SimpleNamespace(address=("127.0.0.1", port))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        listener, handover = prepare_listener(
            web_config("127.0.0.1", port), web_config("127.0.0.1", free), web
        )
        assert listener is not None and not handover
        with listener:
            assert listener.getsockname() == ("127.0.0.1", free)
            socket.create_connection(("127.0.0.1", free), timeout=5).close()  # listens


def test_an_unchanged_or_disabled_dashboard_binds_nothing() -> None:
    web = SimpleNamespace(address=("127.0.0.1", 8086))
    same = web_config("127.0.0.1", 8086)
    assert prepare_listener(same, same, web) == (None, False)
    off = replace(same, web=WebConfig(enabled=False))
    assert prepare_listener(same, off, web) == (None, False)


def test_a_taken_port_is_a_reload_error_in_words() -> None:
    with listening() as squatter:
        taken = squatter.getsockname()[1]
        with pytest.raises(ReloadError, match=f"cannot listen on 127.0.0.1:{taken}: address"):
            prepare_listener(
                web_config("127.0.0.1", 8086),
                web_config("127.0.0.1", taken),
                SimpleNamespace(address=("127.0.0.1", 8086)),
            )


def test_the_same_port_on_an_overlapping_address_is_handed_over_at_commit() -> None:
    """0.0.0.0:P to 127.0.0.1:P: only the running listener stands in the way."""
    with listening("0.0.0.0") as running:
        port = running.getsockname()[1]
        got = prepare_listener(
            web_config("0.0.0.0", port),
            web_config("127.0.0.1", port),
            SimpleNamespace(address=("0.0.0.0", port)),
        )
        assert got == (None, True)


def test_an_unknown_host_is_a_reload_error_in_words() -> None:
    with pytest.raises(ReloadError, match=re.escape("no-such-host.invalid:8087: unknown host")):
        prepare_listener(
            web_config("127.0.0.1", 8086), web_config("no-such-host.invalid", 8087), None
        )


# -- the history directory -----------------------------------------------------------------


def test_a_missing_history_directory_is_created_and_tried(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "history"
    created = prepare_history_directory(str(target))
    assert target.is_dir()
    assert created == [target, tmp_path / "a" / "b", tmp_path / "a"]
    assert list(target.iterdir()) == []  # the file it made to try is gone
    assert prepare_history_directory(str(target)) == []  # there already: nothing created


@pytest.mark.parametrize(
    ("where", "reason"),
    [("a-file", "it is a file, not a directory"), ("a-file/history", "not a directory")],
)
def test_a_history_directory_that_cannot_be_used(tmp_path: Path, where: str, reason: str) -> None:
    (tmp_path / "a-file").write_text("x\n")
    with pytest.raises(ReloadError, match=reason):
        prepare_history_directory(str(tmp_path / where))


def test_an_abandoned_reload_removes_the_directories_it_created(
    tmp_path: Path, runtime: Runtime
) -> None:
    """The history directory is made ready, then the web port is taken: both undone."""
    old = Config(devices=(), web=WebConfig(enabled=False))
    components = boot_components(runtime, old, FIXTURES / "x86")
    target = tmp_path / "new" / "history"
    with listening() as squatter:
        new = replace(
            old,
            history=HistoryConfig(directory=str(target)),
            web=WebConfig(host="127.0.0.1", port=squatter.getsockname()[1]),
        )
        with pytest.raises(ReloadError, match="address already in use"):
            prepare(runtime, old, new, diff_configs(old, new), web=None, components=components)
    # The port is checked first; with a free one the directory is made, then given back.
    new = replace(new, web=WebConfig(enabled=False))
    prepared = prepare(runtime, old, new, diff_configs(old, new), web=None, components=components)
    assert target.is_dir() and prepared.history is not None
    prepared.discard(runtime)
    assert not (tmp_path / "new").exists()


# -- devices ---------------------------------------------------------------------------------


def test_a_new_device_that_cannot_attach_changes_nothing(
    runtime: Runtime, message_log: MessageLog, pins: MockFactory
) -> None:
    old = Config(devices=(THERMAL,))
    c = boot_components(runtime, old, FIXTURES / "pi4", pin_factory=pins)
    before = len(message_log)
    nowhere = DeviceConfig("soc", "thermal_zone", ThermalZoneOptions(zone="nowhere"))
    new = Config(devices=(THERMAL, nowhere))
    with pytest.raises(DeviceError, match=re.escape("device soc (thermal_zone): no thermal zone")):
        c.prepare_devices(runtime, diff_configs(old, new))
    assert set(runtime.devices()) == {"thermal_zone"}
    assert [n for n in message_log.names[before:] if n.startswith("device.")] == []


def test_a_status_led_on_the_same_pin_is_handed_over_and_given_back(
    runtime: Runtime, message_log: MessageLog, pins: MockFactory
) -> None:
    """A GPIO pin has one owner: the old LED must let go before the new one can attach."""
    old = Config(devices=(LED,))
    c = boot_components(runtime, old, FIXTURES / "pi4", pin_factory=pins)
    running = c.devices["led"]
    inverted = replace(LED, options=StatusLedOptions(pin=17, active_high=False))
    new = Config(devices=(inverted,))
    diff = diff_configs(old, new)
    prepared = c.prepare_devices(runtime, diff)
    assert [d.id for d in prepared.handed_over] == ["led"]
    prepared.discard(runtime)  # abandoned (say, the web port was taken)
    assert runtime.devices()["led"] is running and running.online
    c.commit(runtime, diff, new, c.prepare_devices(runtime, diff))
    assert runtime.devices()["led"] is not running and runtime.devices()["led"].online
    assert c.devices["led"].active_high is False  # type: ignore[attr-defined]
    story = [
        (type(m).__name__, m.device)
        for m in message_log.messages
        if isinstance(m, message.DeviceAttached | message.DeviceDetached)
    ]
    assert story == [
        ("DeviceAttached", "led"),  # boot
        ("DeviceDetached", "led"),  # handed over
        ("DeviceAttached", "led"),  # given back
        ("DeviceDetached", "led"),  # handed over again
        ("DeviceAttached", "led"),  # the new one, at commit
    ]


def test_a_led_moving_to_a_taken_pin_keeps_the_old_one(runtime: Runtime, pins: MockFactory) -> None:
    from gpiozero import LED as GpioLed

    squatter = GpioLed(18, pin_factory=pins)
    old = Config(devices=(LED,))
    c = boot_components(runtime, old, FIXTURES / "pi4", pin_factory=pins)
    running = c.devices["led"]
    new = Config(devices=(replace(LED, options=StatusLedOptions(pin=18)),))
    with pytest.raises(
        DeviceError, match=re.escape("device led (status_led): GPIO18 is already in use")
    ):
        c.prepare_devices(runtime, diff_configs(old, new))
    assert runtime.devices()["led"] is running and running.online  # never let go
    squatter.close()
