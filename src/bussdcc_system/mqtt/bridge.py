"""The appliance's side of MQTT: a service that turns the state tree into Home Assistant
discovery and one state document, and reports how the broker link is doing.

``MqttBridge`` is a kernel ``Service``. Every ``mqtt.interval`` seconds its tick offers
the state document (and the discovery configs, sent again only when they change) to the
:class:`~bussdcc_system.mqtt.link.MqttLink`; a throttling or health change is offered at
once from ``handle_event``. Offering never blocks: the link's own thread talks to the
broker. The under-voltage episodes of the last 24 hours are read from history in the
tick: every five minutes, and once the history sink has written an under-voltage that
started or ended (``history.flush_interval`` later).

It owns the state at ``system.mqtt``: ``{"enabled", "broker", "tls", "connected",
"error", "since", "messages", "bytes", "state_topic"}``, where the dashboard, the API
and ``STATUS=`` (:func:`status_words`) read whether MQTT is connected.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from bussdcc import Service
from bussdcc_system import messages as m
from bussdcc_system.config.schema import Config, MqttConfig, WebConfig
from bussdcc_system.formatting import iso_time
from bussdcc_system.history.episodes import find_episodes
from bussdcc_system.host import HostRoot
from bussdcc_system.mqtt.discovery import Device, Topics, discovery_messages, node_id
from bussdcc_system.mqtt.entities import Entity, entities, state_document
from bussdcc_system.mqtt.link import BrokerSettings, LinkStatus, MqttLink, Publication
from bussdcc_system.mqtt.messages import MqttConnected, MqttDisconnected, MqttUnavailable
from bussdcc_system.mqtt.status import STATE_PATH, status_words

if TYPE_CHECKING:
    from bussdcc import Context, Event, Message

__all__ = [
    "EPISODES_REFRESH",
    "STATE_PATH",
    "MqttBridge",
    "dashboard_url",
    "mqtt_bridge",
    "status_words",
    "under_voltage_last_24h",
]

log = logging.getLogger("bussdcc_system.mqtt")

EPISODES_REFRESH: Final = 300.0
"""Seconds between two readings of the under-voltage episodes from history."""
DAY: Final = 86400.0


def under_voltage_last_24h(directory: str, now: float) -> dict[str, float | int]:
    """The number of under-voltage episodes overlapping the last 24 hours before ``now``
    (POSIX seconds) and how many seconds of that day they cover."""
    start = now - DAY
    found = find_episodes(directory, start, now, kinds=["under_voltage"])
    seconds = sum(
        max(0.0, min(e.end if e.end is not None else now, now) - max(e.start, start)) for e in found
    )
    return {"under_voltage_episodes_24h": len(found), "under_voltage_seconds_24h": round(seconds)}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def dashboard_url(web: WebConfig, hostname: str | None, addresses: Any) -> str | None:
    """The dashboard as another machine on the LAN reaches it: the listen address, or
    (listening on all) the first IPv4 address of the Pi, else its host name; None when
    the dashboard is off or listens on this Pi only."""
    if not web.enabled:
        return None
    host: str | None = web.host
    if host in ("0.0.0.0", "::"):
        host = None
        for addr in addresses if isinstance(addresses, list | tuple) else ():
            if isinstance(addr, Mapping) and addr.get("family") == "ipv4":
                candidate = str(addr.get("address") or "")
                if candidate and not _is_loopback(candidate):
                    host = candidate
                    break
        host = host or hostname
    if not host or _is_loopback(host):
        return None
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{web.port}/"


class MqttBridge(Service):
    """Publishes this Pi to an MQTT broker (see the module doc)."""

    name = "mqtt"

    def __init__(
        self,
        config: Config,
        host: HostRoot,
        *,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
    ) -> None:
        self.settings: MqttConfig = config.mqtt
        self.interval = config.mqtt.interval
        self.host = host
        self.backoff = (backoff_initial, backoff_max)
        self._config = config
        self._ctx: Context | None = None
        self._link: MqttLink | None = None
        self._topics: Topics | None = None
        self._entities: tuple[Entity, ...] = entities(config.disks.mounts)
        self._announced: set[str] = set()
        self._history: dict[str, float | int] = {}
        self._history_due: float | None = None  # monotonic; None: at the next tick
        self._reported: str | None = None
        self._was_connected = False
        self._since: str | None = None
        self._lock = threading.RLock()

    @property
    def link(self) -> MqttLink | None:
        return self._link

    @property
    def topics(self) -> Topics | None:
        return self._topics

    # -- live configuration (the reload path; the mqtt: section itself means a new bridge)

    def apply_config(self, config: Config) -> None:
        """New mounts (disk sensors), dashboard address or history directory."""
        with self._lock:
            self._config = config
            self._entities = entities(config.disks.mounts)
            self._history_due = None
        if self._ctx is not None:
            self._offer_discovery(self._ctx)
            self._offer_state(self._ctx)

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, ctx: Context) -> None:
        self._ctx = ctx
        ident = self._identity(ctx)
        hostname = ident.get("hostname") or "raspberrypi"
        node = node_id(ident.get("serial"), self.host.read_line("/etc/machine-id"), hostname)
        s = self.settings
        self._topics = topics = Topics(
            base=s.topic or f"bussdcc-system/{hostname}",
            discovery_prefix=s.discovery_prefix,
            node=node,
        )
        broker = BrokerSettings(
            host=s.host,
            port=s.port,
            client_id=f"bussdcc-system-{node.removeprefix('bussdcc_')}",
            availability_topic=topics.availability,
            username=s.username,
            password_file=s.password_file,
            tls=s.tls,
            ca_file=s.ca_file,
            subscriptions=(topics.home_assistant_status,),
        )
        self._link = MqttLink(
            broker,
            on_status=self._on_status,
            on_message=self._on_message,
            backoff_initial=self.backoff[0],
            backoff_max=self.backoff[1],
        )
        self._reported, self._was_connected = None, False
        self._since = iso_time(ctx.clock.now_utc())
        self._write_state(LinkStatus(False, "connecting"))
        self._refresh_history(ctx)
        self._offer_discovery(ctx)
        self._offer_state(ctx)
        self._link.start()

    def tick(self, ctx: Context) -> None:
        self._refresh_history(ctx)
        self._offer_discovery(ctx)
        self._offer_state(ctx)
        if self._link is not None:
            self._write_state(self._link.status)

    def stop(self, ctx: Context) -> None:
        link = self._link
        if link is not None:
            link.stop()
        self._link = None
        ctx.state.set(STATE_PATH, None)
        self._ctx = None

    def handle_event(self, ctx: Context, evt: Event[Message]) -> None:
        """A power or health change goes out now, not at the next tick."""
        payload = evt.payload
        if isinstance(payload, m.ThrottlingUpdated):
            if "under_voltage" in payload.changed:
                # read again once the history sink has written this change to disk
                later = evt.monotonic + self._config.history.flush_interval + 1.0
                due = self._history_due
                self._history_due = later if due is None else min(due, later)
            self._offer_state(ctx)
        elif isinstance(payload, m.HealthChanged):
            self._offer_state(ctx)

    # -- what is published --------------------------------------------------------------

    def _identity(self, ctx: Context) -> dict[str, Any]:
        ident = ctx.state.get("system.identity")
        ident = dict(ident) if isinstance(ident, Mapping) else {}
        ident.setdefault("hostname", self.host.hostname())
        ident.setdefault("model", self.host.model())
        ident.setdefault("serial", self.host.serial())
        return ident

    def _device(self, ctx: Context) -> Device:
        assert self._topics is not None
        ident = self._identity(ctx)
        hostname = ident.get("hostname") or self._topics.node
        return Device(
            node=self._topics.node,
            name=str(hostname),
            model=ident.get("model"),
            configuration_url=dashboard_url(self._config.web, hostname, ident.get("addresses")),
        )

    def _offer_discovery(self, ctx: Context) -> None:
        link, topics = self._link, self._topics
        if link is None or topics is None:
            return
        with self._lock:  # the tick and a reload may both get here
            configs = discovery_messages(self._entities, topics, self._device(ctx))
            for topic, payload in configs.items():
                link.offer(Publication(topic, payload, retain=True, qos=1), if_changed=True)
            for gone in self._announced - set(configs):
                # An entity no longer declared (a mount no longer watched): Home Assistant
                # removes it when its config topic is emptied.
                link.offer(Publication(gone, b"", retain=True, qos=1), if_changed=True)
            self._announced = set(configs)

    def facts(self, ctx: Context) -> dict[str, Any]:
        snapshot = ctx.state.snapshot()
        facts = dict(snapshot) if isinstance(snapshot, Mapping) else {}
        facts["history"] = dict(self._history)
        return facts

    def _offer_state(self, ctx: Context) -> None:
        link, topics = self._link, self._topics
        if link is None or topics is None:
            return
        doc = state_document(self._entities, self.facts(ctx))
        payload = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        link.offer(Publication(topics.state, payload, retain=True))

    def _refresh_history(self, ctx: Context) -> None:
        history = self._config.history
        if not history.enabled:
            self._history = {}
            return
        now = ctx.clock.monotonic()
        if self._history_due is not None and now < self._history_due:
            return
        self._history_due = now + EPISODES_REFRESH
        try:
            self._history = under_voltage_last_24h(history.directory, ctx.clock.time())
        except Exception as exc:
            log.warning("cannot read under-voltage episodes from %s: %s", history.directory, exc)
            self._history = {}

    # -- how the link is doing ----------------------------------------------------------

    def _on_message(self, topic: str, payload: bytes) -> None:
        """Home Assistant (re)started: it gets discovery and state again."""
        link, topics = self._link, self._topics
        if (
            link is not None
            and topics is not None
            and topic == topics.home_assistant_status
            and payload.strip().lower() == b"online"
        ):
            link.outbox.all_pending()

    def _on_status(self, status: LinkStatus) -> None:
        ctx, link = self._ctx, self._link
        if ctx is None or link is None:
            return
        broker = link.settings.broker
        self._since = iso_time(ctx.clock.now_utc())
        self._write_state(status)
        if status.connected:
            self._was_connected, self._reported = True, None
            log.info("MQTT: connected to %s", broker)
            ctx.emit(MqttConnected(broker, link.settings.tls))
        elif status.error is not None and self._was_connected:
            self._was_connected, self._reported = False, status.error
            ctx.emit(MqttDisconnected(broker, status.error))
        elif status.error is not None and status.error != self._reported:
            self._reported = status.error
            log.warning(
                "MQTT: %s (trying again, the next time in %gs)", status.error, status.retry_in
            )
            ctx.emit(MqttUnavailable(broker, status.error, status.retry_in))

    def _write_state(self, status: LinkStatus) -> None:
        ctx, link = self._ctx, self._link
        if ctx is None or link is None:
            return
        ctx.state.set(
            STATE_PATH,
            {
                "enabled": True,
                "broker": link.settings.broker,
                "tls": link.settings.tls,
                "connected": status.connected,
                "error": status.error,
                "since": self._since,
                "messages": link.messages,
                "bytes": link.bytes,
                "state_topic": self._topics.state if self._topics else None,
            },
        )


def mqtt_bridge(config: Config, host: HostRoot) -> MqttBridge | None:
    """The bridge ``config`` asks for, or None when ``mqtt.enabled`` is false."""
    return MqttBridge(config, host) if config.mqtt.enabled else None
