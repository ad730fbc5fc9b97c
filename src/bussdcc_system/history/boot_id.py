"""This boot's id, the key that ties history records to one run of the monotonic clock.

``host.Host.boot_id`` reads the same file for the ``system.identity`` telemetry; the
history keeps its own reader because a sink must always have an id (a made-up unique
one when the file cannot be read), where the identity message reports None.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def read_boot_id(root: str | None = None) -> str:
    """This boot's id (``/proc/sys/kernel/random/boot_id``), honouring BUSSDCC_SYSTEM_ROOT."""
    base = root if root is not None else os.environ.get("BUSSDCC_SYSTEM_ROOT", "/")
    for r in dict.fromkeys((base, "/")):
        try:
            text = Path(r, "proc/sys/kernel/random/boot_id").read_text().strip()
        except OSError:
            continue
        if text:
            return text
    return f"unknown-{uuid.uuid4()}"
