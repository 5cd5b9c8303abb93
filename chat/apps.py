from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class ChatConfig(AppConfig):
    """Chats, messages and the streaming engine."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "chat"

    def ready(self) -> None:
        from django.core.signals import request_finished
        from django.db.models.signals import post_delete

        from chat.models import Attachment
        from stormchat.connections import close_request_connections

        request_finished.connect(close_request_connections, dispatch_uid="request-connections")

        # However an attachment goes (removed, or with its message or chat), its files
        # go too, once the deletion is committed: they hold someone's private pictures.
        post_delete.connect(_attachment_gone, sender=Attachment, dispatch_uid="attachment-files")


def _attachment_gone(sender: Any, instance: Any, **kwargs: Any) -> None:
    from django.db import transaction

    from chat.services.attachments import attachment_files_delete

    transaction.on_commit(lambda: attachment_files_delete(instance))
