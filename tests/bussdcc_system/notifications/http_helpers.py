"""A local HTTP server (127.0.0.1, a free port) that records the POSTs it gets and
answers what the test scripts: the stand-in for ntfy and for a webhook."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Posted:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float | None = None
    """The test's clock when it arrived (``Recorder.clock``), if the test gave one."""

    def json(self) -> Any:
        return json.loads(self.body)


class Recorder:
    def __init__(self) -> None:
        self.posts: list[Posted] = []
        self.answers: deque[int] = deque()
        """Statuses to answer, in order; 200 once empty."""
        self.gate: threading.Event | None = None
        """When set to an Event, each request waits for it (a hanging endpoint)."""
        self.waiting = threading.Event()
        self.clock: Callable[[], float] | None = None
        self._cond = threading.Condition()

    def record(self, posted: Posted) -> int:
        with self._cond:
            self.posts.append(posted)
            self._cond.notify_all()
            return self.answers.popleft() if self.answers else 200

    def wait_posts(self, count: int, timeout: float = 10.0) -> list[Posted]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.posts) >= count, timeout):
                raise AssertionError(f"{len(self.posts)} POSTs, expected {count}")
            return list(self.posts)


@contextmanager
def http_server() -> Iterator[tuple[str, Recorder]]:
    """(``http://127.0.0.1:PORT``, the recorder) while the server runs."""
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            gate = recorder.gate
            if gate is not None:
                recorder.waiting.set()
                gate.wait(30)
            at = recorder.clock() if recorder.clock is not None else None
            status = recorder.record(Posted(self.path, dict(self.headers.items()), body, at))
            payload = b'{"ok":true}' if status < 400 else b'{"error":"scripted"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="test http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorder
    finally:
        if recorder.gate is not None:
            recorder.gate.set()
        server.shutdown()
        server.server_close()
        thread.join(10)
