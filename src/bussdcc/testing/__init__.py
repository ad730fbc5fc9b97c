"""bussdcc.testing: support for testing code that runs on the kernel (as ``trio.testing``).

``SimClock`` runs services, supervision and stall detection in virtual time;
``MessageLog`` records what a bus (or a process) delivered and waits for more. Standard
library only, like the kernel. The pytest fixtures (``clock``, ``runtime``,
``message_log``) are in ``bussdcc.testing.pytest_plugin``, which this package does not
import, so that the kernel never needs pytest.
"""

from bussdcc.testing.message_log import MessageLog
from bussdcc.testing.simclock import SimClock, SimClockTimeout

__all__ = ["MessageLog", "SimClock", "SimClockTimeout"]
