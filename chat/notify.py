"""Tell open pages what changed: an owner's chat list (created, renamed, titled...), or a
chat's messages replaced wholesale."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from chat.live import chat_group
from chat.models import Message
from chat.ownership import Owner
from chat.presenters import message_data


def owner_group(owner: Owner) -> str:
    """The group every page of this owner joins; session keys are hashed, never exposed."""
    if owner.user_id is not None:
        return f"owner.u{owner.user_id}"
    digest = hashlib.sha256((owner.session_key or "").encode()).hexdigest()[:40]
    return f"owner.s{digest}"


async def chat_listed(owner: Owner, chat_id: uuid.UUID) -> None:
    """This chat is new or changed: pages move it to the top of their list."""
    event = {"type": "chat.listed", "chat_id": str(chat_id)}
    await get_channel_layer().group_send(owner_group(owner), event)


async def chat_unlisted(owner: Owner, chat_id: uuid.UUID) -> None:
    """This chat is gone: pages remove it from their list."""
    event = {"type": "chat.unlisted", "chat_id": str(chat_id)}
    await get_channel_layer().group_send(owner_group(owner), event)


def cleared_event(messages: list[Message]) -> dict[str, Any]:
    """``chat.cleared``: the chat's messages now (after clear, or a greeting swipe) and
    which of the persona's greetings opens it."""
    return {
        "type": "chat.cleared",
        "messages": [message_data(m) for m in messages],
        "greeting_index": messages[0].chat.greeting_index,
    }


def chat_cleared_sync(messages: list[Message]) -> None:
    """Tell every connection to the chat that its messages were replaced (sync views)."""
    chat_id = messages[0].chat_id
    async_to_sync(get_channel_layer().group_send)(chat_group(chat_id), cleared_event(messages))


def chat_listed_sync(owner: Owner, chat_id: uuid.UUID) -> None:
    """``chat_listed`` for sync views."""
    async_to_sync(chat_listed)(owner, chat_id)


def chat_unlisted_sync(owner: Owner, chat_id: uuid.UUID) -> None:
    """``chat_unlisted`` for sync views."""
    async_to_sync(chat_unlisted)(owner, chat_id)
