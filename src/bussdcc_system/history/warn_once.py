"""Warnings about bad history data, once per place per process.

A torn line or an unreadable segment is seen by every query that reads it; saying so
once is enough. The memory of what was said is bounded (cleared past 10 000 places).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

log = logging.getLogger("bussdcc_system.history")

_warned: set[tuple[str, int]] = set()
_warned_lock = threading.Lock()


def warn_once(path: Path | str, where: int, message: str, *args: object) -> None:
    key = (str(path), where)
    with _warned_lock:
        if key in _warned:
            return
        if len(_warned) > 10000:
            _warned.clear()
        _warned.add(key)
    log.warning(message, *args)
