"""Tell an owner's open pages that their chat list changed (created, renamed, titled...)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from chat.live import chat_group
from chat.ownership import Owner


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


def chat_event_sync(chat_id: uuid.UUID, event_type: str, **fields: Any) -> None:
    """Publish an event to every connection to this chat, from sync code (a view)."""
    async_to_sync(get_channel_layer().group_send)(
        chat_group(chat_id), {"type": event_type, **fields}
    )


def chat_listed_sync(owner: Owner, chat_id: uuid.UUID) -> None:
    """``chat_listed`` for sync views."""
    async_to_sync(chat_listed)(owner, chat_id)


def chat_unlisted_sync(owner: Owner, chat_id: uuid.UUID) -> None:
    """``chat_unlisted`` for sync views."""
    async_to_sync(chat_unlisted)(owner, chat_id)
