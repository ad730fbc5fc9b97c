"""The Raspberry Pi firmware's throttling flags, declared once.

``vcgencmd get_throttled`` answers a bit field: bits 0-3 say what is happening *now*
(under-voltage, ARM frequency capped, throttled, soft temperature limit), bits 16-19
whether the same has happened *since boot*. Each condition is one ``ThrottlingFlag``
here: its bits, its message fields, what a person reads about it now and in the past,
the health reason and level while it is set, and the name of its history episodes.
The device decodes with it, the message carries its fields, health, the dashboard,
``/metrics``, the history episodes and the CLI all read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

OCCURRED_SHIFT: Final = 16
"""The since-boot bit of a condition is its now bit shifted by this."""


@dataclass(frozen=True, slots=True)
class ThrottlingFlag:
    """One firmware condition: a *now* bit and its *since boot* twin."""

    field: str
    """Message and state field of the now bit; also the history episode's ``kind``."""
    bit: int
    """Bit of the ``get_throttled`` value that says it is happening now."""
    now_words: str
    """What the dashboard says while it happens."""
    past_words: str
    """The thing that happened, as a noun: "since boot: under-voltage occurred", an
    episode "under-voltage for 3 minutes"."""
    health_reason: str
    """The health reason while it happens now."""
    health_level: Literal["warning", "critical"]
    """The health level while it happens now."""
    health_hint: str = ""
    """What to do about it, added to health reasons in parentheses."""

    @property
    def occurred_field(self) -> str:
        """Message and state field of the since-boot bit."""
        return f"{self.field}_occurred"

    @property
    def occurred_bit(self) -> int:
        return self.bit + OCCURRED_SHIFT


UNDER_VOLTAGE: Final = ThrottlingFlag(
    field="under_voltage",
    bit=0,
    now_words="under-voltage now: the power supply is too weak",
    past_words="under-voltage",
    health_reason="Under-voltage detected now",
    health_level="critical",
    health_hint="check the power supply and cable",
)
FREQ_CAPPED: Final = ThrottlingFlag(
    field="freq_capped",
    bit=1,
    now_words="ARM frequency capped",
    past_words="frequency capping",
    health_reason="CPU frequency capped now",
    health_level="warning",
)
THROTTLED: Final = ThrottlingFlag(
    field="throttled",
    bit=2,
    now_words="CPU throttled",
    past_words="throttling",
    health_reason="CPU throttled now",
    health_level="warning",
)
SOFT_TEMP_LIMIT: Final = ThrottlingFlag(
    field="soft_temp_limit",
    bit=3,
    now_words="soft temperature limit active",
    past_words="soft temperature limit",
    health_reason="Soft temperature limit active now",
    health_level="warning",
)

FLAGS: Final[tuple[ThrottlingFlag, ...]] = (UNDER_VOLTAGE, FREQ_CAPPED, THROTTLED, SOFT_TEMP_LIMIT)
"""Every condition, in bit order."""

BY_FIELD: Final[dict[str, ThrottlingFlag]] = {f.field: f for f in FLAGS}

FIELDS: Final[tuple[str, ...]] = tuple(f.field for f in FLAGS) + tuple(
    f.occurred_field for f in FLAGS
)
"""The eight flag fields in message order: the four now, then the four since boot."""

BITS: Final[dict[str, int]] = {
    **{f.field: f.bit for f in FLAGS},
    **{f.occurred_field: f.occurred_bit for f in FLAGS},
}
"""Flag field -> bit of the ``get_throttled`` value."""


def decode(raw: int) -> dict[str, bool]:
    """The eight flags of a ``get_throttled`` value, by field."""
    return {name: bool(raw >> bit & 1) for name, bit in BITS.items()}


def past_words(kind: str) -> str:
    """What an episode of ``kind`` (a flag field) is called; unknown kinds in plain words."""
    flag = BY_FIELD.get(kind)
    return flag.past_words if flag is not None else kind.replace("_", " ")


def merged_reading(throttling: Any) -> dict[str, Any]:
    """One reading from the state's ``system.throttling`` (a mapping of device id to
    reading, or a single reading); ``{}`` without one.

    With several devices (there is normally one) a flag is set if any device sets it.
    """
    if not isinstance(throttling, Mapping):
        return {}
    if UNDER_VOLTAGE.field in throttling:
        return dict(throttling)
    readings = [
        r
        for _, r in sorted(throttling.items())
        if isinstance(r, Mapping) and UNDER_VOLTAGE.field in r
    ]
    if not readings:
        return {}
    merged = dict(readings[0])
    for reading in readings[1:]:
        for field in FIELDS:
            if reading.get(field):
                merged[field] = True
    return merged


__all__ = [
    "BITS",
    "BY_FIELD",
    "FIELDS",
    "FLAGS",
    "FREQ_CAPPED",
    "OCCURRED_SHIFT",
    "SOFT_TEMP_LIMIT",
    "THROTTLED",
    "UNDER_VOLTAGE",
    "ThrottlingFlag",
    "decode",
    "merged_reading",
    "past_words",
]
