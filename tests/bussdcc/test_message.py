"""Messages: frozen, typed, named, with a severity, and JSON-safe when turned into data."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from bussdcc import Message, Severity, message


@dataclass(slots=True, frozen=True)
class Reading(Message):
    name = "test.reading"
    severity = Severity.WARNING
    sensor: str
    values: tuple[float, ...] = ()


class Colour(enum.Enum):
    RED = "red"


@dataclass(slots=True, frozen=True)
class Rich(Message):
    name = "test.rich"
    when: datetime
    colour: Colour
    inner: Reading
    mapping: dict[int, list[int]]
    items: frozenset[int]
    other: object = None


def test_messages_are_frozen_and_carry_name_and_severity() -> None:
    msg = Reading("cpu", (1.0, 2.5))
    with pytest.raises(dataclasses.FrozenInstanceError):
        msg.sensor = "gpu"  # type: ignore[misc]
    assert msg.name == "test.reading"
    assert msg.severity is Severity.WARNING
    assert Message.severity is Severity.INFO
    # name and severity are class-level, not fields: they never appear in the data
    assert msg.to_dict() == {"sensor": "cpu", "values": [1.0, 2.5]}


def test_to_dict_is_plain_json() -> None:
    msg = Rich(
        when=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        colour=Colour.RED,
        inner=Reading("x"),
        mapping={1: [2, 3]},
        items=frozenset({7}),
        other=object(),
    )
    data = msg.to_dict()
    json.dumps(data)  # must not raise
    assert data["when"] == "2026-01-02T03:04:05+00:00"
    assert data["colour"] == "red"
    assert data["inner"] == {"sensor": "x", "values": []}
    assert data["mapping"] == {"1": [2, 3]}
    assert data["items"] == [7]
    assert data["other"].startswith("<object object")


def test_severity_order_and_parse() -> None:
    assert Severity.DEBUG < Severity.INFO < Severity.WARNING < Severity.ERROR < Severity.CRITICAL
    assert Severity.parse(" warning ") is Severity.WARNING
    with pytest.raises(KeyError):
        Severity.parse("loud")


def test_kernel_vocabulary_has_unique_dotted_names() -> None:
    classes = [
        obj
        for _, obj in inspect.getmembers(message, inspect.isclass)
        if issubclass(obj, Message) and obj is not Message
    ]
    names = [c.name for c in classes]
    assert len(names) == len(set(names)), names
    assert all("." in n for n in names)
    # the failure messages are error-level so that handlers failing on them never recurse
    for cls in (
        message.ProcessError,
        message.ServiceError,
        message.ServiceFailure,
        message.ServiceStalled,
        message.DeviceFailed,
        message.EventSubscriberError,
        message.ComponentStopTimeout,
        message.RuntimeBootFailed,
    ):
        assert cls.severity >= Severity.ERROR, cls.name
