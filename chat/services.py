"""Writes for chats and messages."""

from __future__ import annotations

from django.db import transaction

from chat.models import Message


@transaction.atomic
def messages_reap_interrupted() -> int:
    """Mark replies left ``streaming`` by a process that died as ``interrupted``.

    Their partial text is kept. Returns how many were marked.
    """
    return Message.objects.filter(status=Message.Status.STREAMING).update(
        status=Message.Status.INTERRUPTED,
        error="The server stopped while this reply was being written.",
    )
