"""One POST to ntfy or a webhook: the bodies, the redacted target, the errors in words."""

from __future__ import annotations

import pytest

from bussdcc_system.notifications.endpoints import DeliveryError, Endpoint, post, summary
from bussdcc_system.notifications.notices import Notice
from tests.bussdcc_system.daemon_harness import free_port
from tests.bussdcc_system.notifications.http_helpers import http_server

HOT = Notice("health", "critical", "pi: health critical", "CPU temperature 82.0 °C", "2026-01-01")
UV = Notice("under_voltage", "critical", "pi: under-voltage", "Under-voltage now", "2026-01-01")
OK = Notice("health", "ok", "pi: healthy again", "was critical", "2026-01-01")


def test_ntfy_gets_its_json_publishing_format() -> None:
    with http_server() as (url, rec):
        endpoint = Endpoint("ntfy", f"{url}/ntfy/pi-alerts?auth=tk_secret")
        assert post(endpoint, endpoint.request("pi", [HOT])) == 200
        (got,) = rec.posts
    assert got.path == "/ntfy/?auth=tk_secret"  # the server's root (behind a path prefix)
    assert got.headers["Content-Type"] == "application/json; charset=utf-8"
    assert got.json() == {
        "topic": "pi-alerts",
        "title": "pi: health critical",
        "message": "CPU temperature 82.0 °C",
        "priority": 5,
        "tags": ["rotating_light"],
    }


def test_the_webhook_gets_every_notice() -> None:
    with http_server() as (url, rec):
        endpoint = Endpoint("webhook", f"{url}/hooks/T0KEN")
        post(endpoint, endpoint.request("pi", [UV, OK], dropped=2))
        (got,) = rec.posts
    body = got.json()
    assert got.path == "/hooks/T0KEN"
    assert (body["source"], body["host"], body["level"]) == ("bussdcc-system", "pi", "critical")
    assert body["title"] == "pi: 2 changes"
    assert body["message"] == (
        "- under-voltage: Under-voltage now\n- healthy again: was critical\n"
        "(and 2 earlier notices not sent: too many at once)"
    )
    assert [n["kind"] for n in body["notices"]] == ["under_voltage", "health"]
    assert body["dropped"] == 2


def test_the_target_never_shows_the_secret_part() -> None:
    assert Endpoint("ntfy", "https://ntfy.sh/my-secret-topic").target == "https://ntfy.sh"
    assert (
        Endpoint("webhook", "http://user:pw@[::1]:8080/hook/TOKEN?x=1").target
        == "http://[::1]:8080"
    )


def test_summary_levels() -> None:
    assert summary("pi", [OK]) == ("ok", "pi: healthy again", "was critical")
    assert summary("pi", [OK, HOT])[0] == "critical"


@pytest.mark.parametrize(
    ("status", "retry", "words"),
    [
        (500, True, "answered HTTP 500 Internal Server Error"),
        (503, True, "answered HTTP 503 Service Unavailable"),
        (429, True, "answered HTTP 429 Too Many Requests"),
        (403, False, "answered HTTP 403 Forbidden"),
        (404, False, "answered HTTP 404 Not Found"),
    ],
)
def test_http_errors_say_whether_to_retry(status: int, retry: bool, words: str) -> None:
    with http_server() as (url, rec):
        rec.answers.append(status)
        endpoint = Endpoint("webhook", f"{url}/hook")
        with pytest.raises(DeliveryError) as info:
            post(endpoint, endpoint.request("pi", [HOT]))
    assert info.value.words == f"webhook at {url} {words}"
    assert info.value.retry is retry


def test_nobody_listening_is_said_and_retried() -> None:
    port = free_port()
    endpoint = Endpoint("ntfy", f"http://127.0.0.1:{port}/pi")
    with pytest.raises(DeliveryError) as info:
        post(endpoint, endpoint.request("pi", [HOT]))
    assert info.value.words == f"ntfy at http://127.0.0.1:{port}: connection refused"
    assert info.value.retry
