"""A real mosquitto on a free loopback port, a test CA, and a subscriber that records.

Debian's ``mosquitto`` is started by the test with a generated config (``listener PORT
127.0.0.1``); it skips with the reason when mosquitto is not installed, and fails
under CI=true (``tests/prerequisites.py``). Only loopback addresses are used.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bussdcc_system.mqtt.paho_compat import SUCCESS, Callbacks, new_client
from tests.bussdcc_system.daemon_harness import free_port
from tests.prerequisites import unavailable

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
LOCALHOST = "127.0.0.1"


def need_mosquitto() -> None:
    if not Path(MOSQUITTO).exists():
        unavailable(f"no mosquitto at {MOSQUITTO} (apt-get install mosquitto)")


def need_openssl() -> str:
    openssl = shutil.which("openssl")
    if openssl is None:
        unavailable("no openssl command (apt-get install openssl)")
    return openssl


@dataclass(frozen=True)
class TestCA:
    ca: Path
    cert: Path
    key: Path


def make_test_ca(directory: Path) -> TestCA:
    """A throwaway CA and a server certificate for 127.0.0.1, made with openssl."""
    openssl = need_openssl()
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    ext = directory / "server.ext"
    ext.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "authorityKeyIdentifier=keyid\n"
        "subjectKeyIdentifier=hash\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca_subject = ["-subj", "/CN=bussdcc-system test CA"]
    ca_extensions = ["-addext", "basicConstraints=critical,CA:TRUE"]
    ca_extensions += ["-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    signing = ["-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-extfile", ext]
    run = [
        [openssl, "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, *ca_subject, *ca_extensions],
        [openssl, "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        [openssl, "x509", "-req", "-in", csr, *signing, "-out", cert, "-days", "2"],
    ]
    for argv in run:
        subprocess.run([str(a) for a in argv], check=True, capture_output=True, timeout=60)
    return TestCA(ca, cert, key)


class Mosquitto:
    """``mosquitto -c <generated config>`` on ``port`` (and TLS on ``tls_port`` with a
    test CA); ``restart`` keeps the ports."""

    def __init__(
        self,
        directory: Path,
        *,
        users: dict[str, str] | None = None,
        tls: TestCA | None = None,
        port: int | None = None,
    ) -> None:
        need_mosquitto()
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.host = LOCALHOST
        lines = [f"listener {self.port} {LOCALHOST}", "persistence false", "user root"]
        if users:
            pw = directory / "passwords"
            pw.write_text("")
            for user, password in users.items():
                subprocess.run(
                    [MOSQUITTO_PASSWD, "-b", str(pw), user, password],
                    check=True,
                    capture_output=True,
                    timeout=30,
                )
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines.append("allow_anonymous true")
        self.tls_port: int | None = None
        if tls is not None:  # a second listener, TLS only; settings after it are its own
            self.tls_port = free_port()
            lines += [f"listener {self.tls_port} {LOCALHOST}"]
            lines += [f"cafile {tls.ca}", f"certfile {tls.cert}", f"keyfile {tls.key}"]
        self.config = directory / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")
        self.log = directory / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Mosquitto:
        seen = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        end = time.monotonic() + 15
        while b" running" not in self.log.read_bytes()[seen:]:
            if self.proc.poll() is not None or time.monotonic() > end:
                raise AssertionError(f"mosquitto did not start: {self.log.read_text()}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def mosquitto(directory: Path, **kwargs: Any) -> Iterator[Mosquitto]:
    broker = Mosquitto(directory, **kwargs).start()
    try:
        yield broker
    finally:
        broker.stop()


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    at: float  # time.monotonic() when it arrived

    def json(self) -> Any:
        return json.loads(self.payload)


class Subscriber:
    """A plain MQTT client of the test, subscribed to ``topics``, recording every message
    (it reconnects by itself after a broker restart)."""

    def __init__(
        self,
        broker: Mosquitto,
        topics: tuple[str, ...] = ("#",),
        *,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.messages: list[Received] = []
        self.bytes = 0
        self._cond = threading.Condition()
        self._topics = topics
        self._connected = threading.Event()
        self.client = new_client(
            f"test-subscriber-{id(self)}",
            Callbacks(self._on_connect, self._on_disconnect, self._on_message),
        )
        self.client.on_message = self._raw_message
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect(broker.host, broker.port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(10):
            raise AssertionError("the test subscriber could not connect")

    def _on_connect(self, refusal: str | None) -> None:
        if refusal is None:
            for topic in self._topics:
                self.client.subscribe(topic, qos=1)
            self._connected.set()

    def _on_disconnect(self, reason: str | None) -> None:
        self._connected.clear()

    def _on_message(self, topic: str, payload: bytes) -> None:  # replaced by _raw_message
        raise AssertionError("unused")

    def _raw_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self._cond:
            self.messages.append(
                Received(str(msg.topic), bytes(msg.payload), bool(msg.retain), time.monotonic())
            )
            self.bytes += len(msg.topic) + len(msg.payload)
            self._cond.notify_all()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def on(self, topic: str) -> list[Received]:
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def wait_for(
        self, match: Callable[[Received], bool], *, timeout: float = 20.0, after: int = 0
    ) -> Received:
        """The first message from index ``after`` on that matches; fail listing the topics
        seen if none arrives within ``timeout`` real seconds."""
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                for msg in self.messages[after:]:
                    if match(msg):
                        return msg
                left = end - time.monotonic()
                if left <= 0:
                    seen = sorted({m.topic for m in self.messages})
                    raise AssertionError(f"no matching MQTT message in {timeout}s; topics: {seen}")
                self._cond.wait(left)

    def mark(self) -> int:
        with self._cond:
            return len(self.messages)


def publish_once(broker: Mosquitto, topic: str, payload: bytes, *, retain: bool = False) -> None:
    """One message from a short-lived client (Home Assistant saying ``online``)."""
    done = threading.Event()
    client = new_client(
        f"test-publisher-{id(done)}",
        Callbacks(lambda refusal: done.set(), lambda reason: None, lambda t, p: None),
    )
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        assert done.wait(10), "the test publisher could not connect"
        info = client.publish(topic, payload, qos=1, retain=retain)
        assert info.rc == SUCCESS
        info.wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()
