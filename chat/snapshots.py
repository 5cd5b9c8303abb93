"""The ``welcome`` snapshot a connection gets after joining its chat's group."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from chat.backends.registry import backend_for_persona
from chat.live import live_get
from chat.models import Chat, Message
from chat.presenters import books_data, chat_data, message_data
from chat.selectors import chat_latest_window, chat_own_lorebooks


def _stored_snapshot(chat: Chat) -> dict[str, Any]:
    window = chat_latest_window(chat=chat)
    backend, options = backend_for_persona(chat.persona)
    return {
        "chat": {**chat_data(chat), "lorebooks": books_data(chat_own_lorebooks(chat=chat))},
        "backend": backend.name,
        "model": options.model,
        "messages": [message_data(m) for m in window.messages],
        "has_more": window.has_more,
    }


async def chat_snapshot(chat: Chat) -> dict[str, Any]:
    """The chat, its persona and model, and its newest messages.

    A reply still streaming carries its live text and the ``seq`` of the last batch
    published, so the client applies only ``stream`` events with a higher ``seq``; one
    waiting for the embedded model carries its ``queue_position``, and one in a group scene
    the members who will speak after it (``queued``, slugs).
    Older messages come from ``GET /api/chats/<id>/?before=<position>``.
    """
    snapshot = await database_sync_to_async(_stored_snapshot)(chat)
    for message in snapshot["messages"]:
        if message["status"] == Message.Status.STREAMING:
            live = await live_get(message["id"])
            message["seq"] = live.seq if live else 0
            if live is not None:
                message["content"] = live.text
                if live.position:
                    message["queue_position"] = live.position
                if live.queued:
                    message["queued"] = list(live.queued)
    return snapshot
