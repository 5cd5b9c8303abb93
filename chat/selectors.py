"""Reads for chats and messages. Every chat read is scoped to its owner."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, models
from django.db.models import F, Prefetch, Q, prefetch_related_objects

from chat.models import Attachment, Chat, ChatMember, Message, Reader, UserPersona
from chat.ownership import Owner
from chat.scenes import Member
from personas.lore import series
from personas.macros import DEFAULT_USER_NAME
from personas.models import Lorebook, Persona, PersonaAsset
from personas.selectors import persona_as_saved
from stormchat.queries import first_row
from stormchat.text import without_nul


def chat_get_for_owner(*, chat_id: str | uuid.UUID, owner: Owner) -> Chat | None:
    """The owner's chat with this id; None for a bad id, a missing chat or someone else's."""
    try:
        chat_uuid = uuid.UUID(str(chat_id))
    except ValueError:
        return None
    return first_row(Chat.objects.owned_by(owner).select_related("persona").filter(pk=chat_uuid))


def chat_for_turn(*, chat_id: str | uuid.UUID, owner: Owner) -> Chat | None:
    """The owner's chat with its persona and user, for saving a turn (see chats_for_turns)."""
    return chats_for_turns([(chat_id, owner)])[0]


def chats_for_turns(wanted: Sequence[tuple[str | uuid.UUID, Owner]]) -> list[Chat | None]:
    """Each (chat id, owner)'s chat with its persona and user, or None for a bad id, a
    missing chat or someone else's: one query for them all, and each persona from the
    process's copy of its saved revision (read once per revision)."""
    ids: list[uuid.UUID | None] = []
    for chat_id, _ in wanted:
        try:
            ids.append(uuid.UUID(str(chat_id)))
        except ValueError:
            ids.append(None)
    chats = (
        Chat.objects.filter(pk__in={pk for pk in ids if pk is not None})
        .select_related("user", "user_persona")
        .annotate(persona_saved_at=F("persona__updated_at"))
    )
    found = {chat.pk: chat for chat in chats} if any(ids) else {}
    result: list[Chat | None] = []
    for pk, (_, owner) in zip(ids, wanted, strict=True):
        chat = found.get(pk)
        if chat is not None and chat.belongs_to(owner):
            persona = persona_as_saved(persona_id=chat.persona_id, updated_at=chat.persona_saved_at)
            if persona is not None:
                # Two turns of one chat in a batch get a chat each: a turn changes its own.
                chat = copy.copy(chat)
                chat.persona = persona
                result.append(chat)
                continue
        result.append(None)
    return result


def members_of_chats(chat_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Member]]:
    """Each chat's members in the scene's order, each persona from the process's copy of
    its saved revision: one query however many chats."""
    rows = (
        ChatMember.objects.filter(chat_id__in=set(chat_ids))
        .order_by("order", "pk")
        .values_list("chat_id", "persona_id", "persona__updated_at", "muted", "joined_at")
    )
    members: dict[uuid.UUID, list[Member]] = {chat_id: [] for chat_id in chat_ids}
    for chat_id, persona_id, saved_at, muted, joined_at in rows:
        persona = persona_as_saved(persona_id=persona_id, updated_at=saved_at)
        if persona is not None:
            members[chat_id].append(Member(persona, muted, joined_at))
    return members


def chat_members(chat: Chat) -> list[Member]:
    """The chat's members, in the scene's order: read once per chat instance (kept on it
    as ``cast``; a turn's chat has them already, and a listed page's are prefetched)."""
    cast: list[Member] | None = getattr(chat, "cast", None)
    if cast is None:
        rows = getattr(chat, "_prefetched_objects_cache", {}).get("members")
        if rows is None:
            rows = chat.members.select_related("persona")
        cast = cast_of(chat, [Member(row.persona, row.muted, row.joined_at) for row in rows])
        chat.cast = cast  # type: ignore[attr-defined]
    return cast


def cast_of(chat: Chat, members: list[Member]) -> list[Member]:
    """The chat's members; a chat written before scenes, or by hand, without member rows
    has its persona alone."""
    return members or [Member(chat.persona, False, chat.created_at)]


def with_members(chats: models.QuerySet[Chat]) -> models.QuerySet[Chat]:
    """The chats with their members and their personas (two more queries for them all)."""
    return chats.prefetch_related(
        Prefetch("members", queryset=ChatMember.objects.select_related("persona"))
    )


def _user_icons(persona: object) -> models.QuerySet[PersonaAsset]:
    """A persona's CCv3 ``user_icon`` assets."""
    return PersonaAsset.objects.filter(persona=persona, type="user_icon")


@dataclass(frozen=True)
class PromptUser:
    """Who ``{{user}}`` is in a chat: a name, and what the model is told about them."""

    name: str
    description: str = ""


def chat_user(chat: Chat) -> PromptUser:
    """The chat's user persona; else the account's username (or "User"). A character whose
    card brings its own user icon (CCv3 ``user_icon``) turns the user persona off, as the
    spec asks."""
    # Only asked when there is a user persona to turn off (most chats have none).
    if chat.user_persona_id is not None and not _user_icons(chat.persona_id).exists():
        played = chat.user_persona
        assert played is not None
        return PromptUser(played.name, played.description)
    if chat.user_id is None:
        return PromptUser(DEFAULT_USER_NAME)
    user = chat.user if "user" in chat._state.fields_cache else None
    if user is None:
        user = first_row(get_user_model().objects.filter(pk=chat.user_id))
    return PromptUser(user.get_username() if user else DEFAULT_USER_NAME)


def user_personas_for_owner(owner: Owner) -> list[UserPersona]:
    """The owner's user personas, by name."""
    return list(owned_user_personas(owner))


def user_persona_for_owner(*, owner: Owner, user_persona_id: int) -> UserPersona | None:
    """One of the owner's user personas; None for someone else's or a missing one."""
    return owned_user_personas(owner).filter(pk=user_persona_id).first()


def user_persona_default(owner: Owner) -> UserPersona | None:
    """The user persona the owner's new chats start with, if they chose one."""
    return owned_user_personas(owner).filter(is_default=True).first()


def owned_user_personas(owner: Owner) -> models.QuerySet[UserPersona]:
    if owner.user_id is not None:
        return UserPersona.objects.filter(user_id=owner.user_id)
    if owner.session_key:
        return UserPersona.objects.filter(user=None, session_key=owner.session_key)
    return UserPersona.objects.none()


def lorebooks_available() -> list[Lorebook]:
    """The books a chat may add on top of its persona's: active, not global, by name."""
    return list(Lorebook.objects.filter(is_active=True, is_global=False).order_by("name", "pk"))


def chat_own_lorebooks(*, chat: Chat) -> list[Lorebook]:
    """The books this chat has added itself, by name."""
    return list(chat.lorebooks.order_by("name", "pk"))


def chat_lorebooks(*, chat: Chat) -> list[Lorebook]:
    """The active books a chat reads (see chats_lorebooks)."""
    return chats_lorebooks([chat])[0]


def chats_lorebooks(
    chats: Sequence[Chat], speakers: Sequence[int] | None = None
) -> list[list[Lorebook]]:
    """Each chat's active books, by id: the global ones, its persona's own and linked
    books (in a scene, the speaker's: ``speakers``, persona ids, one per chat; never
    another member's), and the chat's own. One query however many chats (written out: the
    ORM's compiling of this query cost more than running it)."""
    if not chats:
        return []
    personas = list(speakers) if speakers is not None else [chat.persona_id for chat in chats]
    quote = connection.ops.quote_name
    chat_pk, persona_links = Chat._meta.pk, Persona.lorebooks.through._meta.db_table
    wanted = dict.fromkeys(zip([chat.pk for chat in chats], personas, strict=True))
    pairs = ", ".join(["(%s, %s)"] * len(wanted))
    params: list[Any] = []
    for chat_id, persona_id in wanted:
        params += [chat_pk.get_db_prep_value(chat_id, connection), persona_id]
    # What compiling a book reads (personas.lore.compiled), without the editors' JSON fields.
    sql = f"""
        WITH wanted (chat_id, persona_id) AS (VALUES {pairs})
        SELECT wanted.chat_id AS for_chat, wanted.persona_id AS for_persona, book.id,
            book.revision, book.name,
            book.scan_depth, book.token_budget, book.recursive_scanning,
            book.recursion_steps
        FROM {quote(Lorebook._meta.db_table)} book CROSS JOIN wanted
        WHERE book.is_active AND (
            book.is_global
            OR book.id = (
                SELECT persona.own_lorebook_id FROM {quote(Persona._meta.db_table)} persona
                WHERE persona.id = wanted.persona_id
            )
            OR EXISTS (
                SELECT 1 FROM {quote(persona_links)} link
                WHERE link.lorebook_id = book.id AND link.persona_id = wanted.persona_id
            )
            OR EXISTS (
                SELECT 1 FROM {quote(Chat.lorebooks.through._meta.db_table)} link
                WHERE link.lorebook_id = book.id AND link.chat_id = wanted.chat_id
            )
        )
        ORDER BY book.id
    """
    found: dict[tuple[uuid.UUID, int], list[Lorebook]] = {}
    for book in Lorebook.objects.raw(sql, params):
        key = (chat_pk.to_python(book.for_chat), int(book.for_persona))
        found.setdefault(key, []).append(book)
    return [found.get(key, []) for key in zip([c.pk for c in chats], personas, strict=True)]


def reader_read_through(owner: Owner) -> str:
    """How far the owner has said they have read (the first book until they say)."""
    if owner.user_id:
        readers = Reader.objects.filter(user_id=owner.user_id)
    elif owner.session_key:
        readers = Reader.objects.filter(user=None, session_key=owner.session_key)
    else:
        return series.FIRST_BOOK
    found = readers.values_list("read_through", flat=True).first()
    return found or series.FIRST_BOOK


@dataclass(frozen=True)
class ChatPage:
    """One page of an owner's chats, newest first."""

    chats: list[Chat]
    has_more: bool
    next_offset: int | None


def chat_list_for_owner(
    *, owner: Owner, offset: int = 0, limit: int = 20, query: str = ""
) -> ChatPage:
    """The owner's chats, most recently active first, optionally filtered by title or text."""
    chats = with_members(Chat.objects.owned_by(owner).recent_first().select_related("persona"))
    query = without_nul(query)
    if query:
        matching = Message.objects.filter(content__icontains=query).values("chat_id")
        chats = chats.filter(Q(title__icontains=query) | Q(pk__in=matching))
    rows = list(chats[offset : offset + limit + 1])
    has_more = len(rows) > limit
    return ChatPage(rows[:limit], has_more, offset + limit if has_more else None)


@dataclass(frozen=True)
class MessageWindow:
    """The newest messages of a chat (or those before a position), oldest first."""

    messages: list[Message]
    has_more: bool


def chat_messages_window(
    *, chat: Chat, limit: int, before: int | None = None, max_chars: int | None = None
) -> MessageWindow:
    """At most ``limit`` messages ending before ``before`` (or at the newest), and no more
    than about ``max_chars`` of text, each message counted as its preview (always at least
    one message)."""
    messages = Message.objects.filter(chat=chat)
    if before is not None:
        messages = messages.filter(position__lt=before)
    rows = list(messages.order_by("-position")[: limit + 1])
    kept: list[Message] = []
    chars = 0
    for row in rows[:limit]:
        chars += min(len(row.content), settings.MESSAGE_PREVIEW_CHARS)
        if kept and max_chars is not None and chars > max_chars:
            break
        kept.append(row)
    return MessageWindow(with_attachments(list(reversed(kept))), len(rows) > len(kept))


def chat_latest_window(*, chat: Chat, before: int | None = None) -> MessageWindow:
    """The window the chat page and the ``welcome`` snapshot show: the newest
    SNAPSHOT_MESSAGES messages (or those before a position), at most SNAPSHOT_MAX_CHARS."""
    return chat_messages_window(
        chat=chat,
        limit=settings.SNAPSHOT_MESSAGES,
        before=before,
        max_chars=settings.SNAPSHOT_MAX_CHARS,
    )


def message_in_chat(*, chat: Chat, message_id: int) -> Message | None:
    """One message of this (already owner-checked) chat."""
    found = first_row(Message.objects.filter(chat=chat, pk=message_id))
    return with_attachments([found])[0] if found is not None else None


def chat_streaming_reply(*, chat_id: uuid.UUID) -> Message | None:
    """The reply being written in this chat right now, if any."""
    return Message.objects.filter(chat_id=chat_id, status=Message.Status.STREAMING).first()


def replies_streaming_since(*, before: datetime) -> list[int]:
    """Replies still ``streaming`` that were started before this time (one indexed query:
    the partial index on streaming replies)."""
    streaming = Message.objects.filter(status=Message.Status.STREAMING, created_at__lt=before)
    return list(streaming.values_list("pk", flat=True))


def prompt_history(*, chat: Chat, before_position: int, limit: int = 400) -> list[Message]:
    """Turns that can go into a prompt (see prompt_histories)."""
    return prompt_histories([(chat, before_position)], limit=limit)[0]


def prompt_histories(
    wanted: Sequence[tuple[Chat, int]], *, limit: int = 400
) -> list[list[Message]]:
    """For each (chat, position), the turns before that position that can go into a
    prompt, newest last, at most ``limit``: finished or partial text only. One query
    however many chats: each chat's newest rows through its (chat, position) index
    (written out: the ORM's compiling cost more than running it)."""
    if not wanted:
        return []
    # A chat asked for twice (two positions) may bring a row twice.
    unique = {row.pk: row for row in _history_rows(wanted, limit)}
    rows = sorted(unique.values(), key=lambda row: row.position)
    by_chat: dict[uuid.UUID, list[Message]] = {}
    for row in with_attachments(rows):
        by_chat.setdefault(row.chat_id, []).append(row)
    return [
        [row for row in by_chat.get(chat.pk, []) if row.position < position][-limit:]
        for chat, position in wanted
    ]


_HISTORY_COLUMNS = "id, chat_id, role, content, position, lore, attachment_count, speaker, present"
_HISTORY_USABLE = (Message.Status.COMPLETE, Message.Status.CANCELLED, Message.Status.INTERRUPTED)
_HISTORY_WHERE = """position < {before} AND status IN (%s, %s, %s)
    AND NOT (content = '' AND attachment_count = 0)"""
# SQLite allows 500 terms in a compound SELECT: a burst of turns is read in parts.
_HISTORY_UNION_TERMS = 200


def _history_rows(wanted: Sequence[tuple[Chat, int]], limit: int) -> list[Message]:
    """Each (chat, position)'s newest usable rows before the position. PostgreSQL walks
    the wanted pairs in one lateral join, planned once however many there are (a union
    of one query per chat took 1.6 ms to plan for 20 chats, 41 ms for 200); elsewhere a
    union of one query per chat."""
    table = connection.ops.quote_name(Message._meta.db_table)
    chat_pk = Chat._meta.pk
    chat_ids = [chat_pk.get_db_prep_value(chat.pk, connection) for chat, _ in wanted]
    positions = [position for _, position in wanted]
    if connection.vendor == "postgresql":
        sql = f"""
            SELECT newest.* FROM unnest(%s::uuid[], %s::bigint[]) AS wanted (chat, below)
            CROSS JOIN LATERAL (
                SELECT {_HISTORY_COLUMNS} FROM {table}
                WHERE chat_id = wanted.chat AND {_HISTORY_WHERE.format(before="wanted.below")}
                ORDER BY position DESC LIMIT %s
            ) newest
        """
        return list(Message.objects.raw(sql, [chat_ids, positions, *_HISTORY_USABLE, limit]))
    one_chat = f"""
        SELECT * FROM (
            SELECT {_HISTORY_COLUMNS} FROM {table}
            WHERE chat_id = %s AND {_HISTORY_WHERE.format(before="%s")}
            ORDER BY position DESC LIMIT %s
        ) newest
    """
    rows: list[Message] = []
    pairs = list(zip(chat_ids, positions, strict=True))
    for start in range(0, len(pairs), _HISTORY_UNION_TERMS):
        part = pairs[start : start + _HISTORY_UNION_TERMS]
        params: list[Any] = []
        for chat_id, position in part:
            params += [chat_id, position, *_HISTORY_USABLE, limit]
        rows += Message.objects.raw(" UNION ALL ".join([one_chat] * len(part)), params)
    return rows


def with_attachments(messages: list[Message]) -> list[Message]:
    """The messages with their attachments loaded (one query, and none at all when no
    message has any, as in most chats)."""
    if any(message.attachment_count for message in messages):
        prefetch_related_objects(messages, "attachments")
    return messages


def attachment_for_owner(
    *, owner: Owner, chat_id: str | uuid.UUID, attachment_id: str
) -> Attachment | None:
    """An attachment of one of the owner's chats; None for a bad id or someone else's."""
    try:
        chat_uuid, attachment_uuid = uuid.UUID(str(chat_id)), uuid.UUID(str(attachment_id))
    except ValueError:
        return None
    chats = Chat.objects.owned_by(owner).filter(pk=chat_uuid)
    return first_row(Attachment.objects.filter(pk=attachment_uuid, chat__in=chats))


def chat_last_message(*, chat: Chat, role: str | None = None) -> Message | None:
    """The chat's newest message (of this role, if given)."""
    messages = chat.messages.order_by("-position")
    return (messages.filter(role=role) if role else messages).first()
