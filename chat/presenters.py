"""Plain-data shapes of chats, messages and personas for JSON clients and group events."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse

from chat.models import Attachment, Chat, Message, UserPersona
from chat.selectors import chat_members
from personas.models import Lorebook, Persona
from personas.prompts import persona_greeting_count


def persona_data(persona: Persona) -> dict[str, Any]:
    """A persona as API clients see it (no prompts, no backend secrets)."""
    return {
        "greetings": persona_greeting_count(persona),
        "slug": persona.slug,
        "name": persona.name,
        "epithet": persona.epithet,
        "tagline": persona.tagline,
        "avatar_url": persona.avatar_url,
        "accent_color": persona.accent_color,
    }


def message_data(message: Message, *, full: bool = False) -> dict[str, Any]:
    """A message with its usage and timings where known.

    A long finished message carries its first MESSAGE_PREVIEW_CHARS characters and
    ``truncated: true`` (unless ``full``), so no snapshot, page or event grows with it; the
    whole text comes from ``GET /api/chats/<id>/messages/<message_id>/``.
    """
    content = message.content
    preview = settings.MESSAGE_PREVIEW_CHARS
    truncated = not full and len(content) > preview and message.status != "streaming"
    data: dict[str, Any] = {
        "id": message.pk,
        "role": message.role,
        "content": content[:preview] if truncated else content,
        "status": message.status,
        "position": message.position,
        "created_at": message.created_at.isoformat(),
        # The members who heard it (slugs); a reply also names the one who wrote it.
        "present": message.present,
    }
    if message.role == Message.Role.ASSISTANT:
        data |= {
            "persona": message.speaker or None,
            "backend": message.backend,
            "model": message.model,
            "usage": {
                "prompt_tokens": message.prompt_tokens,
                "completion_tokens": message.completion_tokens,
            },
            "timings": {"ttft_ms": message.ttft_ms, "duration_ms": message.duration_ms},
            # The inspector: lore in this reply's prompt, and what the budget left out.
            "lore": message.lore,
            "lore_dropped": message.lore_dropped,
            # Swipes: how many alternatives the reply has, and which is shown (from 0).
            "swipes": message.swipes,
            "swipe": message.swipe,
        }
        if message.error:
            data["error"] = message.error
    if message.attachment_count:
        data["attachments"] = [attachment_data(a) for a in message.loaded_attachments()]
    if truncated:
        data["truncated"] = True
    return data


def attachment_data(attachment: Attachment) -> dict[str, Any]:
    """An attachment as clients see it: what it is and where its owner fetches it."""
    args = (attachment.chat_id, attachment.pk)
    data: dict[str, Any] = {
        "id": str(attachment.pk),
        "kind": attachment.kind,
        "name": attachment.name,
        "size": attachment.size,
        "url": reverse("api-chat-attachment", args=args),
    }
    if attachment.kind == Attachment.Kind.IMAGE:
        data |= {
            "width": attachment.width,
            "height": attachment.height,
            "thumbnail_url": reverse("api-chat-attachment-thumbnail", args=args),
        }
    return data


def books_data(books: list[Lorebook]) -> list[dict[str, Any]]:
    """Lorebooks as a chat shows them: id and name."""
    return [{"id": book.pk, "name": book.name} for book in books]


def books_context(chosen: list[dict[str, Any]], available: list[dict[str, Any]]) -> dict[str, Any]:
    """What the chat-books partial shows: the books and which are chosen."""
    return {
        "chosen_books": chosen,
        "chosen_ids": {book["id"] for book in chosen},
        "available_books": available,
    }


def chat_data(chat: Chat) -> dict[str, Any]:
    """A chat's header: id, title, persona and timestamps."""
    return {
        "id": str(chat.pk),
        "title": chat.title,
        "greeting_index": chat.greeting_index,
        "read_through": chat.read_through,
        "user_persona": chat.user_persona_id,
        "authors_note": chat.authors_note,
        "authors_note_depth": chat.authors_note_depth,
        "auto_read": chat.auto_read,
        "persona": persona_data(chat.persona),
        # A scene's members in order (a chat with one persona has that one), and who
        # answers a message: natural, list or manual.
        "members": members_data(chat),
        "activation": chat.activation,
        "created_at": chat.created_at.isoformat(),
        "updated_at": chat.updated_at.isoformat(),
    }


def members_data(chat: Chat) -> list[dict[str, Any]]:
    """A chat's members in order: each persona's public fields and whether it is muted."""
    return [{**persona_data(m.persona), "muted": m.muted} for m in chat_members(chat)]


def user_persona_data(played: UserPersona) -> dict[str, Any]:
    """A user persona as its owner sees it."""
    return {
        "id": played.pk,
        "name": played.name,
        "description": played.description,
        "is_default": played.is_default,
        "avatar_url": user_persona_avatar_url(played),
    }


def user_persona_avatar_url(played: UserPersona) -> str:
    """Where the owner's browser fetches the avatar ("" without one); only the owner may."""
    if not played.avatar:
        return ""
    return reverse("api-user-persona-avatar", args=[played.pk]) + f"?v={played.updated_at:%s}"
