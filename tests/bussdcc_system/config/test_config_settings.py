"""How a field declares itself: what ``settings_of`` and ``sections_of`` read back."""

from __future__ import annotations

import re
from dataclasses import MISSING, dataclass, field

import pytest

from bussdcc_system.config.settings import section, sections_of, setting, settings_of
from bussdcc_system.config.validators import BOOLEAN, Integer, Token, seconds


@dataclass(frozen=True)
class _Declared:
    port: int = field(metadata=setting(Integer(1, 9), "a port", example=3))
    secret: str | None = field(default=None, repr=False, metadata=setting(Token(min_length=4), "s"))
    on: bool = field(default=True, metadata=setting(BOOLEAN, "on", default_text="on"))


@dataclass(frozen=True)
class _Undeclared:
    interval: float = field(default=1.0, metadata=setting(seconds(), "seconds"))
    forgotten: int = 0


def test_settings_of_reads_type_default_check_and_doc_in_field_order() -> None:
    port, secret, on = settings_of(_Declared)
    assert (port.name, port.default, port.required, port.example) == ("port", MISSING, True, 3)
    assert port.check.expected == "an integer 1-9"
    assert port.doc == "a port"
    assert (secret.secret, secret.default, secret.required) == (True, None, False)
    assert (on.secret, on.default, on.default_text) == (False, True, "on")


def test_a_field_without_a_declaration_is_an_error() -> None:
    with pytest.raises(
        TypeError, match=re.escape("_Undeclared.forgotten has no metadata=setting(...)")
    ):
        settings_of(_Undeclared)
    assert [item.name for item in settings_of(_Undeclared, every_field=False)] == ["interval"]


def test_a_setting_default_is_a_value_not_a_factory() -> None:
    @dataclass(frozen=True)
    class Factory:
        mounts: tuple[str, ...] = field(default_factory=tuple, metadata=setting(BOOLEAN, "m"))

    with pytest.raises(
        TypeError, match=re.escape("Factory.mounts: a setting's default is a value")
    ):
        settings_of(Factory)


def test_sections_of_reads_the_section_fields_only() -> None:
    @dataclass(frozen=True)
    class Whole:
        first: _Undeclared = field(default_factory=_Undeclared, metadata=section("one"))
        other: int = 0

    with pytest.raises(TypeError, match=re.escape("_Undeclared.forgotten has no")):
        sections_of(Whole)

    @dataclass(frozen=True)
    class Fine:
        first: _Declared = field(default_factory=lambda: _Declared(port=1), metadata=section("one"))

    with pytest.raises(
        TypeError, match=re.escape("Fine.first: a section's default_factory is its class")
    ):
        sections_of(Fine)
