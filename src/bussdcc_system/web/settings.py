"""``WebSettings``: what a reload may change without rebinding (the write token and the
allowed origins), in a module of its own so the daemon can hold them before Flask loads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class WebSettings:
    """What a reload may change without rebinding: the write token and allowed origins."""

    token: str | None = None
    allowed_origins: tuple[str, ...] = ()


__all__ = ["WebSettings"]
