"""The real daemon and a real mosquitto: reload turns MQTT on and off, SIGTERM says
``offline`` itself, and after ``kill -9`` the broker says it (the last will)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.bussdcc_system.appliance_helpers import write_config
from tests.bussdcc_system.daemon_harness import REPO, DaemonProcess, NotifySocket, free_port
from tests.bussdcc_system.mqtt.mosquitto_helpers import Mosquitto, Subscriber, mosquitto

pytestmark = pytest.mark.slow

TOPIC = "bussdcc-test/daemon"
AVAILABILITY = f"{TOPIC}/availability"
# The daemon imports the same paho as the tests (a paho-mqtt 1.6 put first on the path).
SAME_PATH = {"PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}


def mqtt_section(broker: Mosquitto, *, enabled: bool = True) -> str:
    return f"""\
mqtt:
  enabled: {str(enabled).lower()}
  host: {broker.host}
  port: {broker.port}
  topic: {TOPIC}
  interval: 1
"""


def configure(path: Path, broker: Mosquitto, web_port: int, *, enabled: bool = True) -> Path:
    return write_config(
        path,
        port=web_port,
        history=path.parent / "history",
        devices="devices: []\n",
        extra=mqtt_section(broker, enabled=enabled),
    )


def availability(sub: Subscriber, payload: bytes, after: int, timeout: float = 30.0) -> float:
    """When (time.monotonic) the availability topic said ``payload`` after ``after``."""
    msg = sub.wait_for(
        lambda x: x.topic == AVAILABILITY and x.payload == payload, after=after, timeout=timeout
    )
    return msg.at


def test_reload_stop_and_kill(tmp_path: Path) -> None:
    with mosquitto(tmp_path / "broker") as broker, Subscriber(broker, (AVAILABILITY,)) as sub:
        config = configure(tmp_path / "config.yaml", broker, free_port())
        notify = NotifySocket(tmp_path / "notify.sock")
        try:
            with DaemonProcess(config, notify, watchdog_usec=None, extra_env=SAME_PATH) as daemon:
                mark = sub.mark()
                availability(sub, b"online", mark)
                # Reload with mqtt off: the bridge stops and says so itself ...
                mark = sub.mark()
                configure(config, broker, free_port(), enabled=False)
                daemon.signal(signal.SIGHUP)
                availability(sub, b"offline", mark)
                # ... and on again.
                mark = sub.mark()
                configure(config, broker, free_port())
                daemon.signal(signal.SIGHUP)
                availability(sub, b"online", mark)
                mark = sub.mark()
                daemon.signal(signal.SIGTERM)
                availability(sub, b"offline", mark)
                assert daemon.wait() == 0

            with DaemonProcess(config, notify, extra_env=SAME_PATH) as daemon:
                mark = sub.mark()
                availability(sub, b"online", mark)
                # systemctl status says so too: STATUS= (sent with each watchdog ping).
                broker_words = f"MQTT connected to 127.0.0.1:{broker.port}"
                notify.wait_for(lambda m: broker_words in m.get("STATUS", ""), timeout=30.0)
                mark = sub.mark()
                killed = time.monotonic()
                daemon.signal(signal.SIGKILL)
                # The kernel closes the dead process's socket: the broker publishes the
                # will at once (a Pi that lost power instead: after 1.5 keepalives).
                said = availability(sub, b"offline", mark, timeout=60.0)
                assert daemon.wait() == -signal.SIGKILL
                assert said >= killed
        finally:
            notify.close()
