"""What the daemon sends to an MQTT broker, and what the broker sees when it dies.

Starts a throwaway mosquitto on a free loopback port and the real daemon (``bussdcc-system
run``, default sampling and ``mqtt.interval``), counts at the broker with a subscriber to
``#`` for ``--minutes`` (after the first connection's discovery burst, which is counted
apart), then:

- ``kill -9``: the kernel closes the dead process's socket, the broker publishes the
  will (``offline``) at once;
- ``SIGSTOP`` (a frozen or powered-off Pi: the socket stays open, nothing more is
  sent): the broker publishes the will after 1.5 keepalives.

    python bench/bench_mqtt.py --minutes 3
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "src")]

from bussdcc_system.mqtt.link import KEEPALIVE  # noqa: E402
from tests.bussdcc_system.daemon_harness import DaemonProcess, free_port  # noqa: E402
from tests.bussdcc_system.mqtt.mosquitto_helpers import Subscriber, mosquitto  # noqa: E402

TOPIC = "bussdcc-system/bench"
AVAILABILITY = f"{TOPIC}/availability"


def config(directory: Path, port: int) -> Path:
    path = directory / "config.yaml"
    path.write_text(
        f"""\
web:
  host: 127.0.0.1
  port: {free_port()}
history:
  directory: {directory / "history"}
devices: []
mqtt:
  enabled: true
  host: 127.0.0.1
  port: {port}
  topic: {TOPIC}
"""
    )
    return path


def online(sub: Subscriber, after: int) -> None:
    sub.wait_for(lambda m: m.topic == AVAILABILITY and m.payload == b"online", after=after)


def offline_after(sub: Subscriber, after: int, since: float, timeout: float) -> float:
    msg = sub.wait_for(
        lambda m: m.topic == AVAILABILITY and m.payload == b"offline",
        after=after,
        timeout=timeout,
    )
    return msg.at - since


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-mqtt-") as tmp:
        work = Path(tmp)
        with mosquitto(work / "broker") as broker, Subscriber(broker, ("#",)) as sub:
            path = config(work, broker.port)
            with DaemonProcess(path, None, watchdog_usec=None) as daemon:
                online(sub, 0)
                time.sleep(5)  # discovery, the first state
                burst = list(sub.messages)
                start, start_bytes = sub.mark(), sub.bytes
                t0 = time.monotonic()
                time.sleep(args.minutes * 60)
                minutes = (time.monotonic() - t0) / 60
                steady = sub.messages[start:]
                sent_bytes = sub.bytes - start_bytes
                print(
                    f"first connection: {len(burst)} messages, "
                    f"{sum(len(m.topic) + len(m.payload) for m in burst)} bytes "
                    "(discovery, availability, state)"
                )
                print(
                    f"then, over {minutes:.1f} min: {len(steady) / minutes:.1f} messages/min, "
                    f"{sent_bytes / minutes:.0f} bytes/min of topic + payload"
                )
                state = [m for m in steady if m.topic.endswith("/state")]
                if state:
                    print(f"one state message: {len(state[-1].payload)} bytes of JSON")
                mark = sub.mark()
                killed = time.monotonic()
                daemon.signal(signal.SIGKILL)
                took = offline_after(sub, mark, killed, 30.0)
                print(f"kill -9: the broker published the will {took:.2f} s later")
            with DaemonProcess(path, None, watchdog_usec=None) as daemon:
                mark = sub.mark()
                online(sub, mark)
                mark = sub.mark()
                frozen = time.monotonic()
                daemon.signal(signal.SIGSTOP)
                took = offline_after(sub, mark, frozen, 3 * KEEPALIVE)
                print(
                    f"SIGSTOP (silent, socket open): the will {took:.1f} s later "
                    f"(keepalive {KEEPALIVE} s)"
                )
                daemon.signal(signal.SIGKILL)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
