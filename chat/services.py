"""Writes for chats and messages."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Max, TextField, Value, When
from django.utils import timezone

from chat.backends.base import GenerationSummary
from chat.errors import (
    ChatBusy,
    ContentTooLong,
    GreetingLocked,
    InvalidContent,
    MessageNotEditable,
    NothingToRegenerate,
    TooManyChats,
)
from chat.live import live_ids
from chat.models import Chat, Message
from chat.ownership import Owner
from personas.models import Persona
from personas.prompts import DEFAULT_USER_NAME, persona_greeting, persona_greetings

Status = Message.Status
Role = Message.Role


@dataclass(frozen=True)
class Turn:
    """What starting a reply changed: the user message (if any), the new streaming reply,
    and the ids of messages it removed."""

    user: Message | None
    reply: Message
    removed: list[int] = field(default_factory=list)


def clean_content(content: object) -> str:
    """A user message's text, or InvalidContent / ContentTooLong."""
    if not isinstance(content, str) or not content.strip():
        raise InvalidContent("A message needs some text.")
    if len(content) > settings.MAX_MESSAGE_CHARS:
        raise ContentTooLong(
            f"That message is {len(content):,} characters; the limit is "
            f"{settings.MAX_MESSAGE_CHARS:,}."
        )
    return content


def chat_create(*, owner: Owner, persona: Persona, title: str = "", greeting: int = 0) -> Chat:
    """A new chat for this owner, opening with the persona's greeting (or an alternate
    one, by index)."""
    if not owner.is_known:
        raise ValueError("A chat needs an owner.")
    if owner.user_id is None:
        kept = Chat.objects.filter(session_key=owner.session_key, user=None).count()
        if kept >= settings.ANON_MAX_CHATS:
            raise TooManyChats(
                f"Without an account you can keep {settings.ANON_MAX_CHATS} chats. "
                "Delete one, or sign up to keep as many as you like."
            )
    total = len(persona_greetings(persona)) or 1
    with transaction.atomic():
        chat = Chat.objects.create(
            user_id=owner.user_id,
            session_key="" if owner.user_id else (owner.session_key or ""),
            persona=persona,
            title=title,
            greeting_index=greeting % total,
        )
        Message.objects.create(
            chat=chat,
            role=Role.ASSISTANT,
            content=persona_greeting(persona, user=_user_name(owner), index=chat.greeting_index),
            position=1,
        )
    return chat


def chat_choose_greeting(*, chat: Chat, index: object) -> list[Message]:
    """Open the chat with another of the persona's greetings (a swipe; the index wraps
    around), as long as nobody has written anything yet. Returns the chat's messages."""
    if (
        isinstance(index, bool)
        or not isinstance(index, int | str)
        or not str(index).lstrip("-").isdigit()
    ):
        raise InvalidContent("Choose a greeting by its number.")
    with transaction.atomic():
        locked = _lock_idle_chat(chat.pk)
        messages = list(locked.messages.order_by("position"))
        if len(messages) != 1:
            raise GreetingLocked("The greeting can only be changed before the chat begins.")
        total = len(persona_greetings(locked.persona)) or 1
        chat.greeting_index = locked.greeting_index = int(index) % total
        greeting = messages[0]
        greeting.content = persona_greeting(
            locked.persona, user=_user_name(locked.owner), index=locked.greeting_index
        )
        greeting.save(update_fields=["content"])
        locked.save(update_fields=["greeting_index", "updated_at"])
    return messages


def _user_name(owner: Owner) -> str:
    """The name ``{{user}}`` stands for: the account's username, else the default."""
    if owner.user_id is None:
        return DEFAULT_USER_NAME
    user = get_user_model().objects.filter(pk=owner.user_id).first()
    return user.get_username() if user else DEFAULT_USER_NAME


def chats_claim(*, session_key: str | None, user_id: int) -> int:
    """Move an anonymous session's chats to the account that just logged in."""
    if not session_key:
        return 0
    return Chat.objects.filter(session_key=session_key, user=None).update(
        user_id=user_id, session_key=""
    )


def chat_rename(*, chat: Chat, title: object) -> Chat:
    """Give the chat a new title (trimmed to 200 characters)."""
    if not isinstance(title, str):
        raise InvalidContent("A title must be text.")
    chat.title = " ".join(title.split())[:200]
    chat.save(update_fields=["title", "updated_at"])
    return chat


def chat_set_title_if_untitled(*, chat_id: uuid.UUID, title: str) -> bool:
    """Give a chat its automatic title, unless it has one (a rename always wins)."""
    title = " ".join(title.split())[:200]
    return bool(title) and bool(Chat.objects.filter(pk=chat_id, title="").update(title=title))


def chat_delete(*, chat: Chat) -> None:
    """Delete the chat and all its messages."""
    chat.delete()


@transaction.atomic
def chat_clear(*, chat_id: uuid.UUID) -> list[Message]:
    """Empty the chat and start again from the persona's greeting."""
    chat = _lock_idle_chat(chat_id)
    chat.messages.all().delete()
    greeting = Message.objects.create(
        chat=chat,
        role=Role.ASSISTANT,
        content=persona_greeting(
            chat.persona, user=_user_name(chat.owner), index=chat.greeting_index
        ),
        position=1,
    )
    Chat.objects.filter(pk=chat.pk).update(updated_at=timezone.now())
    return [greeting]


def turn_start(*, chat_id: uuid.UUID, content: object, backend: str, model: str) -> Turn:
    """Save the user's message and the streaming reply to it in one step.

    This is the hot path of every turn, so it takes no row lock: the unique constraints on
    (chat, position) and on one streaming reply per chat turn any race into ChatBusy. On
    PostgreSQL it is one statement (one round trip instead of six).
    """
    content = clean_content(content)
    with _one_generation_per_chat():
        if connection.vendor == "postgresql":
            return _turn_insert_one_statement(chat_id, content, backend, model)
        with transaction.atomic():
            chat = Chat(pk=chat_id)
            position = _last_position(chat) + 1
            user, reply = Message.objects.bulk_create(
                [
                    Message(chat=chat, role=Role.USER, content=content, position=position),
                    _streaming_reply(chat, position + 1, backend, model),
                ]
            )
            _touch(chat)
    return Turn(user=user, reply=reply)


_TURN_INSERT_SQL = """
WITH next AS (
    SELECT COALESCE(MAX(position), 0) + 1 AS position FROM {message} WHERE chat_id = %(chat)s
), inserted AS (
    INSERT INTO {message}
        (chat_id, role, content, status, position, backend, model, error, created_at)
    SELECT %(chat)s, %(user)s, %(content)s, %(complete)s, position, '', '', '', %(now)s
    FROM next
    UNION ALL
    SELECT %(chat)s, %(assistant)s, '', %(streaming)s, position + 1, %(backend)s, %(model)s,
        '', %(now)s
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
    common = {"chat_id": chat_id, "created_at": now}
    user_pk, user_position = rows[Role.USER]
    reply_pk, reply_position = rows[Role.ASSISTANT]
    user = _loaded(
        Message(pk=user_pk, role=Role.USER, content=content, position=user_position, **common)
    )
    reply = _loaded(
        Message(
            pk=reply_pk,
            role=Role.ASSISTANT,
            status=Status.STREAMING,
            position=reply_position,
            backend=backend,
            model=model,
            **common,
        )
    )
    return Turn(user=user, reply=reply)


def _loaded(message: Message) -> Message:
    """Mark an instance built from a raw query as saved, like one the ORM fetched."""
    message._state.adding = False
    message._state.db = connection.alias
    return message


def turn_regenerate(*, chat_id: uuid.UUID, backend: str, model: str) -> Turn:
    """Replace the last assistant reply with a new streaming one."""
    with _one_generation_per_chat(), transaction.atomic():
        chat = _lock_idle_chat(chat_id)
        last = chat.messages.order_by("-position").first()
        if last is None or last.role != Role.ASSISTANT or last.position == 1:
            raise NothingToRegenerate("There is no reply to regenerate yet.")
        removed = [last.pk]
        last.delete()
        reply = _streaming_reply(chat, last.position, backend, model)
        reply.save()
        _touch(chat)
    return Turn(user=None, reply=reply, removed=removed)


def turn_edit(
    *, chat_id: uuid.UUID, message_id: object, content: object, backend: str, model: str
) -> Turn:
    """Change a user message, drop everything after it, and answer it again."""
    content = clean_content(content)
    with _one_generation_per_chat(), transaction.atomic():
        chat = _lock_idle_chat(chat_id)
        user = chat.messages.filter(pk=_as_id(message_id)).first() if _as_id(message_id) else None
        if user is None or user.role != Role.USER:
            raise MessageNotEditable("Only your own messages in this chat can be edited.")
        later = chat.messages.filter(position__gt=user.position)
        removed = list(later.values_list("pk", flat=True))
        later.delete()
        user.content = content
        user.save(update_fields=["content"])
        reply = _streaming_reply(chat, user.position + 1, backend, model)
        reply.save()
        _touch(chat)
    return Turn(user=user, reply=reply, removed=removed)


def replies_flush(*, texts: dict[int, str]) -> int:
    """Save the text written so far of many streaming replies, in one statement.

    Replies that have finished meanwhile are left alone: their final text is already saved.
    """
    if not texts:
        return 0
    content = Case(
        *(When(pk=message_id, then=Value(text)) for message_id, text in texts.items()),
        output_field=TextField(),
    )
    return Message.objects.filter(pk__in=list(texts), status=Status.STREAMING).update(
        content=content
    )


def reply_finish(
    *,
    message_id: int,
    content: str,
    status: Message.Status,
    summary: GenerationSummary | None = None,
    error: str = "",
) -> Message | None:
    """Save the reply's final text, status, usage and timings; None if it was deleted."""
    fields: dict[str, object] = {"content": content, "status": status, "error": error}
    if summary is not None:
        fields |= {
            "model": summary.model,
            "prompt_tokens": summary.prompt_tokens,
            "completion_tokens": summary.completion_tokens,
            "ttft_ms": summary.ttft_ms,
            "duration_ms": summary.duration_ms,
        }
    Message.objects.filter(pk=message_id).update(**fields)
    return Message.objects.filter(pk=message_id).first()


def messages_reap_interrupted() -> int:
    """Mark replies left ``streaming`` by a process that died as ``interrupted``.

    A reply whose run still refreshes its live state (in Redis, or in this process) is
    alive and kept. Partial text is kept. Returns how many were marked.
    """
    streaming = list(Message.objects.filter(status=Status.STREAMING).values_list("pk", flat=True))
    orphans = set(streaming) - live_ids(streaming)
    return Message.objects.filter(pk__in=orphans, status=Status.STREAMING).update(
        status=Status.INTERRUPTED,
        error="The server stopped while this reply was being written.",
    )


# --- helpers -----------------------------------------------------------------------------


@contextmanager
def _one_generation_per_chat() -> Iterator[None]:
    """Turn the database's one-streaming-reply constraint into ChatBusy (a lost race)."""
    try:
        yield
    except IntegrityError:
        raise ChatBusy("A reply is already being written in this chat.") from None


def _as_id(value: object) -> int | None:
    """A message id from JSON (a number, or digits from an HTML form), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _lock_idle_chat(chat_id: uuid.UUID) -> Chat:
    """Lock the chat row; ChatBusy if a reply is already streaming."""
    chat = Chat.objects.select_for_update().select_related("persona").get(pk=chat_id)
    if chat.messages.filter(status=Status.STREAMING).exists():
        raise ChatBusy("A reply is already being written in this chat. Stop it first.")
    return chat


def _last_position(chat: Chat) -> int:
    return chat.messages.aggregate(last=Max("position"))["last"] or 0


def _streaming_reply(chat: Chat, position: int, backend: str, model: str) -> Message:
    return Message(
        chat=chat,
        role=Role.ASSISTANT,
        status=Status.STREAMING,
        position=position,
        backend=backend,
        model=model,
    )


def _touch(chat: Chat) -> None:
    Chat.objects.filter(pk=chat.pk).update(updated_at=timezone.now())
