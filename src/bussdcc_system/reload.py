"""A reload is a transaction: make ready everything that can fail, then switch over.

``prepare`` does the part that can fail while everything running stays as it is: bind
the new web address, create the new history directory and prove a file can be made in
it, build and attach the new and changed devices. A failure undoes what it had made
ready and raises ``ReloadError`` saying why, in words. ``PreparedReload`` holds what
was made ready for the daemon's commit (``Daemon`` in ``daemon.py``), which cannot
fail, but for one step it takes first: a dashboard moving to another address on the
same port, where the running listener holds the port and must give way (``handover``;
the old address is bound again if the new one cannot be had).
"""

from __future__ import annotations

import errno
import os
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bussdcc import DeviceError
from bussdcc_system.components import Components, PreparedDevices
from bussdcc_system.config import Config, ConfigDiff
from bussdcc_system.history.failure_reports import describe_os_error
from bussdcc_system.history.segment_files import DIR_MODE
from bussdcc_system.history.sink import HistorySink
from bussdcc_system.web.listener import BindError, bind_socket

if TYPE_CHECKING:
    from bussdcc import Runtime
    from bussdcc_system.web.interface import WebInterface


class ReloadError(Exception):
    """A reload cannot be applied, and nothing was changed; the message says why."""


@dataclass
class PreparedReload:
    """What a reload made ready before changing anything; ``discard`` gives it all back."""

    config: Config
    diff: ConfigDiff
    listener: socket.socket | None = None
    """The new web address, bound; None when it did not move (or the web is off)."""
    handover: bool = False
    """The dashboard moves on its own port: the running listener must give way first."""
    history: HistorySink | None = None
    """The new sink (neither subscribed nor started); None when history is unchanged
    or turned off."""
    created: list[Path] = field(default_factory=list)
    """The directories ``prepare`` created for the new history, removed if abandoned."""
    devices: PreparedDevices = field(default_factory=PreparedDevices)

    def discard(self, runtime: Runtime) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        self.devices.discard(runtime)
        _remove_empty(self.created)
        self.created = []
        self.history = None


def prepare(
    runtime: Runtime,
    running: Config,
    new: Config,
    diff: ConfigDiff,
    *,
    web: WebInterface | None,
    components: Components,
    while_waiting: Callable[[], object] | None = None,
) -> PreparedReload:
    """Make ready what ``new`` needs and ``running`` does not have, changing nothing
    that runs; ``ReloadError`` (with everything undone) when something cannot be had.
    ``while_waiting`` is called while a slow step (a DNS lookup) waits."""
    prepared = PreparedReload(new, diff)
    try:
        prepared.listener, prepared.handover = prepare_listener(
            running, new, web, while_waiting=while_waiting
        )
        if diff.history_changed and new.history.enabled:
            prepared.created = prepare_history_directory(new.history.directory)
            prepared.history = HistorySink.from_config(
                new.history, clock=runtime.clock, emit=runtime.emit
            )
        try:
            prepared.devices = components.prepare_devices(runtime, diff)
        except DeviceError as exc:
            raise ReloadError(str(exc)) from exc
    except BaseException:
        prepared.discard(runtime)
        raise
    return prepared


def prepare_listener(
    running: Config,
    new: Config,
    web: WebInterface | None,
    *,
    while_waiting: Callable[[], object] | None = None,
) -> tuple[socket.socket | None, bool]:
    """Bind the dashboard's new address: (listener, False); (None, False) when there is
    nothing to bind; (None, True) when only the running listener stands in the way (the
    same port on an overlapping address, e.g. ``0.0.0.0`` to ``127.0.0.1``)."""
    if not new.web.enabled:
        return None, False
    address = web.address if web is not None else None
    if address is not None and (new.web.host, new.web.port) == (
        running.web.host,
        running.web.port,
    ):
        return None, False
    try:
        return bind_socket(new.web.host, new.web.port, while_waiting=while_waiting), False
    except BindError as exc:
        cause = exc.__cause__
        in_use = isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE
        if in_use and address is not None and address[1] == new.web.port:
            return None, True
        raise ReloadError(str(exc)) from exc


def prepare_history_directory(directory: str) -> list[Path]:
    """Create ``directory`` (and its parents) if it is missing and make a file in it, as
    the history writer will; the directories created, deepest first. ``ReloadError``
    saying why it cannot be used (and what it created removed again)."""
    path = Path(directory)
    where = f"cannot use the history directory {path}"
    if path.exists() and not path.is_dir():
        raise ReloadError(f"{where}: it is a file, not a directory")
    missing = [p for p in (path, *path.parents) if not p.exists()]
    try:
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        _remove_empty(missing)
        raise ReloadError(f"{where}: {describe_os_error(exc)}") from exc
    return missing


def _remove_empty(directories: list[Path]) -> None:
    """Remove the directories, deepest first, while they are empty."""
    for directory in directories:
        try:
            os.rmdir(directory)
        except FileNotFoundError:
            continue  # never made (a deeper mkdir failed first)
        except OSError:
            return


__all__ = [
    "PreparedReload",
    "ReloadError",
    "prepare",
    "prepare_history_directory",
    "prepare_listener",
]
