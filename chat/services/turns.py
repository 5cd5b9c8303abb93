"""Writes that start a reply: a new turn, a regeneration, an edit."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, prefetch_related_objects
from django.utils import timezone

from chat.errors import (
    MessageNotEditable,
    NothingToContinue,
    NothingToRegenerate,
)
from chat.models import Chat, Message
from chat.services.common import (
    clean_content,
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


@dataclass(frozen=True)
class TurnStart:
    """A user message to save (None: a scene member speaks with no new message), and the
    backend and model that will answer it."""

    chat_id: uuid.UUID
    content: str | None
    backend: str
    model: str
    # Who answers (a member's persona id), and the slugs of the members who hear it.
    speaker: str = ""
    present: tuple[str, ...] = ()


def turn_start(
    *,
    chat_id: uuid.UUID,
    content: str,
    backend: str,
    model: str,
    text_required: bool = True,
    speaker: str = "",
    present: Sequence[str] = (),
) -> Turn:
    """Save the user's message and the streaming reply to it in one step."""
    content = clean_content(content, required=text_required)
    start = TurnStart(chat_id, content, backend, model, speaker, tuple(present))
    return turn_start_many([start])[0]


def turn_start_many(starts: Sequence[TurnStart]) -> list[Turn]:
    """Save each user message (already cleaned; none for a member speaking on their own)
    and the streaming reply to it, in one step
    for them all: a burst of turns from many chats costs one statement on PostgreSQL
    (one round trip instead of six per turn), three queries on SQLite.

    This is the hot path of every turn, so it takes no row lock: the unique constraints on
    (chat, position) and on one streaming reply per chat turn any race into ChatBusy, for
    the whole batch (nothing is saved; the caller may then try each turn on its own). Each
    chat may appear once.
    """
    if not starts:
        return []
    with one_generation_per_chat():
        if connection.vendor == "postgresql":
            return _turns_insert_one_statement(starts)
        with transaction.atomic():
            chat_ids = [start.chat_id for start in starts]
            last = dict(
                Message.objects.filter(chat_id__in=chat_ids)
                .values("chat_id")
                .annotate(last=Max("position"))
                .values_list("chat_id", "last")
            )
            turns = []
            for start in starts:
                chat, position = Chat(pk=start.chat_id), (last.get(start.chat_id) or 0) + 1
                user = None
                if start.content is not None:
                    user = Message(
                        chat=chat,
                        role=Role.USER,
                        content=start.content,
                        position=position,
                        present=list(start.present),
                    )
                    position += 1
                reply = streaming_reply(
                    chat, position, start.backend, start.model, start.speaker, start.present
                )
                turns.append(Turn(user=user, reply=reply))
            Message.objects.bulk_create(
                [m for turn in turns for m in (turn.user, turn.reply) if m is not None]
            )
            Chat.objects.filter(pk__in=chat_ids).update(updated_at=timezone.now())
    return turns


_TURNS_INSERT_SQL = """
WITH request AS (
    SELECT * FROM unnest(%(chats)s::uuid[], %(contents)s::text[], %(backends)s::text[],
        %(models)s::text[], %(speakers)s::text[], %(presents)s::jsonb[])
        AS r(chat_id, content, backend, model, speaker, present)
), next AS (
    SELECT r.*, COALESCE(
        (SELECT MAX(m.position) FROM {message} m WHERE m.chat_id = r.chat_id), 0
    ) + 1 AS position
    FROM request r
), inserted AS (
    INSERT INTO {message}
        (chat_id, role, content, status, position, backend, model, error, lore, lore_dropped,
         alternatives, swipe, created_at, speaker, present)
    SELECT chat_id, %(user)s, content, %(complete)s, position, '', '', '',
        '[]'::jsonb, '[]'::jsonb, '[]'::jsonb, 0, %(now)s, '', present
    FROM next WHERE content IS NOT NULL
    UNION ALL
    SELECT chat_id, %(assistant)s, '', %(streaming)s,
        position + (CASE WHEN content IS NULL THEN 0 ELSE 1 END), backend, model,
        '', '[]'::jsonb, '[]'::jsonb, '[]'::jsonb, 0, %(now)s, speaker, present
    FROM next
    RETURNING id, chat_id, role, position
), touched AS (
    UPDATE {chat} SET updated_at = %(now)s WHERE id IN (SELECT chat_id FROM request)
)
SELECT id, chat_id, role, position FROM inserted
"""


def _turns_insert_one_statement(starts: Sequence[TurnStart]) -> list[Turn]:
    """turn_start_many's writes as one PostgreSQL statement: atomic on its own."""
    now = timezone.now()
    quote = connection.ops.quote_name
    sql = _TURNS_INSERT_SQL.format(
        message=quote(Message._meta.db_table), chat=quote(Chat._meta.db_table)
    )
    params = {
        "chats": [start.chat_id for start in starts],
        "contents": [start.content for start in starts],
        "backends": [start.backend for start in starts],
        "models": [start.model for start in starts],
        "speakers": [start.speaker for start in starts],
        "presents": [json.dumps(list(start.present)) for start in starts],
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
        rows = {(chat_id, role): (pk, position) for pk, chat_id, role, position in cursor}
    turns = []
    for start in starts:
        chat, present = Chat(pk=start.chat_id), list(start.present)
        user = None
        if start.content is not None:
            user_pk, user_position = rows[start.chat_id, Role.USER]
            user = Message(
                chat=chat, role=Role.USER, content=start.content, position=user_position,
                present=present,
            )  # fmt: skip
            user = _loaded(user, user_pk, now)
        reply_pk, reply_position = rows[start.chat_id, Role.ASSISTANT]
        reply = streaming_reply(
            chat, reply_position, start.backend, start.model, start.speaker, present
        )
        turns.append(Turn(user=user, reply=_loaded(reply, reply_pk, now)))
    return turns


def _loaded(message: Message, pk: int, created_at: datetime) -> Message:
    """An instance built beside a raw query, marked saved as if the ORM had fetched it."""
    message.pk, message.created_at = pk, created_at
    message._state.adding = False
    message._state.db = connection.alias
    return message


def turn_speak(
    *, chat_id: uuid.UUID, speaker: str, present: Sequence[str], backend: str, model: str
) -> Turn:
    """A reply by one member with no new message from the person: a nudge, the next
    speaker of a scene's queue, or a turn of the members talking among themselves. Like
    turn_start it takes no lock: the constraints turn a race into ChatBusy."""
    start = TurnStart(chat_id, None, backend, model, speaker, tuple(present))
    return turn_start_many([start])[0]


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
    *,
    chat_id: uuid.UUID,
    message_id: int,
    content: str,
    backend: str,
    model: str,
    speaker: str = "",
    present: Sequence[str] = (),
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
        reply = streaming_reply(chat, user.position + 1, backend, model, speaker, present)
        reply.save()
        touch(chat)
    return Turn(user=user, reply=reply, removed=removed)
