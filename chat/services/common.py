"""Helpers the chat, turn and reply services share."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.conf import settings
from django.db import IntegrityError
from django.db.models import Max
from django.utils import timezone

from chat.errors import (
    ChatBusy,
    ContentTooLong,
    InvalidContent,
)
from chat.models import Chat, Message
from stormchat.text import without_nul

Status = Message.Status
Role = Message.Role


def clean_content(content: str, *, required: bool = True) -> str:
    """A user message's text (NUL characters dropped), or InvalidContent / ContentTooLong.
    Only a message that carries attachments may be without text (``required=False``)."""
    content = without_nul(content)
    if required and not content.strip():
        raise InvalidContent("A message needs some text.")
    if len(content) > settings.MAX_MESSAGE_CHARS:
        raise ContentTooLong(
            f"That message is {len(content):,} characters; the limit is "
            f"{settings.MAX_MESSAGE_CHARS:,}."
        )
    return content


@contextmanager
def one_generation_per_chat() -> Iterator[None]:
    """Turn the database's one-streaming-reply constraint into ChatBusy (a lost race).
    Any other integrity error (a column left out, say) is a bug, and goes on as itself."""
    try:
        yield
    except IntegrityError as error:
        if "unique" not in str(error).lower():
            raise
        raise ChatBusy("A reply is already being written in this chat.") from None


def lock_idle_chat(chat_id: uuid.UUID) -> Chat:
    """Lock the chat row; ChatBusy if a reply is already streaming."""
    chat = Chat.objects.select_for_update().select_related("persona").get(pk=chat_id)
    if chat.messages.filter(status=Status.STREAMING).exists():
        raise ChatBusy("A reply is already being written in this chat. Stop it first.")
    return chat


def last_position(chat: Chat) -> int:
    return chat.messages.aggregate(last=Max("position"))["last"] or 0


def streaming_reply(
    chat: Chat,
    position: int,
    backend: str,
    model: str,
    speaker: str = "",
    present: Sequence[str] = (),
) -> Message:
    return Message(
        chat=chat,
        role=Role.ASSISTANT,
        status=Status.STREAMING,
        position=position,
        backend=backend,
        model=model,
        speaker=speaker,
        present=list(present),
    )


def touch(chat: Chat) -> None:
    Chat.objects.filter(pk=chat.pk).update(updated_at=timezone.now())
