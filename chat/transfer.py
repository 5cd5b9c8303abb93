"""Chats out and back in: JSON Lines records (lossless) and Markdown transcripts (to read).

One record per chat: its id, persona slug, title, owner, times and every message with its
generation bookkeeping. Importing a record recreates the chat with the same id, so an
export loaded into a fresh database round-trips; a chat whose id exists is skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet

from chat.models import (
    AUTHORS_NOTE_DEPTH,
    MAX_AUTHORS_NOTE_CHARS,
    MAX_AUTHORS_NOTE_DEPTH,
    Activation,
    Chat,
    ChatMember,
    Message,
)
from personas.models import Persona
from stormchat.text import without_nul

MESSAGE_FIELDS = (
    "role", "content", "status", "position", "backend", "model", "prompt_tokens",
    "completion_tokens", "ttft_ms", "duration_ms", "error",
)  # fmt: skip


class ImportRefused(ValueError):
    """A record that can't be imported, with the reason."""


def chats_for_export(
    *, username: str | None = None, chat_ids: Iterable[str] = ()
) -> QuerySet[Chat]:
    """The chats to export, oldest first: one user's, some by id, or all."""
    chats = Chat.objects.select_related("persona", "user").order_by("created_at")
    if username:
        chats = chats.filter(user__username=username)
    ids = list(chat_ids)
    if ids:
        chats = chats.filter(pk__in=ids)
    return chats


def chat_record(chat: Chat) -> dict[str, Any]:
    """The chat as one JSON-ready record."""
    owner = {"user": chat.user.get_username()} if chat.user else {"session": chat.session_key}
    return {
        "id": str(chat.pk),
        "persona": chat.persona.slug,
        "title": chat.title,
        "owner": owner,
        "created_at": chat.created_at.isoformat(),
        "updated_at": chat.updated_at.isoformat(),
        "authors_note": chat.authors_note,
        "authors_note_depth": chat.authors_note_depth,
        # A group scene's members in order, and who answers (a chat with one has it alone).
        "members": [
            {"persona": m.persona.slug, "muted": m.muted}
            for m in chat.members.select_related("persona")
        ],
        "activation": chat.activation,
        "messages": [_message_record(m) for m in chat.messages.order_by("position")],
    }


def _message_record(message: Message) -> dict[str, Any]:
    record = {f: getattr(message, f) for f in MESSAGE_FIELDS}
    record |= {"persona": message.speaker or None, "present": message.present}
    if message.swipes > 1:  # swipes: every alternative, and which is shown
        record |= {"alternatives": message.alternative_texts(), "swipe": message.swipe}
    return {**record, "created_at": message.created_at.isoformat()}


def chat_markdown(chat: Chat) -> str:
    """A readable transcript of the chat."""
    persona = chat.cast_names
    names = {face.slug: face.name for face in chat.faces}
    person = chat.user.get_username() if chat.user else "You"
    lines = [
        f"# {chat.title or f'Chat with {persona}'}",
        "",
        f"*{persona} · {chat.created_at:%Y-%m-%d %H:%M} UTC · {chat.pk}*",
        "",
    ]
    for message in chat.messages.order_by("position"):
        speaker = person
        if message.role == Message.Role.ASSISTANT:
            speaker = names.get(message.speaker, message.speaker or chat.persona.name)
        status = "" if message.status == Message.Status.COMPLETE else f" *({message.status})*"
        lines += [f"**{speaker}:**{status}", "", message.content.strip(), ""]
    return "\n".join(lines)


def chat_import_record(record: Any, *, user: AbstractBaseUser | None = None) -> Chat | None:
    """Recreate a chat from its record; None if a chat with its id already exists.

    The owner is ``user`` if given, else the record's user (who must exist), else its
    anonymous session. ImportRefused says what is wrong with a bad record.
    """
    if not isinstance(record, dict):
        raise ImportRefused("a record must be a JSON object")
    record = without_nul(record)
    try:
        chat_id = uuid.UUID(str(record["id"]))
        messages = list(record["messages"])
        persona_slug = str(record["persona"])
    except (KeyError, ValueError, TypeError) as error:
        raise ImportRefused(f"missing or malformed field ({error})") from None
    if Chat.objects.filter(pk=chat_id).exists():
        return None
    persona = Persona.objects.filter(slug=persona_slug).first()
    if persona is None:
        raise ImportRefused(f"no persona '{persona_slug}' here (import its card first)")
    owner = _owner(record.get("owner"), user)
    members = _members(record.get("members"), persona)
    activation = record.get("activation") or Activation.NATURAL
    if activation not in Activation.values:
        raise ImportRefused(f"unknown activation {str(activation)[:40]!r}")
    with transaction.atomic():
        chat = Chat.objects.create(
            pk=chat_id,
            persona=members[0][0],
            activation=activation,
            title=str(record.get("title", ""))[:200],
            authors_note=str(record.get("authors_note") or "")[:MAX_AUTHORS_NOTE_CHARS],
            authors_note_depth=_depth(record.get("authors_note_depth")),
            **owner,
        )
        ChatMember.objects.bulk_create(
            ChatMember(chat=chat, persona=member, order=order, muted=muted)
            for order, (member, muted) in enumerate(members)
        )
        rows = [_message(chat, m) for m in messages]
        Message.objects.bulk_create(rows)
        # created_at is set on insert; put the recorded times back.
        for row, data in zip(rows, messages, strict=True):
            row.created_at = _when(data.get("created_at")) or row.created_at
        Message.objects.bulk_update(rows, ["created_at"])
        Chat.objects.filter(pk=chat.pk).update(
            created_at=_when(record.get("created_at")) or chat.created_at,
            updated_at=_when(record.get("updated_at")) or chat.updated_at,
        )
    return Chat.objects.get(pk=chat.pk)


def _owner(owner: Any, user: AbstractBaseUser | None) -> dict[str, Any]:
    if user is not None:
        return {"user": user, "session_key": ""}
    owner = owner if isinstance(owner, dict) else {}
    if owner.get("user"):
        found = get_user_model().objects.filter(username=owner["user"]).first()
        if found is None:
            raise ImportRefused(f"no user '{owner['user']}' here (use --user)")
        return {"user": found, "session_key": ""}
    if owner.get("session"):
        return {"user": None, "session_key": str(owner["session"])[:40]}
    raise ImportRefused("the record has no owner (use --user)")


def _members(value: Any, persona: Persona) -> list[tuple[Persona, bool]]:
    """The record's members (personas known here, each once), else its persona alone."""
    if value is None:
        return [(persona, False)]
    if not isinstance(value, list) or not value or len(value) > settings.SCENE_MAX_MEMBERS:
        raise ImportRefused("members must be a list of one to SCENE_MAX_MEMBERS personas")
    members = []
    for item in value:
        slug = item.get("persona") if isinstance(item, dict) else None
        found = Persona.objects.filter(slug=str(slug)).first() if slug else None
        if found is None:
            raise ImportRefused(f"no persona '{str(slug)[:60]}' here (import its card first)")
        members.append((found, bool(item.get("muted"))))
    if len({p.pk for p, _ in members}) != len(members):
        raise ImportRefused("a persona can be a member once")
    return members


def _message(chat: Chat, data: Any) -> Message:
    if not isinstance(data, dict) or data.get("role") not in Message.Role.values:
        raise ImportRefused("a message needs a role of system, user or assistant")
    fields = {f: data[f] for f in MESSAGE_FIELDS if data.get(f) is not None}
    if fields.get("status") == Message.Status.STREAMING:
        fields["status"] = Message.Status.INTERRUPTED  # nothing is writing it any more
    if fields.get("status") not in (None, *Message.Status.values):
        raise ImportRefused(f"unknown message status {fields['status']!r}")
    message = Message(chat=chat, **fields)
    speaker, present = data.get("persona") or "", data.get("present") or []
    if not isinstance(speaker, str) or not (
        isinstance(present, list) and all(isinstance(slug, str) for slug in present)
    ):
        raise ImportRefused("a message's persona must be a slug, and present a list of them")
    message.speaker, message.present = speaker[:60], [slug[:60] for slug in present[:50]]
    alternatives = data.get("alternatives")
    if alternatives is not None:
        swipe = data.get("swipe", 0)
        if not (
            isinstance(alternatives, list)
            and all(isinstance(text, str) for text in alternatives)
            and isinstance(swipe, int)
            and 0 <= swipe < len(alternatives) <= 1000
        ):
            raise ImportRefused("a message's alternatives must be texts, and swipe one of them")
        message.alternatives, message.swipe = alternatives, swipe
        message.content = alternatives[swipe]
    return message


def _depth(value: Any) -> int:
    if isinstance(value, int) and 0 <= value <= MAX_AUTHORS_NOTE_DEPTH:
        return value
    return AUTHORS_NOTE_DEPTH


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
