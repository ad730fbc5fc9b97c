"""One connection to one MQTT broker, on its own thread, that never makes a caller wait.

Callers (the dispatch thread, a service tick) only :meth:`MqttLink.offer` a payload for
a topic: it goes into the :class:`Outbox`, which keeps the *latest* payload of each topic
(so it is bounded by the number of topics, not by how long the broker is away) and marks
it pending. The link's thread owns the paho client and does all the network work:
connect (TCP, TLS, CONNACK), publish what is pending, answer keepalives, and, when the
broker is away, try again after 1, 2, 4 ... ``backoff_max`` seconds. On every new
connection everything in the outbox is pending again, so the broker gets the latest
state as soon as it is back.

The availability topic is the last will: the broker publishes ``offline`` (retained)
when it notices the connection is gone without a DISCONNECT (the daemon was killed,
the Pi lost power: after 1.5 keepalives). A clean :meth:`MqttLink.stop` publishes
``offline`` itself and then disconnects.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bussdcc_system.mqtt.paho_compat import SUCCESS, Callbacks, new_client

__all__ = [
    "KEEPALIVE",
    "OFFLINE",
    "ONLINE",
    "BrokerSettings",
    "LinkStatus",
    "MqttLink",
    "Outbox",
    "Publication",
    "read_password",
]

log = logging.getLogger("bussdcc_system.mqtt")

KEEPALIVE: Final = 30
"""Seconds between keepalives: a broker gives up on a silent client after 1.5 times this
(45 s), so a Pi that lost power shows ``offline`` within about 45 s."""
ONLINE: Final = b"online"
OFFLINE: Final = b"offline"
CONNACK_TIMEOUT: Final = 10.0
LOOP_TIMEOUT: Final = 0.25
"""Longest wait in the network loop: how soon an offered payload leaves, at worst."""
GOODBYE_TIMEOUT: Final = 3.0
OUTBOX_LIMIT: Final = 512


@dataclass(frozen=True)
class BrokerSettings:
    """Where and how to connect (plain values, built from ``mqtt:`` by the bridge)."""

    host: str
    port: int
    client_id: str
    availability_topic: str
    username: str | None = None
    password_file: str | None = None
    tls: bool = False
    ca_file: str | None = None
    keepalive: int = KEEPALIVE
    subscriptions: tuple[str, ...] = ()
    """Topics to hear (Home Assistant's status topic); ``on_message`` gets them."""

    @property
    def broker(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class LinkStatus:
    """What the link is doing now: connected, or why not (words)."""

    connected: bool
    error: str | None = None
    retry_in: float | None = None


@dataclass(frozen=True)
class Publication:
    topic: str
    payload: bytes
    retain: bool = False
    qos: int = 0


@dataclass
class Outbox:
    """The latest payload of each topic and which of them the broker has yet to get.

    Bounded: at most ``limit`` topics (a new topic beyond that is refused and counted in
    ``refused``); offering a topic again replaces its payload, so a broker that is away
    for a day costs nothing more than one that is away for a second."""

    limit: int = OUTBOX_LIMIT
    refused: int = 0
    _latest: dict[str, Publication] = field(default_factory=dict)
    _pending: dict[str, None] = field(default_factory=dict)  # insertion-ordered set
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, publication: Publication, *, if_changed: bool = False) -> bool:
        """Keep ``publication`` as its topic's latest; False when refused (full), or when
        ``if_changed`` and the topic already has this payload."""
        with self._lock:
            old = self._latest.get(publication.topic)
            if old is None and len(self._latest) >= self.limit:
                self.refused += 1
                return False
            if if_changed and old == publication:
                return False
            self._latest[publication.topic] = publication
            self._pending[publication.topic] = None
            return True

    def forget(self, topic: str) -> None:
        with self._lock:
            self._latest.pop(topic, None)
            self._pending.pop(topic, None)

    def all_pending(self) -> None:
        """After a (re)connection: the broker gets everything again."""
        with self._lock:
            self._pending = dict.fromkeys(self._latest)

    def take(self) -> list[Publication]:
        """The pending publications, oldest offer first; they are no longer pending."""
        with self._lock:
            out = [self._latest[t] for t in self._pending if t in self._latest]
            self._pending.clear()
            return out

    def again(self, publications: list[Publication]) -> None:
        """Pending once more (they could not be handed to the client)."""
        with self._lock:
            for p in publications:
                if self._latest.get(p.topic) == p:
                    self._pending[p.topic] = None

    @property
    def topics(self) -> list[str]:
        with self._lock:
            return list(self._latest)


def read_password(path: str) -> str:
    """The first line of ``path``; ``ValueError`` in words when it cannot be used."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(
            f"cannot read the MQTT password file {path}: {exc.strerror or exc}"
        ) from None
    except UnicodeDecodeError:
        raise ValueError(f"the MQTT password file {path} is not UTF-8 text") from None
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise ValueError(f"the MQTT password file {path} is empty (its first line is the password)")
    return lines[0]


def _tls_context(settings: BrokerSettings) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=settings.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"cannot load the CA file {settings.ca_file}: {_os_words(exc)}") from None


def _os_words(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def connect_error_words(exc: BaseException, settings: BrokerSettings) -> str:
    """Why ``connect`` raised, in words an admin can act on."""
    where = f"the MQTT broker at {settings.broker}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        hint = "" if settings.ca_file else " (set mqtt.ca_file to the CA that signed it)"
        return f"{where}: its TLS certificate is not trusted: {exc.verify_message}{hint}"
    if isinstance(exc, ssl.SSLError):
        return f"{where}: the TLS handshake failed: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return f"{where} refused the connection (is it running and listening on that port?)"
    if isinstance(exc, socket.gaierror):
        return f"cannot find the MQTT broker's host {settings.host!r}: {exc.strerror or exc}"
    if isinstance(exc, TimeoutError):
        return f"{where} did not answer in time"
    if isinstance(exc, ConnectionError):
        return f"{where} closed the connection ({_os_words(exc)})" + (
            "" if settings.tls else "; does it expect TLS?"
        )
    return f"cannot connect to {where}: {_os_words(exc)}"


class MqttLink:
    """The client thread: see the module doc. ``on_status`` is called from that thread
    on every change of :class:`LinkStatus`; ``on_message`` for subscribed topics."""

    def __init__(
        self,
        settings: BrokerSettings,
        *,
        on_status: Callable[[LinkStatus], None] | None = None,
        on_message: Callable[[str, bytes], None] | None = None,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        outbox: Outbox | None = None,
    ) -> None:
        self.settings = settings
        self.outbox = outbox if outbox is not None else Outbox()
        self._on_status = on_status or (lambda status: None)
        self._on_message = on_message or (lambda topic, payload: None)
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._status = LinkStatus(False)
        self._client: Any = None
        self._connack: str | bool | None = False  # False: none yet; None: accepted; str: why not
        self._lost: str | None = None
        self.messages = 0
        """Publications handed to the client since start (availability included)."""
        self.bytes = 0
        """Their topic and payload bytes."""
        self.connections = 0

    @property
    def status(self) -> LinkStatus:
        return self._status

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"mqtt {self.settings.broker}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Say ``offline`` if connected, disconnect, end the thread (bounded wait)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning(
                    "the MQTT thread for %s did not end in %gs", self.settings.broker, timeout
                )

    def offer(self, publication: Publication, *, if_changed: bool = False) -> bool:
        """Never blocks: the latest payload of the topic, sent when connected."""
        return self.outbox.put(publication, if_changed=if_changed)

    # -- the thread -----------------------------------------------------------------

    def _set_status(self, status: LinkStatus) -> None:
        if status != self._status:
            self._status = status
            try:
                self._on_status(status)
            except Exception:
                log.exception("MQTT status callback failed")

    def _run(self) -> None:
        delay = self.backoff_initial
        while not self._stop.is_set():
            error = self._connect()
            if error is None:
                delay = self.backoff_initial
                self.connections += 1
                self._set_status(LinkStatus(True))
                error = self._serve()
                if error is None:  # stopped while connected
                    break
                log.warning("MQTT: %s; reconnecting", error)
            else:
                log.debug("MQTT: %s; next try in %gs", error, delay)
            self._close()
            self._set_status(LinkStatus(False, error, delay))
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, self.backoff_max)
        self._close()
        self._set_status(LinkStatus(False, None))

    def _new_client(self) -> Any:
        s = self.settings
        client = new_client(
            s.client_id, Callbacks(self._connacked, self._disconnected, self._message)
        )
        client.will_set(s.availability_topic, OFFLINE, qos=1, retain=True)
        if s.username is not None:
            password = read_password(s.password_file) if s.password_file else None
            client.username_pw_set(s.username, password)
        if s.tls:
            client.tls_set_context(_tls_context(s))
        return client

    def _connect(self) -> str | None:
        """A connection the broker accepted (None), or why not."""
        s = self.settings
        try:
            self._client = client = self._new_client()
        except ValueError as exc:  # the password or CA file
            return str(exc)
        self._connack, self._lost = False, None
        try:
            client.connect(s.host, s.port, keepalive=s.keepalive)
        except (OSError, ssl.SSLError) as exc:
            return connect_error_words(exc, s)
        deadline = time.monotonic() + CONNACK_TIMEOUT
        while self._connack is False:
            if self._stop.is_set():
                return "stopping"
            rc = client.loop(timeout=LOOP_TIMEOUT)
            if self._connack is not False:
                break
            if rc != SUCCESS or self._lost is not None:
                return (
                    f"the MQTT broker at {s.broker} closed the connection before accepting it"
                    + (" (does it expect TLS?)" if not s.tls else "")
                )
            if time.monotonic() > deadline:
                return f"the MQTT broker at {s.broker} did not answer within {CONNACK_TIMEOUT:g}s"
        if isinstance(self._connack, str):
            return f"the MQTT broker at {s.broker} refused the connection: {self._connack}"
        return None

    def _serve(self) -> str | None:
        """Publish until the connection is lost (its reason) or we stop (None)."""
        client = self._client
        for topic in self.settings.subscriptions:
            client.subscribe(topic, qos=0)
        self.outbox.all_pending()
        self._publish(Publication(self.settings.availability_topic, ONLINE, retain=True, qos=1))
        while not self._stop.is_set():
            batch = self.outbox.take()
            for i, publication in enumerate(batch):
                if not self._publish(publication):
                    self.outbox.again(batch[i:])
                    break
            rc = client.loop(timeout=LOOP_TIMEOUT)
            if self._lost is not None or rc != SUCCESS:
                return self._lost or f"the connection to {self.settings.broker} was lost"
        self._goodbye()
        return None

    def _publish(self, p: Publication) -> bool:
        info = self._client.publish(p.topic, p.payload, qos=p.qos, retain=p.retain)
        if info.rc != SUCCESS:
            return False
        self.messages += 1
        self.bytes += len(p.topic.encode()) + len(p.payload)
        return True

    def _goodbye(self) -> None:
        """``offline`` (what the will would say), then a clean DISCONNECT."""
        client = self._client
        info = client.publish(self.settings.availability_topic, OFFLINE, qos=1, retain=True)
        deadline = time.monotonic() + GOODBYE_TIMEOUT
        while not info.is_published() and time.monotonic() < deadline:
            if client.loop(timeout=0.1) != SUCCESS:
                break
        client.disconnect()
        client.loop(timeout=0.1)

    def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # already gone
                client.disconnect()
            sock = client.socket()
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()

    # -- paho callbacks (called inside client.loop, on this thread) -----------------

    def _connacked(self, refusal: str | None) -> None:
        self._connack = refusal

    def _disconnected(self, reason: str | None) -> None:
        self._lost = reason or "the broker closed the connection"

    def _message(self, topic: str, payload: bytes) -> None:
        try:
            self._on_message(topic, payload)
        except Exception:
            log.exception("MQTT message handler failed for %s", topic)
