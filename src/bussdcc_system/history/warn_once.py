"""Warnings about bad history data, once per place per process.

A torn line or an unreadable segment is seen by every query that reads it; saying so
once is enough. The memory of what was said is bounded: the 10 000 places most
recently warned about.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from bussdcc_system.history.lru import Lru

log = logging.getLogger("bussdcc_system.history")

_warned: Lru[tuple[str, int], bool] = Lru(10000)
_warned_lock = threading.Lock()  # look up and remember in one step: never said twice


def warn_once(path: Path | str, where: int, message: str, *args: object) -> None:
    """Log ``message`` unless it was logged for this place (path, position) before."""
    key = (str(path), where)
    with _warned_lock:
        if _warned.get(key):
            return
        _warned.put(key, True)
    log.warning(message, *args)
