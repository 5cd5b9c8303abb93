"""Writes for chats: create, rename, delete, clear, claim, and the opening greeting."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum, auto

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chat import scenes, selectors
from chat.errors import (
    BadRequest,
    GreetingLocked,
    NotFound,
    TooManyChats,
)
from chat.models import (
    MAX_AUTHORS_NOTE_CHARS,
    MAX_AUTHORS_NOTE_DEPTH,
    Activation,
    Chat,
    ChatMember,
    Message,
    Reader,
    UserPersona,
)
from chat.ownership import Owner
from chat.services.attachments import attachments_copy
from chat.services.common import lock_idle_chat
from personas.lore import series
from personas.models import Lorebook, Persona
from personas.prompts import persona_greeting, persona_greetings
from stormchat.text import without_nul

Status = Message.Status
Role = Message.Role


def _book(read_through: str) -> str:
    """A book's slug as given; BadRequest naming the choices otherwise."""
    if not series.is_book(read_through):
        choices = ", ".join(book.slug for book in series.BOOKS)
        raise BadRequest(f"read_through must be one of: {choices}.")
    return read_through


def chat_create(
    *,
    owner: Owner,
    persona: Persona | None = None,
    personas: Sequence[Persona] = (),
    title: str = "",
    greeting: int = 0,
    read_through: str = "",
) -> Chat:
    """A new chat for this owner with one persona, or a scene with several (``personas``,
    in order), opening with the first one's greeting (or an alternate one, by index; a
    scene's from its group-only greetings when it has some), read through
    ``read_through`` (else the owner's setting)."""
    cast = scene_cast(list(personas) or ([persona] if persona is not None else []))
    persona, group = cast[0], len(cast) > 1
    if read_through:
        _book(read_through)
    if not owner.is_known:
        raise ValueError("A chat needs an owner.")
    if owner.user_id is None:
        kept = Chat.objects.filter(session_key=owner.session_key, user=None).count()
        if kept >= settings.ANON_MAX_CHATS:
            raise TooManyChats(
                f"Without an account you can keep {settings.ANON_MAX_CHATS} chats. "
                "Delete one, or sign up to keep as many as you like."
            )
    total = len(persona_greetings(persona, group=group)) or 1
    with transaction.atomic():
        chat = Chat.objects.create(
            user_id=owner.user_id,
            session_key="" if owner.user_id else (owner.session_key or ""),
            persona=persona,
            title=title,
            greeting_index=greeting % total,
            read_through=read_through or selectors.reader_read_through(owner),
            user_persona=selectors.user_persona_default(owner),
        )
        if read_through:
            reader_remember(owner=owner, read_through=read_through)
        ChatMember.objects.bulk_create(
            ChatMember(chat=chat, persona=member, order=order) for order, member in enumerate(cast)
        )
        Message.objects.create(
            chat=chat,
            role=Role.ASSISTANT,
            content=persona_greeting(
                persona,
                user=selectors.chat_user(chat).name,
                index=chat.greeting_index,
                group=group,
            ),
            position=1,
            speaker=persona.slug,
            present=[member.slug for member in cast],
        )
    return chat


def scene_cast(personas: Sequence[Persona]) -> list[Persona]:
    """The personas of a chat, checked: one or more, none twice, at most
    SCENE_MAX_MEMBERS."""
    if not personas:
        raise BadRequest("A chat needs at least one persona.")
    if len({persona.pk for persona in personas}) != len(personas):
        raise BadRequest("Each persona can be in a scene once.")
    if len(personas) > settings.SCENE_MAX_MEMBERS:
        raise BadRequest(f"A scene has at most {settings.SCENE_MAX_MEMBERS} personas.")
    return list(personas)


def chat_fork(*, chat: Chat, message_id: int) -> Chat:
    """A new chat with the same persona and settings, and copies of the messages up to and
    including ``message_id`` (their alternatives too), titled "<title> (fork)"."""
    source = chat.messages.filter(pk=message_id).first()
    if source is None:
        raise NotFound("That message is not in this chat.")
    title = f"{chat.title or chat.persona.name} (fork)"[:200]
    with transaction.atomic():
        fork = Chat.objects.create(
            user_id=chat.user_id,
            session_key=chat.session_key,
            persona_id=chat.persona_id,
            title=title,
            greeting_index=chat.greeting_index,
            read_through=chat.read_through,
            user_persona_id=chat.user_persona_id,
            authors_note=chat.authors_note,
            authors_note_depth=chat.authors_note_depth,
            activation=chat.activation,
        )
        fork.lorebooks.set(chat.lorebooks.all())
        ChatMember.objects.bulk_create(
            ChatMember(chat=fork, persona_id=m.persona_id, order=m.order, muted=m.muted)
            for m in chat.members.all()
        )
        copied = chat.messages.filter(position__lte=source.position).exclude(
            status=Status.STREAMING
        )
        originals = list(copied.order_by("position"))
        copies = Message.objects.bulk_create(
            Message(
                chat=fork,
                **{
                    field.attname: getattr(message, field.attname)
                    for field in Message._meta.concrete_fields
                    if field.attname not in ("id", "chat_id", "created_at")
                },
            )
            for message in originals
        )
        attachments_copy(
            {
                original.pk: copy
                for original, copy in zip(originals, copies, strict=True)
                if original.attachment_count
            }
        )
    return fork


class Keep(Enum):
    """A setting left as it is (where None means something: no user persona)."""

    KEEP = auto()


KEEP = Keep.KEEP


def chat_set_scene(
    *,
    chat: Chat,
    personas: Sequence[Persona] | None = None,
    muted: Sequence[str] | None = None,
    activation: str | None = None,
) -> Chat:
    """Change who is in the chat (in order: the first one is ``chat.persona``), who of
    them is muted (slugs; the others are not) and who answers (``activation``); None
    keeps each. A member removed and added back joins afresh, so they never hear what was
    said while they were away."""
    if activation is not None and activation not in Activation.values:
        raise BadRequest(f"activation must be one of: {', '.join(Activation.values)}.")
    with transaction.atomic():
        locked = Chat.objects.select_for_update().get(pk=chat.pk)
        if personas is not None:
            cast = scene_cast(personas)
            rows = {row.persona_id: row for row in locked.members.all()}
            locked.members.exclude(persona__in=cast).delete()
            for order, persona in enumerate(cast):
                row = rows.get(persona.pk)
                if row is None:
                    ChatMember.objects.create(chat=locked, persona=persona, order=order)
                elif row.order != order:
                    row.order = order
                    row.save(update_fields=["order"])
            locked.persona = cast[0]
        if muted is not None:
            slugs = set(locked.members.values_list("persona__slug", flat=True))
            if strangers := set(muted) - slugs:
                raise BadRequest(f"Not in this scene: {', '.join(sorted(strangers))}.")
            locked.members.update(muted=False)
            locked.members.filter(persona__slug__in=set(muted)).update(muted=True)
        if activation is not None:
            locked.activation = activation
        locked.save(update_fields=["persona", "activation", "updated_at"])
    return locked


def chat_set_settings(
    *,
    chat: Chat,
    authors_note: str | None = None,
    authors_note_depth: int | None = None,
    user_persona_id: int | Keep | None = KEEP,
    auto_read: bool | None = None,
) -> Chat:
    """Change the author's note (the text the model reads on every turn, ``depth``
    messages from the end) and who the owner plays (None: nobody in particular), checked
    together and saved in one write, and whether new replies are read aloud
    (``auto_read``). None (or KEEP for the user persona) keeps a setting;
    someone else's user persona is NotFound."""
    changed = ["updated_at"]
    if authors_note is not None:
        authors_note = without_nul(authors_note).strip()
        if len(authors_note) > MAX_AUTHORS_NOTE_CHARS:
            raise BadRequest(f"An author's note is at most {MAX_AUTHORS_NOTE_CHARS:,} characters.")
    if authors_note_depth is not None and not 0 <= authors_note_depth <= MAX_AUTHORS_NOTE_DEPTH:
        raise BadRequest(f"authors_note_depth must be from 0 to {MAX_AUTHORS_NOTE_DEPTH}.")
    if user_persona_id is not KEEP:
        chosen = None
        if user_persona_id is not None:
            chosen = selectors.user_persona_for_owner(
                owner=chat.owner, user_persona_id=user_persona_id
            )
            if chosen is None:
                raise NotFound("No such user persona.")
        chat.user_persona = chosen
        changed.append("user_persona")
    if authors_note is not None:
        chat.authors_note = authors_note
        changed.append("authors_note")
    if authors_note_depth is not None:
        chat.authors_note_depth = authors_note_depth
        changed.append("authors_note_depth")
    if auto_read is not None:
        chat.auto_read = auto_read
        changed.append("auto_read")
    chat.save(update_fields=changed)
    return chat


def chat_choose_greeting(*, chat: Chat, index: int) -> list[Message]:
    """Open the chat with another of the persona's greetings (a swipe; the index wraps
    around), as long as nobody has written anything yet. Returns the chat's messages."""
    number = index
    with transaction.atomic():
        locked = lock_idle_chat(chat.pk)
        messages = list(locked.messages.order_by("position"))
        if len(messages) != 1:
            raise GreetingLocked("The greeting can only be changed before the chat begins.")
        group = locked.members.count() > 1
        total = len(persona_greetings(locked.persona, group=group)) or 1
        chat.greeting_index = locked.greeting_index = number % total
        greeting = messages[0]
        greeting.content = persona_greeting(
            locked.persona,
            user=selectors.chat_user(locked).name,
            index=locked.greeting_index,
            group=group,
        )
        greeting.save(update_fields=["content"])
        locked.save(update_fields=["greeting_index", "updated_at"])
    return messages


def chats_claim(*, session_key: str | None, user_id: int) -> int:
    """Move an anonymous session's chats to the account that just logged in."""
    if not session_key:
        return 0
    UserPersona.objects.filter(session_key=session_key, user=None).update(
        user_id=user_id, session_key="", is_default=False
    )
    return Chat.objects.filter(session_key=session_key, user=None).update(
        user_id=user_id, session_key=""
    )


def chat_rename(*, chat: Chat, title: str) -> Chat:
    """Give the chat a new title (trimmed to 200 characters)."""
    chat.title = " ".join(without_nul(title).split())[:200]
    chat.save(update_fields=["title", "updated_at"])
    return chat


def chat_set_read_through(*, chat: Chat, read_through: str) -> Chat:
    """Set how far the chat's reader has read (a book's slug, else BadRequest)."""
    chat.read_through = _book(read_through)
    chat.save(update_fields=["read_through", "updated_at"])
    return chat


@dataclass(frozen=True)
class ChatBooks:
    """A chat's own lorebooks, and every book it could add, by name."""

    chosen: list[Lorebook]
    available: list[Lorebook]


def chat_set_lorebooks(*, chat: Chat, book_ids: list[int]) -> ChatBooks:
    """The books this chat adds on top of its persona's (BadRequest for one it can't
    have: unknown, inactive or global)."""
    available = selectors.lorebooks_available()
    by_id = {book.pk: book for book in available}
    unknown = sorted(set(book_ids) - by_id.keys())
    if unknown:
        raise BadRequest(f"No lorebook a chat can add has the id {unknown[0]}.")
    chosen = sorted({by_id[pk] for pk in book_ids}, key=available.index)
    chat.lorebooks.set(chosen)
    chat.save(update_fields=["updated_at"])
    return ChatBooks(chosen, available)


def reader_remember(*, owner: Owner, read_through: str) -> None:
    """Keep the owner's choice (a book's slug, else BadRequest) as the default for their
    new chats."""
    defaults = {"read_through": _book(read_through)}
    if owner.user_id:
        Reader.objects.update_or_create(user_id=owner.user_id, defaults=defaults)
    elif owner.session_key:
        Reader.objects.update_or_create(user=None, session_key=owner.session_key, defaults=defaults)


def chat_set_title_if_untitled(*, chat_id: uuid.UUID, title: str) -> bool:
    """Give a chat its automatic title, unless it has one (a rename always wins)."""
    title = " ".join(without_nul(title).split())[:200]
    return bool(title) and bool(Chat.objects.filter(pk=chat_id, title="").update(title=title))


def chat_delete(*, chat: Chat) -> None:
    """Delete the chat and all its messages."""
    chat.delete()


@transaction.atomic
def chat_clear(*, chat_id: uuid.UUID) -> list[Message]:
    """Empty the chat and start again from the persona's greeting."""
    chat = lock_idle_chat(chat_id)
    chat.messages.all().delete()
    cast = selectors.chat_members(chat)
    greeting = Message.objects.create(
        chat=chat,
        role=Role.ASSISTANT,
        content=persona_greeting(
            chat.persona,
            user=selectors.chat_user(chat).name,
            index=chat.greeting_index,
            group=len(cast) > 1,
        ),
        position=1,
        speaker=chat.persona.slug,
        present=scenes.present(cast),
    )
    Chat.objects.filter(pk=chat.pk).update(updated_at=timezone.now())
    return [greeting]
