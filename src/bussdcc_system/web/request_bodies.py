"""A small JSON object as a request body, or the client error that says why not.

The write action takes a few bytes of JSON; anything else is the client's mistake and
answers a 4xx with the API's JSON error, never a 500: a chunked body (411: it would
slip past the length checks), one over the size limit (413), another media type (415),
bytes that are not UTF-8, JSON nested deeper than any request needs (checked before
parsing: the parser would recurse until ``RecursionError``), and a body that is not
an object (400).
"""

from __future__ import annotations

import json
from typing import Any, Final, NoReturn

from flask import abort, request

MAX_JSON_BODY: Final = 4096
"""Bytes; ``{"seconds": 5}`` is 14."""
MAX_JSON_DEPTH: Final = 16
"""Nested arrays and objects; the write action's body is one object deep."""


def _bad(message: str) -> NoReturn:
    abort(400, description=message)


def nesting_exceeds(text: str, limit: int) -> bool:
    """Whether JSON ``text`` opens more than ``limit`` arrays or objects inside each
    other (brackets inside strings do not count)."""
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def json_object_body(
    *, max_bytes: int = MAX_JSON_BODY, max_depth: int = MAX_JSON_DEPTH
) -> dict[str, Any] | None:
    """The request's body as a JSON object, or None when it has none; aborts with the
    client error otherwise."""
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        abort(
            411,
            description="send the body with a Content-Length header, not chunked "
            "(Transfer-Encoding: chunked is not accepted)",
        )
    length = request.content_length
    if not length:
        return None
    if length > max_bytes:
        abort(413, description=f"the request body may be at most {max_bytes} bytes")
    if request.mimetype != "application/json":
        abort(
            415,
            description='the body must be JSON sent with "Content-Type: application/json", '
            f"not {request.mimetype or 'no Content-Type'!r}",
        )
    # The socket's reader itself, not werkzeug's stream over it (which reports any read
    # error as a disconnect): a body that is not sent in time is a 408 (``errors``).
    data = request.environ["wsgi.input"].read(length)
    if len(data) < length:
        _bad(f"the body ended after {len(data)} of its {length} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        _bad("the body must be JSON in UTF-8: it is not valid UTF-8")
    if nesting_exceeds(text, max_depth):
        _bad(f"the JSON body is nested more than {max_depth} levels deep")
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        _bad('the body must be JSON, e.g. {"seconds": 5}')
    if not isinstance(body, dict):
        _bad("the body must be a JSON object")
    return body
