"""``system.mqtt`` in words for ``STATUS=``, without loading paho (the daemon says it in
every status line, and loads the bridge only when MQTT is on)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

STATE_PATH: Final = "system.mqtt"


def status_words(state: Any) -> str | None:
    """What ``STATUS=`` says about MQTT, from ``system.mqtt``; None when it is off."""
    if not isinstance(state, Mapping) or not state.get("enabled"):
        return None
    broker = state.get("broker")
    if state.get("connected"):
        return f"MQTT connected to {broker}"
    error = state.get("error")
    return f"MQTT not connected to {broker}" + (f": {error}" if error else "")


__all__ = ["STATE_PATH", "status_words"]
