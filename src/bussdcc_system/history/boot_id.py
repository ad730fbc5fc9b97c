"""This boot's id, the key that ties history records to one run of the monotonic clock.

The file is read by ``host.HostRoot.boot_id`` (as for the ``system.identity``
telemetry); a sink must always have an id, so this falls back to the real root and then
to a made-up unique one, where the identity message reports None.
"""

from __future__ import annotations

import uuid

from bussdcc_system.host import HostRoot, default_root


def read_boot_id(root: str | None = None) -> str:
    """This boot's id (``/proc/sys/kernel/random/boot_id``), honouring BUSSDCC_SYSTEM_ROOT."""
    base = root if root is not None else default_root()
    for r in dict.fromkeys((base, "/")):
        found = HostRoot(r).boot_id()
        if found:
            return found
    return f"unknown-{uuid.uuid4()}"
