"""Helpers for the telemetry, health, state and component tests: fake hosts and a bus log."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from bussdcc import Event, Message

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hosts"
HOSTS = ("pi4", "pi5", "x86")

M = TypeVar("M", bound=Message)


def copy_host(name: str, dest: Path) -> Path:
    """A writable copy of fake host ``name`` (tests change counters in it)."""
    root = dest / name
    shutil.copytree(FIXTURES / name, root, symlinks=True)
    return root


def write(root: Path, host_path: str, text: str | bytes) -> None:
    path = root / host_path.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)


class BusLog:
    """Subscribe to an EventBus; keeps every event in order."""

    def __init__(self) -> None:
        self.events: list[Event[Message]] = []

    def __call__(self, evt: Event[Message]) -> None:
        self.events.append(evt)

    def __iter__(self) -> Iterator[Event[Message]]:
        return iter(list(self.events))

    def of(self, cls: type[M]) -> list[M]:
        return [e.payload for e in list(self.events) if isinstance(e.payload, cls)]

    def named(self, name: str) -> list[Event[Message]]:
        return [e for e in list(self.events) if e.name == name]

    def clear(self) -> None:
        self.events.clear()
