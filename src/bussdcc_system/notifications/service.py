"""The notification service: notices in on the dispatch thread, POSTs out on its own.

``handle_event`` (dispatch thread) only asks the :class:`NoticeWatcher` and appends to
each endpoint's bounded queue: it never waits for a network. The kernel runs ``tick``
every second in the service's own thread; there each :class:`Courier` sends what is
queued when its endpoint is due:

- rate limit: at most one POST per ``min_interval`` seconds per endpoint; what comes
  meanwhile waits and goes together in the next one (never lost, up to ``QUEUE_LIMIT``
  notices; beyond, the oldest are dropped and the next message says how many);
- retry: a POST that fails in a way that may pass (connection, timeout, 5xx, 429) is
  tried again after 5, 10, 20, 40, 80 s; after ``MAX_ATTEMPTS`` tries, or at once for
  an answer that will not change (403, 404...), it gives up: ``notification.failed``
  (WARNING) with the reason in words, and the same line in the log.

Every wait is the runtime clock's, so tests drive it with a ``SimClock``.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from bussdcc import Service, message
from bussdcc_system.config.schema import NotificationsConfig
from bussdcc_system.host import HostRoot
from bussdcc_system.notifications.endpoints import (
    TIMEOUT,
    DeliveryError,
    Endpoint,
    Request,
    post,
)
from bussdcc_system.notifications.messages import NotificationFailed, NotificationSent
from bussdcc_system.notifications.notices import Notice, NoticeWatcher

if TYPE_CHECKING:
    from bussdcc import Context, Event, Message

__all__ = [
    "MAX_ATTEMPTS",
    "QUEUE_LIMIT",
    "RETRY_INITIAL",
    "Courier",
    "NotificationService",
    "notification_service",
]

log = logging.getLogger("bussdcc_system.notifications")

QUEUE_LIMIT: Final = 50
RETRY_INITIAL: Final = 5.0
RETRY_MAX: Final = 300.0
MAX_ATTEMPTS: Final = 6
"""Tries of one batch: the first and five retries (5 + 10 + 20 + 40 + 80 s later)."""

Poster = Callable[[Endpoint, Request], int]


@dataclass
class Courier:
    """One endpoint's queue, batch in flight, retry and rate-limit bookkeeping."""

    endpoint: Endpoint
    queue: deque[Notice] = field(default_factory=lambda: deque(maxlen=QUEUE_LIMIT))
    dropped: int = 0
    batch: tuple[Notice, ...] = ()
    batch_dropped: int = 0
    attempts: int = 0
    next_try: float = 0.0
    last_post: float | None = None

    def add(self, notice: Notice) -> None:
        """On the dispatch thread: an append (the deque drops the oldest when full)."""
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1
        self.queue.append(notice)

    def due(self, now: float, min_interval: float) -> bool:
        if self.batch:
            return now >= self.next_try
        if not self.queue:
            return False
        return self.last_post is None or now >= self.last_post + min_interval

    def take(self) -> None:
        notices = []
        while self.queue:
            notices.append(self.queue.popleft())
        self.batch, self.batch_dropped, self.dropped = tuple(notices), self.dropped, 0
        self.attempts = 0


class NotificationService(Service):
    """Posts notices to ntfy and/or a webhook (see the module doc)."""

    name = "notifications"
    interval = 1.0
    deadline = 2 * TIMEOUT + 10.0  # two endpoints that both time out are not a stall

    def __init__(
        self,
        config: NotificationsConfig,
        host: HostRoot | None = None,
        *,
        poster: Poster | None = None,
    ) -> None:
        self.config = config
        self.host = host or HostRoot()
        self.couriers: list[Courier] = []
        if config.ntfy_url:
            self.couriers.append(Courier(Endpoint("ntfy", config.ntfy_url)))
        if config.webhook_url:
            self.couriers.append(Courier(Endpoint("webhook", config.webhook_url)))
        self._post: Poster = poster or post
        self._ctx: Context | None = None
        self.watcher = NoticeWatcher(self._hostname, health=config.health, power=config.power)

    def _hostname(self) -> str:
        ctx = self._ctx
        name = ctx.state.get("system.identity.hostname") if ctx is not None else None
        return str(name or self.host.hostname() or "this Pi")

    def start(self, ctx: Context) -> None:
        self._ctx = ctx

    def stop(self, ctx: Context) -> None:
        pending = sum(len(c.queue) + len(c.batch) for c in self.couriers)
        if pending:
            log.warning("notifications: %d notices not sent (stopping)", pending)

    def handle_event(self, ctx: Context, evt: Event[Message]) -> None:
        if isinstance(evt.payload, message.DeviceDetached | message.DeviceFailed):
            self.watcher.forget(evt.payload.device)
            return
        for notice in self.watcher.notices(evt):
            for courier in self.couriers:
                courier.add(notice)

    def tick(self, ctx: Context) -> None:
        now = ctx.clock.monotonic()
        for courier in self.couriers:
            if courier.due(now, self.config.min_interval):
                self._deliver(ctx, courier, now)

    def _deliver(self, ctx: Context, courier: Courier, now: float) -> None:
        if not courier.batch:
            courier.take()
        endpoint = courier.endpoint
        courier.attempts += 1
        request = endpoint.request(self._hostname(), courier.batch, courier.batch_dropped)
        try:
            self._post(endpoint, request)
        except DeliveryError as exc:
            if exc.retry and courier.attempts < MAX_ATTEMPTS:
                wait = min(RETRY_INITIAL * 2 ** (courier.attempts - 1), RETRY_MAX)
                courier.next_try = now + wait
                log.info("notifications: %s; trying again in %gs", exc.words, wait)
                return
            reason = exc.words + (
                f" (gave up after {courier.attempts} tries)" if courier.attempts > 1 else ""
            )
            log.warning("notifications: not sent: %s", reason)
            ctx.emit(
                NotificationFailed(
                    endpoint.kind, endpoint.target, reason, courier.attempts, len(courier.batch)
                )
            )
        else:
            ctx.emit(
                NotificationSent(
                    endpoint.kind, endpoint.target, len(courier.batch), courier.attempts
                )
            )
        courier.batch, courier.batch_dropped = (), 0
        courier.last_post = now


def notification_service(config: NotificationsConfig, host: HostRoot) -> NotificationService | None:
    """The service ``notifications:`` asks for, or None when no endpoint is set."""
    if not (config.ntfy_url or config.webhook_url):
        return None
    return NotificationService(config, host)
