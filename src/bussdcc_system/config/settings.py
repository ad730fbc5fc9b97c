"""How a setting is declared, once, on the dataclass field that holds it.

A field says its type and default as any dataclass field does; ``metadata=setting(...)``
adds its validator and one line of documentation. The YAML walker, the reload diff, the
reference tables and the shipped commented file all read these declarations back with
:func:`settings_of` and :func:`sections_of`, so they cannot drift apart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import MISSING, dataclass
from types import MappingProxyType
from typing import Any, Final

from bussdcc_system.config.validators import SectionRule, Validator

__all__ = [
    "DeclaredSection",
    "DeclaredSetting",
    "DeviceType",
    "Section",
    "Setting",
    "section",
    "sections_of",
    "setting",
    "settings_of",
]

_SETTING: Final = "bussdcc_system.config.setting"
_SECTION: Final = "bussdcc_system.config.section"


@dataclass(frozen=True)
class Setting:
    """What one field adds to its type and default: how it is checked, what it means."""

    check: Validator[Any]
    doc: str  # one line; Markdown code spans allowed (the shipped file drops the backticks)
    example: object = None  # the value shown in the shipped file when there is no default
    default_text: str | None = None  # the reference's "Default" when it is not a value


def setting(
    check: Validator[Any], doc: str, *, example: object = None, default_text: str | None = None
) -> Mapping[str, Setting]:
    """``field(default=..., metadata=setting(check, "what it means"))``."""
    return MappingProxyType({_SETTING: Setting(check, doc, example, default_text)})


@dataclass(frozen=True)
class DeclaredSetting:
    """A field and its declaration, as the readers of the declarations see them."""

    name: str
    default: object  # dataclasses.MISSING when the file must give it
    secret: bool  # kept out of repr: messages and summaries never show it either
    check: Validator[Any]
    doc: str
    example: object
    default_text: str | None

    @property
    def required(self) -> bool:
        return self.default is MISSING


def settings_of(cls: type[Any], *, every_field: bool = True) -> tuple[DeclaredSetting, ...]:
    """The declared settings of a dataclass, in field order. With ``every_field`` a field
    without a declaration is an error (a setting the file could not set)."""
    result: list[DeclaredSetting] = []
    for f in dataclasses.fields(cls):
        declared = f.metadata.get(_SETTING)
        if declared is None:
            if every_field:
                raise TypeError(f"{cls.__name__}.{f.name} has no metadata=setting(...)")
            continue
        assert isinstance(declared, Setting)
        if f.default_factory is not MISSING:
            raise TypeError(f"{cls.__name__}.{f.name}: a setting's default is a value")
        result.append(
            DeclaredSetting(
                name=f.name,
                default=f.default,
                secret=not f.repr,
                check=declared.check,
                doc=declared.doc,
                example=declared.example,
                default_text=declared.default_text,
            )
        )
    return tuple(result)


@dataclass(frozen=True)
class Section:
    """What a field of ``Config`` that holds a section of settings adds to it."""

    title: str  # one line, for the shipped file
    rule: SectionRule | None = None


def section(title: str, *, rule: SectionRule | None = None) -> Mapping[str, Section]:
    """``field(default_factory=WebConfig, metadata=section("the dashboard"))``."""
    return MappingProxyType({_SECTION: Section(title, rule)})


@dataclass(frozen=True)
class DeclaredSection:
    name: str
    cls: type[Any]
    title: str
    rule: SectionRule | None
    settings: tuple[DeclaredSetting, ...]


def sections_of(cls: type[Any]) -> tuple[DeclaredSection, ...]:
    """The fields of ``cls`` declared with :func:`section`, with their settings."""
    result: list[DeclaredSection] = []
    for f in dataclasses.fields(cls):
        declared = f.metadata.get(_SECTION)
        if declared is None:
            continue
        assert isinstance(declared, Section)
        factory = f.default_factory
        if not isinstance(factory, type):
            raise TypeError(f"{cls.__name__}.{f.name}: a section's default_factory is its class")
        result.append(
            DeclaredSection(f.name, factory, declared.title, declared.rule, settings_of(factory))
        )
    return tuple(result)


@dataclass(frozen=True)
class DeviceType:
    """One ``kind:`` of device: the dataclass of its settings and how it is documented."""

    kind: str
    options: type[Any]
    doc: str  # one line, for the shipped file
    example_id: str  # the id its example in the shipped file shows

    @property
    def settings(self) -> tuple[DeclaredSetting, ...]:
        return settings_of(self.options)
