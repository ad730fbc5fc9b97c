"""What a client may send to ``POST /api/led/test``, over a real socket to the real
server: a small JSON object, or a 4xx in the API's JSON error shape, never a 500 and
never a body that slips past the checks."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from web_helpers import WebRig, make_rig

from bussdcc import Event, Message
from bussdcc_system.web.request_bodies import MAX_JSON_BODY, MAX_JSON_DEPTH

TOKEN = "request-bodies-token-0123456789"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[WebRig]:
    r = make_rig(tmp_path, token=TOKEN)
    r.feed()
    yield r
    r.rt.stop(timeout=10)


@pytest.fixture
def requested(rig: WebRig) -> list[float]:
    """The seconds of every LED test the runtime was asked for."""
    seen: list[float] = []

    def record(evt: Event[Message]) -> None:
        if evt.name == "device.status_led.test_requested":
            seen.append(evt.data["seconds"])

    rig.rt.events.subscribe(record)
    return seen


def post(
    rig: WebRig,
    body: bytes | Iterable[bytes] | None,
    content_type: str | None = "application/json",
    *,
    chunked: bool = False,
) -> tuple[int, dict[str, Any]]:
    url = urlsplit(rig.url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
    try:
        conn.request("POST", "/api/led/test", body=body, headers=headers, encode_chunked=chunked)
        resp = conn.getresponse()
        assert resp.getheader("Content-Type") == "application/json"
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def error(rig: WebRig, status: int, body: Any, **kw: Any) -> str:
    """Post ``body``; check it is answered ``status`` with the API's error shape."""
    got, doc = post(rig, body, **kw)
    assert got == status, doc
    assert set(doc) == {"error", "message", "status"} and doc["status"] == status
    message: str = doc["message"]
    return message


def test_a_small_json_object_is_accepted(rig: WebRig, requested: list[float]) -> None:
    assert post(rig, b'{"seconds": 3}') == (202, {"accepted": True, "seconds": 3.0})
    assert post(rig, b'{"seconds": 2}', "application/json; charset=utf-8")[0] == 202
    assert post(rig, b"") == (202, {"accepted": True, "seconds": 5.0})  # no body: defaults
    # Brackets inside strings are not nesting; nesting within the limit is fine.
    note = json.dumps({"seconds": 1, "note": "[{" * 500, "x": [[[[1]]]]}).encode()
    assert len(note) < MAX_JSON_BODY and post(rig, note)[0] == 202
    assert requested == [3.0, 2.0, 5.0, 1.0]


def test_deeply_nested_json_is_a_400_not_a_500(rig: WebRig, requested: list[float]) -> None:
    arrays = b"[" * 2000 + b"]" * 2000  # RecursionError in the parser, once
    objects = b'{"a":' * 600 + b"1" + b"}" * 600
    assert len(arrays) <= MAX_JSON_BODY and len(objects) <= MAX_JSON_BODY
    expected = f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep"
    assert error(rig, 400, arrays) == expected
    assert error(rig, 400, objects) == expected
    just_over = b'{"seconds": 1, "x": ' + b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH + b"}"
    assert error(rig, 400, just_over) == expected
    assert not requested


def test_a_chunked_body_is_refused_not_skipped(rig: WebRig, requested: list[float]) -> None:
    message = error(rig, 411, iter([b'{"seconds":', b" 3600}"]), chunked=True)
    assert message.startswith("send the body with a Content-Length header, not chunked")
    assert not requested


def test_an_oversized_body_is_a_413(rig: WebRig, requested: list[float]) -> None:
    padded = json.dumps({"seconds": 3, "pad": "x" * MAX_JSON_BODY}).encode()
    assert error(rig, 413, padded) == f"the request body may be at most {MAX_JSON_BODY} bytes"
    assert not requested


def test_json_that_is_not_an_object_is_a_400(rig: WebRig) -> None:
    assert error(rig, 400, b"[1, 2]") == "the body must be a JSON object"
    assert error(rig, 400, b"5") == "the body must be a JSON object"
    assert error(rig, 400, b"{") == 'the body must be JSON, e.g. {"seconds": 5}'


def test_invalid_utf8_is_a_400(rig: WebRig) -> None:
    message = error(rig, 400, b'{"seconds": 3, "who": "\xff\xfe"}')
    assert message == "the body must be JSON in UTF-8: it is not valid UTF-8"


def test_another_content_type_is_a_415(rig: WebRig, requested: list[float]) -> None:
    message = error(rig, 415, b'{"seconds": 3}', content_type="text/plain")
    assert message == (
        "the body must be JSON sent with \"Content-Type: application/json\", not 'text/plain'"
    )
    assert "'no Content-Type'" in error(rig, 415, b'{"seconds": 3}', content_type=None)
    assert not requested
