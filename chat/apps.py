from __future__ import annotations

from django.apps import AppConfig


class ChatConfig(AppConfig):
    """Chats, messages and the streaming engine."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "chat"
