"""Writes that start a reply: a new turn, a regeneration, an edit."""

from __future__ import annotations

import uuid
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone

from chat.errors import (
    MessageNotEditable,
    NothingToContinue,
    NothingToRegenerate,
)
from chat.models import Chat, Message
from chat.services.common import (
    clean_content,
    last_position,
    lock_idle_chat,
    one_generation_per_chat,
    streaming_reply,
    touch,
)

Status = Message.Status
Role = Message.Role


@dataclass(frozen=True)
class Turn:
    """What starting a reply changed: the user message (if any), the new streaming reply,
    and the ids of messages it removed."""

    user: Message | None
    reply: Message
    removed: list[int] = field(default_factory=list)


def turn_start(
    *, chat_id: uuid.UUID, content: str, backend: str, model: str, text_required: bool = True
) -> Turn:
    """Save the user's message and the streaming reply to it in one step.

    This is the hot path of every turn, so it takes no row lock: the unique constraints on
    (chat, position) and on one streaming reply per chat turn any race into ChatBusy. On
    PostgreSQL it is one statement (one round trip instead of six).
    """
    content = clean_content(content, required=text_required)
    with one_generation_per_chat():
        if connection.vendor == "postgresql":
            return _turn_insert_one_statement(chat_id, content, backend, model)
        with transaction.atomic():
            chat = Chat(pk=chat_id)
            position = last_position(chat) + 1
            user, reply = Message.objects.bulk_create(
                [
                    Message(chat=chat, role=Role.USER, content=content, position=position),
                    streaming_reply(chat, position + 1, backend, model),
                ]
            )
            touch(chat)
    return Turn(user=user, reply=reply)


_TURN_INSERT_SQL = """
WITH next AS (
    SELECT COALESCE(MAX(position), 0) + 1 AS position FROM {message} WHERE chat_id = %(chat)s
), inserted AS (
    INSERT INTO {message}
        (chat_id, role, content, status, position, backend, model, error, lore, lore_dropped,
         alternatives, swipe, created_at)
    SELECT %(chat)s, %(user)s, %(content)s, %(complete)s, position, '', '', '',
        '[]'::jsonb, '[]'::jsonb, '[]'::jsonb, 0, %(now)s
    FROM next
    UNION ALL
    SELECT %(chat)s, %(assistant)s, '', %(streaming)s, position + 1, %(backend)s, %(model)s,
        '', '[]'::jsonb, '[]'::jsonb, '[]'::jsonb, 0, %(now)s
    FROM next
    RETURNING id, role, position
), touched AS (
    UPDATE {chat} SET updated_at = %(now)s WHERE id = %(chat)s
)
SELECT id, role, position FROM inserted
"""


def _turn_insert_one_statement(chat_id: uuid.UUID, content: str, backend: str, model: str) -> Turn:
    """turn_start's writes as one PostgreSQL statement: atomic on its own."""
    now = timezone.now()
    quote = connection.ops.quote_name
    sql = _TURN_INSERT_SQL.format(
        message=quote(Message._meta.db_table), chat=quote(Chat._meta.db_table)
    )
    params = {
        "chat": chat_id,
        "content": content,
        "backend": backend,
        "model": model,
        "now": now,
        "user": Role.USER,
        "assistant": Role.ASSISTANT,
        "complete": Status.COMPLETE,
        "streaming": Status.STREAMING,
    }
    # Inside someone else's transaction (tests, admin actions), a savepoint keeps a lost
    # race from spoiling it; on its own, the statement needs no transaction block.
    guard = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with guard, connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = {role: (pk, position) for pk, role, position in cursor.fetchall()}
    chat = Chat(pk=chat_id)
    user_pk, user_position = rows[Role.USER]
    reply_pk, reply_position = rows[Role.ASSISTANT]
    user = Message(chat=chat, role=Role.USER, content=content, position=user_position)
    reply = streaming_reply(chat, reply_position, backend, model)
    return Turn(user=_loaded(user, user_pk, now), reply=_loaded(reply, reply_pk, now))


def _loaded(message: Message, pk: int, created_at: datetime) -> Message:
    """An instance built beside a raw query, marked saved as if the ORM had fetched it."""
    message.pk, message.created_at = pk, created_at
    message._state.adding = False
    message._state.db = connection.alias
    return message


def turn_regenerate(*, chat_id: uuid.UUID, backend: str, model: str) -> Turn:
    """Write a new alternative of the last assistant reply (a swipe), keeping the ones it
    had: the same message streams again, showing the new alternative."""
    with one_generation_per_chat(), transaction.atomic():
        chat = lock_idle_chat(chat_id)
        last = chat.messages.order_by("-position").first()
        if last is None or last.role != Role.ASSISTANT or last.position == 1:
            raise NothingToRegenerate("There is no reply to regenerate yet.")
        alternatives = [*last.alternative_texts(), ""]
        _restart(last, backend, model, content="")
        last.alternatives, last.swipe = alternatives, len(alternatives) - 1
        last.save()
        touch(chat)
    return Turn(user=None, reply=last)


def turn_continue(*, chat_id: uuid.UUID, backend: str, model: str) -> Turn:
    """Extend the last assistant reply: it streams again from where its text ends."""
    with one_generation_per_chat(), transaction.atomic():
        chat = lock_idle_chat(chat_id)
        last = chat.messages.order_by("-position").first()
        if last is None or last.role != Role.ASSISTANT:
            raise NothingToContinue("Only a reply that ends the chat can be continued.")
        if len(last.content) >= settings.MAX_REPLY_CHARS:
            raise NothingToContinue("That reply is as long as a reply may be.")
        _restart(last, backend, model, content=last.content)
        last.save()
        touch(chat)
    return Turn(user=None, reply=last)


def _restart(reply: Message, backend: str, model: str, *, content: str) -> None:
    """Make a finished reply a streaming one again, with a fresh generation record."""
    fresh = streaming_reply(reply.chat, reply.position, backend, model)
    for name in ("status", "backend", "model", "prompt_tokens", "completion_tokens",
                 "ttft_ms", "duration_ms", "error", "lore", "lore_dropped"):  # fmt: skip
        setattr(reply, name, getattr(fresh, name))
    reply.content = content


def turn_edit(
    *, chat_id: uuid.UUID, message_id: int, content: str, backend: str, model: str
) -> Turn:
    """Change a user message, drop everything after it, and answer it again (a message
    that carries attachments keeps them, and may then be left without text)."""
    with one_generation_per_chat(), transaction.atomic():
        chat = lock_idle_chat(chat_id)
        user = chat.messages.filter(pk=message_id).first()
        if user is None or user.role != Role.USER:
            raise MessageNotEditable("Only your own messages in this chat can be edited.")
        content = clean_content(content, required=not user.attachment_count)
        if user.attachment_count:
            prefetch_related_objects([user], "attachments")
        later = chat.messages.filter(position__gt=user.position)
        removed = list(later.values_list("pk", flat=True))
        later.delete()
        user.content = content
        user.save(update_fields=["content"])
        reply = streaming_reply(chat, user.position + 1, backend, model)
        reply.save()
        touch(chat)
    return Turn(user=user, reply=reply, removed=removed)
