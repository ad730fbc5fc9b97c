"""Notifications: a short message to the owner's phone when something changes.

One job per module, imported one way only::

    notices    which events are worth telling, as a title and a sentence
    endpoints  an ntfy topic or a JSON webhook: the request, the POST, its errors in words
    messages   notification.sent / notification.failed
    service    the kernel service: bounded queues, rate limit, retries with backoff
"""

from bussdcc_system.notifications.service import NotificationService, notification_service

__all__ = ["NotificationService", "notification_service"]
