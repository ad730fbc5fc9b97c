"""The notification service on a SimClock against a local HTTP server: it posts, waits
out its rate limit, retries with backoff, gives up in words, and never holds dispatch."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bussdcc import Runtime
from bussdcc.testing import MessageLog, SimClock
from bussdcc_system import messages as m
from bussdcc_system.config.schema import NotificationsConfig
from bussdcc_system.host import HostRoot
from bussdcc_system.notifications.messages import NotificationFailed, NotificationSent
from bussdcc_system.notifications.service import MAX_ATTEMPTS, NotificationService
from tests.bussdcc_system.appliance_helpers import copy_host
from tests.bussdcc_system.history.history_helpers import throttling
from tests.bussdcc_system.notifications.http_helpers import Recorder, http_server

HOT = m.health_changed("critical", "ok", ("CPU temperature 82.0 °C is above 80 °C",))
COOL = m.health_changed("ok", "critical", ())


@pytest.fixture
def server() -> Iterator[tuple[str, Recorder]]:
    with http_server() as s:
        yield s


@dataclass
class Env:
    """A booted runtime on a SimClock, its message log, and a local HTTP endpoint."""

    runtime: Runtime
    clock: SimClock
    log: MessageLog
    url: str
    rec: Recorder
    tmp_path: Path

    def parts(self) -> tuple[Runtime, SimClock, MessageLog, str, Recorder]:
        return self.runtime, self.clock, self.log, self.url, self.rec

    def start(self, *, webhook: bool = False, **options: object) -> NotificationService:
        return start(self.runtime, self.tmp_path, self.url, webhook=webhook, **options)


@pytest.fixture
def env(
    runtime: Runtime,
    clock: SimClock,
    message_log: MessageLog,
    server: tuple[str, Recorder],
    tmp_path: Path,
) -> Env:
    url, rec = server
    return Env(runtime, clock, message_log, url, rec, tmp_path)


def start(
    runtime: Runtime, tmp_path: Path, url: str, *, webhook: bool = False, **options: object
) -> NotificationService:
    config = NotificationsConfig(
        ntfy_url=f"{url}/pi-alerts",
        webhook_url=f"{url}/hook" if webhook else None,
        **options,  # type: ignore[arg-type]
    )
    service = NotificationService(config, HostRoot(copy_host("pi4", tmp_path)))
    runtime.register_service(service)
    runtime.boot()
    runtime.state.set("system.identity", {"hostname": "pi-kitchen"})
    return service


def test_a_change_goes_to_both_endpoints(env: Env) -> None:
    runtime, clock, message_log, url, rec = env.parts()
    env.start(webhook=True)
    runtime.emit(HOT)
    assert rec.posts == []  # nothing on the dispatch thread
    clock.advance(1)
    ntfy, hook = rec.wait_posts(2)
    assert (ntfy.path, hook.path) == ("/", "/hook")
    assert ntfy.json()["title"] == "pi-kitchen: health critical"
    assert hook.json()["notices"][0]["text"] == "CPU temperature 82.0 °C is above 80 °C"
    sent = message_log.of_type(NotificationSent)
    assert [(s.endpoint, s.target, s.notices, s.attempts) for s in sent] == [
        ("ntfy", url, 1, 1),
        ("webhook", url, 1, 1),
    ]


def test_the_rate_limit_holds_and_then_sends_together(env: Env) -> None:
    runtime, clock, _message_log, _url, rec = env.parts()
    env.start(min_interval=60.0)
    rec.clock = clock.monotonic
    runtime.emit(HOT)
    clock.advance(1)
    rec.wait_posts(1)
    runtime.emit(throttling(0x1))  # under-voltage starts ...
    runtime.emit(COOL)
    for _ in range(90):
        clock.advance(1)
    first, second_post = rec.wait_posts(2)
    assert len(rec.posts) == 2
    # ... but waits until a minute after the last post
    assert first.at is not None and second_post.at == first.at + 60.0
    second = second_post.json()
    assert second["title"] == "pi-kitchen: 2 changes"
    assert second["message"].splitlines() == [
        "- under-voltage: Under-voltage now: the power supply is too weak"
        " (check the power supply and cable) (already when monitoring started)",
        "- healthy again: was critical",
    ]
    assert second["priority"] == 5


def test_retries_with_backoff_then_succeeds(env: Env) -> None:
    runtime, clock, message_log, _url, rec = env.parts()
    rec.answers.extend([500, 502])
    rec.clock = clock.monotonic
    env.start()
    runtime.emit(HOT)
    for _ in range(30):
        clock.advance(1)
    posts = rec.wait_posts(3)
    times = [p.at for p in posts if p.at is not None]
    assert [b - a for a, b in itertools.pairwise(times)] == [5.0, 10.0]
    assert len(posts) == 3
    (sent,) = message_log.of_type(NotificationSent)
    assert sent.attempts == 3
    assert message_log.of_type(NotificationFailed) == []


def test_gives_up_in_words(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    runtime, clock, message_log, url, rec = env.parts()
    rec.answers.extend([503] * 10)
    env.start()
    runtime.emit(HOT)
    with caplog.at_level(logging.WARNING, logger="bussdcc_system.notifications"):
        clock.advance(1 + 5 + 10 + 20 + 40 + 80)
        rec.wait_posts(MAX_ATTEMPTS)
        failed = message_log.wait_for(NotificationFailed).payload
    assert isinstance(failed, NotificationFailed)
    reason = (
        f"ntfy at {url} answered HTTP 503 Service Unavailable (gave up after {MAX_ATTEMPTS} tries)"
    )
    assert (failed.endpoint, failed.reason, failed.attempts) == ("ntfy", reason, MAX_ATTEMPTS)
    assert failed.severity.name == "WARNING"
    assert f"notifications: not sent: {reason}" in caplog.messages
    assert "pi-alerts" not in reason  # the topic is a secret


def test_an_answer_that_will_not_change_is_not_retried(env: Env) -> None:
    runtime, clock, message_log, url, rec = env.parts()
    rec.answers.append(403)
    env.start()
    runtime.emit(HOT)
    clock.advance(1)
    failed = message_log.wait_for(NotificationFailed).payload
    assert isinstance(failed, NotificationFailed)
    assert failed.reason == f"ntfy at {url} answered HTTP 403 Forbidden"
    clock.advance(120)
    assert len(rec.posts) == 1


def test_a_hanging_endpoint_never_holds_dispatch(env: Env) -> None:
    runtime, clock, _message_log, _url, rec = env.parts()
    rec.gate = threading.Event()
    env.start()
    runtime.emit(HOT)
    ticking = threading.Thread(target=clock.advance, args=(1,))
    ticking.start()  # the tick posts, and the server holds the request
    assert rec.waiting.wait(10)
    for _ in range(100):
        runtime.emit(COOL)
        runtime.emit(HOT)
    assert runtime.wait_idle(5.0)  # every event delivered while the POST hangs
    rec.gate.set()
    ticking.join(15)
    assert not ticking.is_alive()
    rec.wait_posts(1)
