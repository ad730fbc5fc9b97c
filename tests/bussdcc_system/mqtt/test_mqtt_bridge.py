"""The bridge against a real mosquitto: discovery, states, restarts, passwords, TLS.

The runtime runs on a SimClock (ticks happen when the test advances it); the broker, the
link's thread and the test's subscriber are real and talk over 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bussdcc import Runtime
from bussdcc.testing import MessageLog, SimClock
from bussdcc_system import messages as m
from bussdcc_system.config.schema import Config, HistoryConfig, MqttConfig, WebConfig
from bussdcc_system.health import HealthProcess
from bussdcc_system.host import HostRoot
from bussdcc_system.mqtt.bridge import (
    STATE_PATH,
    MqttBridge,
    dashboard_url,
    status_words,
    under_voltage_last_24h,
)
from bussdcc_system.mqtt.entities import entities
from bussdcc_system.mqtt.messages import MqttConnected, MqttDisconnected, MqttUnavailable
from bussdcc_system.state import StateProcess
from tests.bussdcc_system.appliance_helpers import copy_host, wait_until
from tests.bussdcc_system.history.history_helpers import T0, throttling
from tests.bussdcc_system.history.history_helpers import rig as history_rig
from tests.bussdcc_system.mqtt.mosquitto_helpers import (
    Mosquitto,
    Received,
    Subscriber,
    make_test_ca,
    mosquitto,
    publish_once,
)
from tests.bussdcc_system.telemetry_helpers import cpu_usage, pi_telemetry

BASE = "bussdcc-system/pi-kitchen"
STATE = f"{BASE}/state"
AVAILABILITY = f"{BASE}/availability"
ENTITY_COUNT = len(entities(("/", "/boot/firmware")))


def config_for(broker: Mosquitto, tmp_path: Path, **mqtt: object) -> Config:
    settings = {"enabled": True, "host": broker.host, "port": broker.port, "topic": BASE, **mqtt}
    return Config(
        mqtt=MqttConfig(**settings),  # type: ignore[arg-type]
        web=WebConfig(host="0.0.0.0", port=8086),
        history=HistoryConfig(directory=str(tmp_path / "history")),
        disks=replace(Config().disks, mounts=("/", "/boot/firmware")),
    )


class Rig:
    """A runtime with state, health and the bridge; fed one round of Pi telemetry."""

    def __init__(self, config: Config, tmp_path: Path, clock: SimClock | None = None) -> None:
        self.clock = clock or SimClock()
        self.runtime = Runtime(clock=self.clock, join_timeout=5.0)
        self.log = MessageLog()
        self.runtime.events.subscribe(self.log)
        self.runtime.register_process(StateProcess())
        self.runtime.register_process(HealthProcess())
        self.runtime.boot()
        for msg in pi_telemetry():
            self.runtime.emit(msg)
        self.runtime.emit(m.DiskIoUpdated("mmcblk0", 10**9, 5 * 10**9, 0.0, 4096.0))
        self.runtime.wait_idle()
        host = HostRoot(copy_host("pi4", tmp_path))
        self.bridge = MqttBridge(config, host, backoff_initial=0.1, backoff_max=0.5)
        self.runtime.register_service(self.bridge)  # starts at once: the runtime is booted

    def state(self) -> dict[str, object]:
        value = self.runtime.state.get(STATE_PATH)
        assert isinstance(value, dict), value
        return value

    def connected(self) -> bool:
        value = self.runtime.state.get(STATE_PATH)
        return isinstance(value, dict) and value.get("connected") is True

    def tick(self) -> None:
        self.clock.advance(self.bridge.interval)

    def close(self) -> None:
        self.runtime.shutdown("test over")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with mosquitto(tmp_path / "broker") as b:
        yield b


@pytest.fixture
def rig(broker: Mosquitto, tmp_path: Path) -> Iterator[Rig]:
    r = Rig(config_for(broker, tmp_path), tmp_path)
    yield r
    r.close()


def is_state(match: object) -> object:
    return lambda msg: msg.topic == STATE and match(msg.json())  # type: ignore[operator]


def published(rig: Rig, count: int) -> bool:
    link = rig.bridge.link
    return link is not None and link.messages >= count


def test_discovery_carries_what_home_assistant_requires(broker: Mosquitto, rig: Rig) -> None:
    # Subscribed once all went out: what arrives is what the broker retained.
    wait_until(lambda: published(rig, ENTITY_COUNT + 2), what="discovery, availability, state")
    with Subscriber(broker, ("homeassistant/#", f"{BASE}/#")) as sub:
        wait_until(
            lambda: (
                len({x.topic for x in sub.messages if x.topic.endswith("/config")}) == ENTITY_COUNT
            ),
            what="every discovery config",
        )
        configs = {x.topic: x for x in sub.messages if x.topic.endswith("/config")}
        node = "bussdcc_10000000abcdef01"  # the Pi 4 fixture's serial number
        unique_ids = set()
        for topic, received in configs.items():
            prefix, component, node_part, object_id, last = topic.split("/")
            assert (prefix, node_part, last) == ("homeassistant", node, "config")
            assert component in ("sensor", "binary_sensor")
            assert received.retain, topic
            payload = received.json()
            for key in ("unique_id", "state_topic", "device", "availability", "name"):
                assert key in payload, (topic, key)
            assert payload["unique_id"] == f"{node}_{object_id}"
            assert payload["state_topic"] == STATE
            assert payload["availability"] == [{"topic": AVAILABILITY}]
            device = payload["device"]
            assert device["identifiers"] == [node]
            assert device["name"] == "pi-kitchen"
            assert device["model"] == "Raspberry Pi 4 Model B Rev 1.4"
            assert device["sw_version"].startswith("bussdcc-system ")
            assert device["configuration_url"] == "http://192.168.1.20:8086/"
            unique_ids.add(payload["unique_id"])
            if component == "binary_sensor":
                assert payload["device_class"] == "problem"
        assert len(unique_ids) == ENTITY_COUNT
        problems = sorted(t.split("/")[3] for t in configs if "/binary_sensor/" in t)
        assert problems == ["freq_capped", "soft_temp_limit", "throttled", "under_voltage"]
        health = configs[f"homeassistant/sensor/{node}/health/config"].json()
        assert health["json_attributes_topic"] == STATE
        assert health["options"] == ["ok", "warning", "critical"]
        online = sub.wait_for(lambda x: x.topic == AVAILABILITY)
        assert online.payload == b"online"
        assert online.retain


def test_states_arrive_and_change(broker: Mosquitto, rig: Rig) -> None:
    with Subscriber(broker, (f"{BASE}/#",)) as sub:
        first = sub.wait_for(is_state(lambda doc: doc["cpu"] is not None)).json()
        assert first["cpu"] == 12.5
        assert first["temperature"] == 51.2
        assert first["memory"] == 42.1
        assert first["disk_root"] == 26.4
        assert first["disk_boot_firmware"] == 11.8
        assert (first["load_1m"], first["load_5m"], first["load_15m"]) == (0.52, 0.61, 0.7)
        assert (first["network_rx"], first["network_tx"]) == (2048, 512)
        assert first["uptime"] == 4 * 86400 + 3600
        assert first["sd_card_written"] == 5 * 10**9
        # the fake Pi's firmware says under-voltage occurred since boot: a warning
        assert first["health"] == "warning"
        assert first["health_attributes"]["reasons"] == [
            "Under-voltage occurred since boot (check the power supply and cable)"
        ]
        assert first["under_voltage"] == "OFF"
        assert first["under_voltage_episodes_24h"] == 0

        mark = sub.mark()
        rig.runtime.emit(cpu_usage(77.0))
        rig.tick()
        sub.wait_for(is_state(lambda doc: doc["cpu"] == 77.0), after=mark)

        # A power problem goes out at once: no tick.
        mark = sub.mark()
        for msg in pi_telemetry(cpu=77.0, under_voltage=True):
            if isinstance(msg, m.ThrottlingUpdated):
                rig.runtime.emit(msg)
        now = sub.wait_for(is_state(lambda doc: doc["under_voltage"] == "ON"), after=mark).json()
        assert now["health"] == "critical"
        assert any("Under-voltage" in r for r in now["health_attributes"]["reasons"])
    assert rig.connected()
    assert status_words(rig.state()) == f"MQTT connected to 127.0.0.1:{broker.port}"


def test_home_assistant_restart_gets_discovery_again(broker: Mosquitto, rig: Rig) -> None:
    wait_until(lambda: published(rig, ENTITY_COUNT + 2), what="discovery, availability, state")
    with Subscriber(broker, ("homeassistant/sensor/+/cpu/config",)) as sub:
        sub.wait_for(lambda x: x.retain)
        mark = sub.mark()
        publish_once(broker, "homeassistant/status", b"online")
        again = sub.wait_for(lambda x: x.topic.endswith("/cpu/config"), after=mark)
        assert not again.retain  # sent live, not replayed from the broker's store


def test_publishing_resumes_after_the_broker_restarts(broker: Mosquitto, rig: Rig) -> None:
    wait_until(rig.connected, what="the first connection")
    broker.stop()
    rig.log.wait_for(MqttDisconnected, timeout=20)
    assert not rig.connected()
    words = status_words(rig.state())
    assert words is not None and words.startswith("MQTT not connected to 127.0.0.1:")
    # What happens while the broker is away is kept, latest first
    rig.runtime.emit(cpu_usage(33.0))
    rig.tick()
    rig.runtime.emit(cpu_usage(44.0))
    rig.tick()
    broker.start()
    with Subscriber(broker, ("homeassistant/#", f"{BASE}/#")) as sub:
        # mosquitto kept nothing (no persistence): all of this is the bridge's again
        online = sub.wait_for(lambda x: x.topic == AVAILABILITY, timeout=30)
        assert online.payload == b"online"
        state = sub.wait_for(lambda x: x.topic == STATE, timeout=30).json()
        assert state["cpu"] == 44.0
        wait_until(
            lambda: (
                len({x.topic for x in sub.messages if x.topic.endswith("/config")}) == ENTITY_COUNT
            ),
            what="discovery published again",
        )
    assert len(rig.log.of_type(MqttConnected)) == 2


def test_a_wrong_password_is_said_in_words(tmp_path: Path) -> None:
    with mosquitto(tmp_path / "broker", users={"pi": "right horse"}) as broker:
        password = tmp_path / "password"
        password.write_text("wrong horse\n")
        config = config_for(broker, tmp_path, username="pi", password_file=str(password))
        rig = Rig(config, tmp_path)
        try:
            failed = rig.log.wait_for(MqttUnavailable).payload
            assert isinstance(failed, MqttUnavailable)
            assert failed.reason == (
                f"the MQTT broker at 127.0.0.1:{broker.port} refused the connection: not"
                " authorised (check mqtt.username and the password in mqtt.password_file)"
            )
            assert rig.state()["error"] == failed.reason
            assert not rig.connected()
            # Fixed on disk: the next attempt reads it again and connects.
            password.write_text("right horse\n")
            rig.log.wait_for(MqttConnected, timeout=20)
            assert rig.connected()
            assert len(rig.log.of_type(MqttUnavailable)) == 1  # said once, not per attempt
        finally:
            rig.close()


def test_an_unreadable_password_file_is_said_in_words(tmp_path: Path) -> None:
    with mosquitto(tmp_path / "broker", users={"pi": "pw"}) as broker:
        missing = tmp_path / "nowhere" / "password"
        rig = Rig(config_for(broker, tmp_path, username="pi", password_file=str(missing)), tmp_path)
        try:
            failed = rig.log.wait_for(MqttUnavailable).payload
            assert isinstance(failed, MqttUnavailable)
            assert failed.reason == (
                f"cannot read the MQTT password file {missing}: No such file or directory"
            )
        finally:
            rig.close()


def test_tls_with_a_test_ca(tmp_path: Path) -> None:
    ca = make_test_ca(tmp_path / "ca")
    with mosquitto(tmp_path / "broker", tls=ca) as broker:
        assert broker.tls_port is not None
        trusted = config_for(broker, tmp_path, port=broker.tls_port, tls=True, ca_file=str(ca.ca))
        with Subscriber(broker, (STATE,)) as sub:  # on the plain listener
            rig = Rig(trusted, tmp_path)
            try:
                connected = rig.log.wait_for(MqttConnected).payload
                assert isinstance(connected, MqttConnected) and connected.tls
                assert sub.wait_for(lambda x: x.topic == STATE).json()["cpu"] == 12.5
            finally:
                rig.close()

        untrusted = config_for(broker, tmp_path, port=broker.tls_port, tls=True)
        rig = Rig(untrusted, tmp_path / "untrusted")
        try:
            failed = rig.log.wait_for(MqttUnavailable).payload
            assert isinstance(failed, MqttUnavailable)
            assert failed.reason.startswith(
                f"the MQTT broker at 127.0.0.1:{broker.tls_port}: its TLS certificate is not"
                " trusted: "
            )
            assert failed.reason.endswith("(set mqtt.ca_file to the CA that signed it)")
        finally:
            rig.close()

        plain = config_for(broker, tmp_path, port=broker.tls_port)
        rig = Rig(plain, tmp_path / "plain")
        try:
            failed = rig.log.wait_for(MqttUnavailable).payload
            assert isinstance(failed, MqttUnavailable)
            assert "does it expect TLS?" in failed.reason, failed.reason
        finally:
            rig.close()


def test_a_clean_stop_says_offline(broker: Mosquitto, tmp_path: Path) -> None:
    rig = Rig(config_for(broker, tmp_path), tmp_path)
    with Subscriber(broker, (AVAILABILITY,)) as sub:
        sub.wait_for(lambda x: x.payload == b"online")
        rig.close()
        sub.wait_for(lambda x: x.payload == b"offline")
    with Subscriber(broker, (AVAILABILITY,)) as later:  # what Home Assistant finds later
        kept: Received = later.wait_for(lambda x: x.topic == AVAILABILITY)
        assert (kept.payload, kept.retain) == (b"offline", True)
    assert rig.runtime.state.get(STATE_PATH) is None  # stopped: nothing to say in STATUS=


# -- what the bridge works out without a broker -------------------------------------------


def test_the_dashboard_link() -> None:
    addresses = [
        {"interface": "lo", "family": "ipv4", "address": "127.0.0.1"},
        {"interface": "eth0", "family": "ipv6", "address": "fe80::1"},
        {"interface": "eth0", "family": "ipv4", "address": "192.168.1.20"},
    ]
    everywhere = WebConfig(host="0.0.0.0", port=8086)
    assert dashboard_url(everywhere, "pi", addresses) == "http://192.168.1.20:8086/"
    assert dashboard_url(everywhere, "pi", []) == "http://pi:8086/"
    assert dashboard_url(WebConfig(host="fd00::5", port=80), "pi", []) == "http://[fd00::5]:80/"
    assert dashboard_url(WebConfig(host="127.0.0.1"), "pi", addresses) is None
    assert dashboard_url(WebConfig(enabled=False), "pi", addresses) is None


def test_status_words() -> None:
    assert status_words(None) is None
    state = {"enabled": True, "broker": "b:1883", "connected": False, "error": "refused"}
    assert status_words(state) == "MQTT not connected to b:1883: refused"
    assert status_words({**state, "connected": True}) == "MQTT connected to b:1883"


def test_under_voltage_of_the_last_day_from_history(tmp_path: Path) -> None:
    clock = SimClock(T0, monotonic_start=100.0)
    with history_rig(tmp_path, clock=clock, boot_id="boot-a") as r:
        r.emit(throttling(0x0))
        clock.advance(60)
        r.emit(throttling(0x50001))  # under-voltage for 90 s
        clock.advance(90)
        r.emit(throttling(0x50000))
        clock.advance(600)
        r.emit(throttling(0x50001))  # and again, still on
        clock.advance(30)
        r.emit(cpu_usage(1.0))
    now = T0.timestamp() + 60 + 90 + 600 + 30
    assert under_voltage_last_24h(str(tmp_path), now) == {
        "under_voltage_episodes_24h": 2,
        "under_voltage_seconds_24h": 120,
    }
    a_day_later = T0.timestamp() + 150 + 86400 + 1  # the first one ended over 24 h before
    stats = under_voltage_last_24h(str(tmp_path), a_day_later)
    assert stats["under_voltage_episodes_24h"] == 1
    assert under_voltage_last_24h(str(tmp_path / "none"), now)["under_voltage_episodes_24h"] == 0


def test_the_last_day_of_under_voltage_comes_from_history(
    broker: Mosquitto, tmp_path: Path
) -> None:
    clock = SimClock(T0, monotonic_start=100.0)
    with history_rig(tmp_path / "history", clock=clock, boot_id="boot-a") as r:
        r.emit(throttling(0x0))
        clock.advance(10)
        r.emit(throttling(0x50001))
        clock.advance(75)
        r.emit(throttling(0x50000))
        clock.advance(5)
    config = config_for(broker, tmp_path)
    rig = Rig(config, tmp_path, SimClock(T0 + timedelta(hours=2)))
    try:
        with Subscriber(broker, (STATE,)) as sub:
            doc = sub.wait_for(is_state(lambda d: d["cpu"] is not None)).json()
        assert (doc["under_voltage_episodes_24h"], doc["under_voltage_duration_24h"]) == (1, 75)
    finally:
        rig.close()
