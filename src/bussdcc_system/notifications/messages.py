"""What the notification service says about its own work: sent, or given up (in words)."""

from __future__ import annotations

from dataclasses import dataclass

from bussdcc import Message, Severity

__all__ = ["NotificationFailed", "NotificationSent"]


@dataclass(slots=True, frozen=True)
class NotificationSent(Message):
    """A batch of ``notices`` reached ``endpoint`` (``ntfy`` or ``webhook``) at ``target``
    (scheme and host only: the URL is a secret)."""

    name = "notification.sent"
    endpoint: str
    target: str
    notices: int
    attempts: int


@dataclass(slots=True, frozen=True)
class NotificationFailed(Message):
    """Gave up on a batch after ``attempts`` tries: ``reason`` says why, in words."""

    name = "notification.failed"
    severity = Severity.WARNING
    endpoint: str
    target: str
    reason: str
    attempts: int
    notices: int
