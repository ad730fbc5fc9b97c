"""The message vocabulary's registry: every message declared is there, once."""

from __future__ import annotations

import inspect

from bussdcc import Message
from bussdcc_system import messages as m


def test_every_message_declared_is_registered_by_its_name() -> None:
    declared = [
        cls
        for _, cls in inspect.getmembers(m, inspect.isclass)
        if issubclass(cls, Message) and cls.__module__ == m.__name__
    ]
    bases = {cls for cls in declared if not any(b in declared for b in cls.__bases__)}
    assert set(m.MESSAGE_TYPES.values()) == bases
    assert all(m.MESSAGE_TYPES[cls.name] is cls for cls in bases)
    for cls in declared:  # severity variants share their base's name
        assert issubclass(cls, m.MESSAGE_TYPES[cls.name])


def test_builders_pick_the_severity_variant() -> None:
    assert type(m.health_changed("critical", "ok", ("hot",))) is m.HealthCritical
    flags = dict.fromkeys(m.THROTTLING_FLAGS, False)
    calm = m.throttling_updated(device="t", source="vcgencmd", raw=0, flags=flags, changed=())
    under = m.throttling_updated(
        device="t",
        source="vcgencmd",
        raw=1,
        flags={**flags, "under_voltage": True},
        changed=("under_voltage",),
    )
    assert type(calm) is m.ThrottlingUpdated and type(under) is m.ThrottlingUnderVoltage
