"""The bridge: runtime events become Socket.IO pushes without ever blocking dispatch.

``notify`` runs on the dispatch thread and only sets a flag, and not even that while no
browser is connected: nothing is computed for a screen nobody watches (the view is built
when a client says ``hello``). Nor while every client has a push in flight: its
acknowledgement wakes the thread if anything changed meanwhile, so a burst of events
costs one wake-up for the push and one for the catch-up, not one per event. One
broadcast thread rebuilds the dashboard view (a flat ``key -> display value`` dict, see
``view.py``) when the state changed, and sends each client only the keys that differ
from what *that client* last acknowledged. A client has at most one push in flight:
until it acknowledges, changes accumulate and it then receives one patch with the latest
values, not a backlog. A slow, stalled or vanished client therefore costs one queued
packet and never delays dispatch or the other clients; Engine.IO's ping timeout
disconnects it in the end.

Wire format (event ``"s"``, acknowledged by the client)::

    {"c": {key: value, ...}, "r": [removed key, ...]}   # "r" only when non-empty

A client starts with ``hello`` (acknowledged with ``{"build", "view"}``, the full view),
then receives patches against that view.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("bussdcc_system.web")

View = dict[str, Any]


class Emitter(Protocol):
    """The part of ``socketio.Server`` the bridge uses."""

    def emit(
        self,
        event: str,
        data: Any = None,
        to: str | None = None,
        callback: Callable[..., Any] | None = None,
    ) -> Any: ...


def diff(old: View, new: View) -> dict[str, Any]:
    """The patch turning ``old`` into ``new``."""
    changed = {k: v for k, v in new.items() if k not in old or old[k] != v}
    patch: dict[str, Any] = {"c": changed}
    removed = [k for k in old if k not in new]
    if removed:
        patch["r"] = removed
    return patch


@dataclass(slots=True)
class _Client:
    base: int
    """Version of the view this client has acknowledged."""
    inflight: int | None = None
    """Version of the push not yet acknowledged, if any."""


@dataclass(frozen=True, slots=True)
class BridgeStats:
    clients: int
    pushes: int
    coalesced: int
    version: int


class Bridge:
    """Coalescing, per-client-acknowledged push of the dashboard view."""

    def __init__(
        self,
        emitter: Emitter,
        build_view: Callable[[], View],
        source_version: Callable[[], int],
        *,
        build_id: str = "",
    ) -> None:
        self._emitter = emitter
        self._build_view = build_view
        self._source_version = source_version
        self.build_id = build_id
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._clients: dict[str, _Client] = {}
        self._views: dict[int, View] = {}
        self._version = 0
        self._seen_source: int | None = None
        self._pushes = 0
        self._coalesced = 0
        self._held = 0
        """Changes notified while every client had a push in flight (dispatch thread)."""
        self._ready = 0
        """Clients with no push in flight: a change can go to them now."""

    # -- dispatch thread: O(1), never blocks ---------------------------------------------

    def notify(self) -> None:
        """Something may have changed: wake the broadcast thread, if anyone is watching.

        (A lock-free check: a client saying ``hello`` meanwhile gets the view built then,
        and an acknowledgement arriving meanwhile compares the source version after it
        counted its client ready, so no change is ever lost.)"""
        if self._ready:
            self._wake.set()
        elif self._clients:
            self._held += 1  # each client's acknowledgement catches up

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping = False
        self._wake.clear()
        thread = threading.Thread(target=self._run, name="web-bridge", daemon=True)
        self._thread = thread
        thread.start()

    def stop(self, timeout: float = 2.0) -> bool:
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None
        with self._lock:
            self._clients.clear()
            self._ready = 0
        return thread is None or not thread.is_alive()

    # -- Socket.IO handlers (request threads) ---------------------------------------------

    def hello(self, sid: str) -> dict[str, Any]:
        """Register ``sid`` and return the full current view (the client's base)."""
        with self._lock:
            self._refresh()
            old = self._clients.get(sid)
            if old is None or old.inflight is not None:
                self._ready += 1
            self._clients[sid] = _Client(base=self._version)
            view = self._views[self._version]
        return {"build": self.build_id, "view": view}

    def disconnect(self, sid: str) -> None:
        with self._lock:
            client = self._clients.pop(sid, None)
            if client is not None and client.inflight is None:
                self._ready -= 1
            self._prune()

    def _ack(self, sid: str, version: int, *_args: Any) -> None:
        with self._lock:
            client = self._clients.get(sid)
            if client is None or client.inflight != version:
                return
            client.base = version
            client.inflight = None
            self._ready += 1
            behind = version != self._version or self._seen_source != self._source_version()
            self._prune()
        if behind:
            self._wake.set()

    # -- the broadcast thread -------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if self._stopping:
                return
            self._wake.clear()
            try:
                self._push()
            except Exception:  # never let one bad view end the pushes for good
                log.exception("dashboard push failed")

    def _refresh(self) -> None:
        """Rebuild the view if the source changed (caller holds the lock)."""
        source = self._source_version()
        if source == self._seen_source and self._version in self._views:
            return
        self._seen_source = source
        view = self._build_view()
        if self._views.get(self._version) != view:
            self._version += 1
            self._views[self._version] = view
            self._prune()

    def _prune(self) -> None:
        keep = {self._version}
        for c in self._clients.values():
            keep.add(c.base)
            if c.inflight is not None:
                keep.add(c.inflight)
        for v in [v for v in self._views if v not in keep]:
            del self._views[v]

    def _push(self) -> None:
        sends: list[tuple[str, dict[str, Any]]] = []
        with self._lock:
            if not self._clients:
                return  # the last one left since the wake: nothing to build
            self._refresh()
            latest = self._version
            new = self._views[latest]
            patches: dict[int, dict[str, Any]] = {}
            for sid, client in self._clients.items():
                if client.base == latest:
                    continue
                if client.inflight is not None:
                    if client.inflight != latest:
                        self._coalesced += 1
                    continue
                patch = patches.get(client.base)
                if patch is None:
                    patch = patches[client.base] = diff(self._views[client.base], new)
                client.inflight = latest
                self._ready -= 1
                sends.append((sid, patch))
            self._pushes += len(sends)
        for sid, patch in sends:
            self._emitter.emit(
                "s", patch, to=sid, callback=functools.partial(self._ack, sid, latest)
            )

    def stats(self) -> BridgeStats:
        with self._lock:
            coalesced = self._coalesced + self._held
            return BridgeStats(len(self._clients), self._pushes, coalesced, self._version)
