"""Writes to one message that start no reply: swipe, edit a reply, delete."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.db import transaction

from chat.errors import MessageNotDeletable, MessageNotEditable, NoSuchSwipe, NotFound
from chat.models import Chat, Message
from chat.services.common import clean_content, last_position, lock_idle_chat, touch

Role = Message.Role


def _message_in(chat: Chat, message_id: int) -> Message:
    message = chat.messages.filter(pk=message_id).first()
    if message is None:
        raise NotFound("That message is not in this chat.")
    return message


def message_post(*, chat_id: uuid.UUID, content: str, present: Sequence[str]) -> Message:
    """The person's message, with nobody asked to answer it (a manual scene)."""
    content = clean_content(content)
    with transaction.atomic():
        chat = lock_idle_chat(chat_id)
        position = last_position(chat) + 1
        message = Message.objects.create(
            chat=chat, role=Role.USER, content=content, position=position, present=list(present)
        )
        touch(chat)
    return message


def message_swipe(*, chat_id: uuid.UUID, message_id: int, index: int) -> Message:
    """Show another of a reply's alternatives (counting from 0); the prompt uses it from
    now on."""
    with transaction.atomic():
        message = _message_in(lock_idle_chat(chat_id), message_id)
        if message.role != Role.ASSISTANT or not 0 <= index < message.swipes:
            raise NoSuchSwipe(f"That reply has {message.swipes} alternative(s), numbered from 0.")
        texts = message.alternative_texts()
        message.alternatives, message.swipe, message.content = texts, index, texts[index]
        message.save(update_fields=["alternatives", "swipe", "content"])
    return message


def message_edit_reply(*, chat_id: uuid.UUID, message_id: int, content: str) -> Message:
    """Replace an assistant message's text in place (the alternative shown); nothing is
    written again."""
    content = clean_content(content)
    with transaction.atomic():
        message = _message_in(lock_idle_chat(chat_id), message_id)
        if message.role != Role.ASSISTANT:
            raise MessageNotEditable("Only replies are edited in place.")
        message.content = content
        message.save(update_fields=["content"])
    return message


def message_delete(*, chat_id: uuid.UUID, message_id: int) -> list[int]:
    """Remove one message; returns the ids removed. The opening greeting stays while it
    is the only message."""
    with transaction.atomic():
        chat = lock_idle_chat(chat_id)
        message = _message_in(chat, message_id)
        if message.position == 1 and not chat.messages.exclude(pk=message.pk).exists():
            raise MessageNotDeletable("The greeting can't be deleted while it is alone.")
        message.delete()
        touch(chat)
    return [message_id]
