"""Everything a person or operator can do to a chat, one function each.

An action checks the caller owns the chat (someone else's chat is ``NotFound``, exactly
like a missing one), writes through the services, and publishes its events once the
transaction commits. The page, the JSON API, the WebSocket consumer, ``manage.py chat``
and the admin all call these, so every open tab sees the same result whichever way a
change was made. Transports parse their input into typed values first (chat/inputs.py).

Turn actions (send, regenerate, edit) are async: they save the turn in one trip to the
database, then start its run, which publishes all of the turn's events, ``ack`` included.
docs/protocol.md lists each action's events.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from asgiref.sync import async_to_sync, sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chat import drafts, events, scenes, services
from chat.attachments import PreparedFile, prepare_upload
from chat.attempts import count_attempt, count_use
from chat.backends.base import Backend, GenerationOptions
from chat.backends.registry import backend_for_persona, sees_images
from chat.batching import DatabaseBatch
from chat.errors import (
    BadRequest,
    ChatBusy,
    NotAMember,
    NotFound,
    NothingToSay,
    NotStreaming,
    SessionEnded,
    TooManyChats,
    UnknownPersona,
    VisionUnsupported,
)
from chat.jobs import ReplyJob
from chat.live import live_delete, live_texts
from chat.models import Activation, Attachment, Chat, Message, UserPersona
from chat.ownership import Owner
from chat.presenters import books_data, message_data
from chat.prompting import CONTINUE_INSTRUCTION, AuthorsNote, LoreSources, SceneView
from chat.runs import start_reply
from chat.scenes import Member
from chat.selectors import (
    cast_of,
    chat_get_for_owner,
    chat_streaming_reply,
    chat_user,
    chats_for_turns,
    chats_lorebooks,
    members_of_chats,
    message_in_chat,
    prompt_histories,
)
from chat.services.chats import KEEP, Keep
from chat.sessions import SessionCheck, sessions_are_current
from chat.speech.engines import Audio as SpeechAudio
from chat.speech.engines import VoiceSpec, speech_engine
from chat.speech.store import spoken
from chat.speech.text import speakable
from chat.speech.transcription import transcribe
from personas.lore.compiled import compiled_books
from personas.models import Persona
from stormchat.limits import attempt, limit_for

# Message text is logged only at DEBUG level: operators switch it on, never by default.
logger = logging.getLogger(__name__)

TurnKind = Literal["chat", "regenerate", "edit", "continue", "speak"]


def _owned(owner: Owner, chat_id: uuid.UUID | str) -> Chat:
    chat = chat_get_for_owner(chat_id=chat_id, owner=owner)
    if chat is None:
        raise NotFound("No such chat.")
    return chat


# --- chats -----------------------------------------------------------------------------


def chat_create(
    *,
    owner: Owner,
    persona: Persona | None = None,
    personas: Sequence[Persona] = (),
    greeting: int = 0,
    read_through: str = "",
    address: str | None = None,
) -> Chat:
    """Start a chat with the persona (or a scene with several ``personas``, in order) on
    the first one's greeting (or an alternate, by index), read through ``read_through``
    (else the owner's setting). An anonymous owner's new chats also count against their
    ``address``. Publishes ``listed``."""
    if owner.user_id is None and address is not None:
        decision = attempt(limit_for("anon_chats"), address)
        if not decision.allowed:
            raise TooManyChats(
                "Too many new chats from your address. Sign up, or try again in "
                f"{decision.retry_after} s."
            )
    with transaction.atomic():
        chat = services.chat_create(
            owner=owner,
            persona=persona,
            personas=personas,
            greeting=greeting,
            read_through=read_through,
        )
        events.publish_on_commit(events.owner_group(chat.owner), events.listed_event(chat))
    return chat


def chat_rename(*, owner: Owner, chat_id: uuid.UUID | str, title: str) -> Chat:
    """Give the chat a title. Publishes ``title`` and ``listed``."""
    with transaction.atomic():
        chat = services.chat_rename(chat=_owned(owner, chat_id), title=title)
        events.publish_on_commit(
            events.chat_group(chat.pk), events.title_event(chat_id=chat.pk, title=chat.title)
        )
        events.publish_on_commit(events.owner_group(chat.owner), events.listed_event(chat))
    return chat


def chat_set_read_through(*, owner: Owner, chat_id: uuid.UUID | str, read_through: str) -> Chat:
    """Set how far the chat's reader has read; it becomes the owner's default for new
    chats too. Publishes ``reading`` and ``listed``."""
    with transaction.atomic():
        chat = services.chat_set_read_through(
            chat=_owned(owner, chat_id), read_through=read_through
        )
        services.reader_remember(owner=owner, read_through=chat.read_through)
        events.publish_on_commit(
            events.chat_group(chat.pk),
            events.reading_event(chat_id=chat.pk, read_through=chat.read_through),
        )
        events.publish_on_commit(events.owner_group(chat.owner), events.listed_event(chat))
    return chat


def chat_set_lorebooks(
    *, owner: Owner, chat_id: uuid.UUID | str, book_ids: list[int]
) -> services.ChatBooks:
    """Choose the books the chat reads on top of its persona's. Publishes ``lorebooks``."""
    with transaction.atomic():
        chat = _owned(owner, chat_id)
        books = services.chat_set_lorebooks(chat=chat, book_ids=book_ids)
        event = events.lorebooks_event(
            chat_id=chat.pk,
            chosen=books_data(books.chosen),
            available=books_data(books.available),
        )
        events.publish_on_commit(events.chat_group(chat.pk), event)
    return books


def chat_set_settings(
    *,
    owner: Owner,
    chat_id: uuid.UUID | str,
    authors_note: str | None = None,
    authors_note_depth: int | None = None,
    user_persona_id: int | Keep | None = KEEP,
    auto_read: bool | None = None,
) -> Chat:
    """Set the author's note (read on every turn, ``authors_note_depth`` messages from the
    end), who the owner plays (None: their own name) and whether new replies are read
    aloud (``auto_read``); None, or KEEP for the user persona, keeps a setting. Publishes
    one ``settings``."""
    with transaction.atomic():
        chat = services.chat_set_settings(
            chat=_owned(owner, chat_id),
            authors_note=authors_note,
            authors_note_depth=authors_note_depth,
            user_persona_id=user_persona_id,
            auto_read=auto_read,
        )
        events.publish_on_commit(events.chat_group(chat.pk), events.chat_settings_event(chat))
    return chat


def chat_set_scene(
    *,
    owner: Owner,
    chat_id: uuid.UUID | str,
    personas: Sequence[str] | None = None,
    muted: Sequence[str] | None = None,
    activation: str | None = None,
) -> Chat:
    """Change the scene: its members (slugs, in order), who of them is muted, and who
    answers (``natural``, ``list`` or ``manual``); None keeps each. Publishes ``settings``
    and ``listed``."""
    with transaction.atomic():
        cast = personas_for_scene(personas) if personas is not None else None
        chat = services.chat_set_scene(
            chat=_owned(owner, chat_id), personas=cast, muted=muted, activation=activation
        )
        events.publish_on_commit(events.chat_group(chat.pk), events.chat_settings_event(chat))
        events.publish_on_commit(events.owner_group(chat.owner), events.listed_event(chat))
    return chat


def personas_for_scene(slugs: Sequence[str]) -> list[Persona]:
    """The active personas with these slugs, in order; UnknownPersona names any other."""
    found = {p.slug: p for p in Persona.objects.active().filter(slug__in=set(slugs))}
    if unknown := [slug for slug in slugs if slug not in found]:
        raise UnknownPersona(f"No such persona: {', '.join(s[:60] for s in unknown[:5])}.")
    return [found[slug] for slug in slugs]


def chat_fork(*, owner: Owner, chat_id: uuid.UUID | str, message_id: int) -> Chat:
    """A new chat from this one's messages up to and including ``message_id``, with the
    same persona and settings. Publishes ``listed`` (the new chat)."""
    with transaction.atomic():
        fork = services.chat_fork(chat=_owned(owner, chat_id), message_id=message_id)
        events.publish_on_commit(events.owner_group(fork.owner), events.listed_event(fork))
    return fork


# --- messages ----------------------------------------------------------------------------


def message_swipe(
    *, owner: Owner, chat_id: uuid.UUID | str, message_id: int, index: int
) -> Message:
    """Show another alternative of a reply. Publishes ``swiped``."""
    with transaction.atomic():
        chat = _owned(owner, chat_id)
        message = services.message_swipe(chat_id=chat.pk, message_id=message_id, index=index)
        events.publish_on_commit(events.chat_group(chat.pk), events.swiped_event(message))
    return message


def message_delete(*, owner: Owner, chat_id: uuid.UUID | str, message_id: int) -> list[int]:
    """Delete one message. Publishes ``removed`` and ``listed``."""
    with transaction.atomic():
        chat = _owned(owner, chat_id)
        ids = services.message_delete(chat_id=chat.pk, message_id=message_id)
        chat.updated_at = timezone.now()
        events.publish_on_commit(events.chat_group(chat.pk), events.removed_event(ids))
        events.publish_on_commit(events.owner_group(chat.owner), events.listed_event(chat))
    return ids


async def message_edit(
    *,
    owner: Owner,
    chat_id: uuid.UUID | str,
    message_id: int,
    content: str,
    address: str | None = None,
) -> Message | ReplyJob:
    """Edit a message: a reply's text changes in place (publishes ``edited``; nothing is
    written again); the owner's own message is answered again (``turn_edit``)."""

    def edit_reply() -> Message | None:
        with transaction.atomic():
            chat = _owned(owner, chat_id)
            if not chat.messages.filter(pk=message_id, role=Message.Role.ASSISTANT).exists():
                return None
            message = services.message_edit_reply(
                chat_id=chat.pk, message_id=message_id, content=content
            )
            events.publish_on_commit(events.chat_group(chat.pk), events.edited_event(message))
        return message

    edited = await database_sync_to_async(edit_reply)()
    if edited is not None:
        return edited
    return await turn_edit(
        owner=owner, chat_id=chat_id, message_id=message_id, content=content, address=address
    )


# --- user personas -------------------------------------------------------------------------


def user_persona_create(
    *,
    owner: Owner,
    name: str,
    description: str = "",
    is_default: bool = False,
    avatar: bytes | None = None,
) -> UserPersona:
    """A new user persona for the owner. Publishes nothing: no chat changes."""
    return services.user_persona_create(
        owner=owner, name=name, description=description, is_default=is_default, avatar=avatar
    )


def user_persona_update(
    *,
    owner: Owner,
    played: UserPersona,
    name: str | None = None,
    description: str | None = None,
    is_default: bool | None = None,
    avatar: bytes | None = None,
) -> UserPersona:
    """Change one of the owner's user personas; chats that use it read it on their next
    turn. Publishes nothing."""
    if played.owner != owner:
        raise NotFound("No such user persona.")
    return services.user_persona_update(
        played=played, name=name, description=description, is_default=is_default, avatar=avatar
    )


def user_persona_delete(*, owner: Owner, played: UserPersona) -> None:
    """Delete one of the owner's user personas; its chats go back to the owner's own name.
    Publishes ``settings`` to each of those chats."""
    if played.owner != owner:
        raise NotFound("No such user persona.")
    with transaction.atomic():
        chats = list(played.chats.select_related("persona"))
        services.user_persona_delete(played=played)
        for chat in chats:
            chat.user_persona = None
            events.publish_on_commit(events.chat_group(chat.pk), events.chat_settings_event(chat))


def reader_set_read_through(*, owner: Owner, read_through: str) -> str:
    """Set how far the owner has read: the default for their new chats, and the epithets
    the gallery shows them. Touches no existing chat, so publishes nothing."""
    services.reader_remember(owner=owner, read_through=read_through)
    return read_through


def chat_delete(*, owner: Owner, chat_id: uuid.UUID | str) -> None:
    """Delete the chat and its messages. Publishes ``deleted`` (its sockets then close
    with 4404) and ``unlisted``."""
    with transaction.atomic():
        chat = _owned(owner, chat_id)
        pk, chat_owner = chat.pk, chat.owner
        services.chat_delete(chat=chat)
        events.publish_on_commit(events.chat_group(pk), events.deleted_event(pk))
        events.publish_on_commit(events.owner_group(chat_owner), events.unlisted_event(pk))


def chat_clear(*, owner: Owner, chat_id: uuid.UUID | str) -> list[Message]:
    """Empty the chat back to its greeting. Publishes ``cleared`` and ``listed``."""
    with transaction.atomic():
        chat = _owned(owner, chat_id)
        messages = services.chat_clear(chat_id=chat.pk)
        chat.updated_at = timezone.now()
        events.publish_on_commit(events.chat_group(chat.pk), events.cleared_event(messages))
        events.publish_on_commit(events.owner_group(chat.owner), events.listed_event(chat))
    return messages


def chat_choose_greeting(*, owner: Owner, chat_id: uuid.UUID | str, index: int) -> list[Message]:
    """Open the chat with another of the persona's greetings, before anyone has written.
    Publishes ``cleared``."""
    with transaction.atomic():
        chat = _owned(owner, chat_id)
        messages = services.chat_choose_greeting(chat=chat, index=index)
        events.publish_on_commit(events.chat_group(chat.pk), events.cleared_event(messages))
    return messages


# --- turns -----------------------------------------------------------------------------


async def turn_send(
    *,
    owner: Owner,
    chat_id: uuid.UUID | str,
    content: str,
    attachments: Sequence[uuid.UUID] = (),
    backend_name: str | None = None,
    rate_limited: bool = True,
    address: str | None = None,
    session: SessionCheck | None = None,
    persona: str | None = None,
) -> ReplyJob | Posted:
    """Send a message, with the chat's unsent ``attachments`` (uploaded first); the
    persona answers (in a scene: ``persona``, a member's slug, when given; else whoever
    the chat's activation picks, and nobody in a manual scene). The run publishes
    ``ack``, ``listed``, ``queued`` (embedded model, when it must wait; a scene's next
    speakers), ``stream``..., then ``complete``. Pictures to a backend that can't
    see them are refused (``vision_unsupported``) before anything is saved. A socket's
    ``session`` is checked in the same trip as the turn (as for every turn action):
    ``SessionEnded`` when it has ended."""
    return await _turn(
        kind="chat",
        owner=owner,
        chat_id=chat_id,
        backend_name=backend_name,
        rate_limited=rate_limited,
        address=address,
        session=session,
        content=content,
        attachments=tuple(attachments),
        persona=persona,
    )


# --- attachments -------------------------------------------------------------------------


# Pictures are decoded on threads of their own, at most two at once per process, so
# uploads neither hold the database thread nor pile up memory (each is capped in size).
_picture_work = threading.BoundedSemaphore(2)


def _prepared(name: str, data: bytes) -> PreparedFile:
    with _picture_work:
        return prepare_upload(name, data)


async def attachment_upload(
    *, owner: Owner, chat_id: uuid.UUID | str, name: str, data: bytes
) -> Attachment:
    """Check, convert and store a file for the chat's next message. Counts against the
    owner's upload limit; the picture work happens off the event loop and the database
    thread."""

    def allowed() -> Chat:
        count_use("uploads", owner, None, "uploads")
        return _owned(owner, chat_id)

    chat = await database_sync_to_async(allowed)()
    prepared = await sync_to_async(_prepared, thread_sensitive=False)(name, data)
    create = database_sync_to_async(services.attachment_create)
    return await create(chat=chat, prepared=prepared)


def attachment_remove(*, owner: Owner, chat_id: uuid.UUID | str, attachment_id: str) -> None:
    """Remove a file that was uploaded but not sent."""
    chat = _owned(owner, chat_id)
    try:
        found = uuid.UUID(str(attachment_id))
    except ValueError:
        raise NotFound("No such attachment waiting to be sent.") from None
    services.attachment_delete(chat=chat, attachment_id=found)


async def turn_nudge(
    *,
    owner: Owner,
    chat_id: uuid.UUID | str,
    persona: str,
    rate_limited: bool = True,
    address: str | None = None,
    session: SessionCheck | None = None,
) -> ReplyJob | Posted:
    """A scene member speaks without a new message from the person. Its run publishes
    ``ack`` (no user message), ``stream``..., then ``complete``."""
    return await _turn(
        kind="speak",
        owner=owner,
        chat_id=chat_id,
        backend_name=None,
        rate_limited=rate_limited,
        address=address,
        session=session,
        persona=persona,
    )


async def turn_auto(
    *,
    owner: Owner,
    chat_id: uuid.UUID | str,
    turns: int,
    rate_limited: bool = True,
    address: str | None = None,
) -> ReplyJob | Posted:
    """The scene's members talk among themselves for up to ``turns`` replies (at most
    GROUP_AUTO_MAX_TURNS), each answering the last, chosen as ``natural`` chooses.
    ``stop`` ends it."""
    limit = settings.GROUP_AUTO_MAX_TURNS
    if not 1 <= turns <= limit:
        raise BadRequest(f"turns must be from 1 to {limit}.")
    last = await database_sync_to_async(_last_line)(owner, chat_id)
    return await _turn(
        kind="speak",
        owner=owner,
        chat_id=chat_id,
        backend_name=None,
        rate_limited=rate_limited,
        address=address,
        content=last.content if last else "",
        after=(last.speaker or None) if last else None,
        auto=turns - 1,
    )


def _last_line(owner: Owner, chat_id: uuid.UUID | str) -> Message | None:
    """The chat's newest message, with who wrote it."""
    chat = _owned(owner, chat_id)
    return chat.messages.order_by("-position").first()


async def turn_next(job: ReplyJob, text: str) -> ReplyJob | Posted:
    """The scene's next reply after ``job``'s (its ``text``): the next queued speaker, or
    one more turn of the members talking among themselves. Counts against nobody's limit:
    the person's message (or auto request) already did."""
    return await _turn(
        kind="speak",
        owner=job.owner,
        chat_id=job.chat.pk,
        backend_name=None,
        rate_limited=False,
        content=text,
        after=job.persona.slug,
        queue=job.queue,
        auto=job.auto if job.queue else job.auto - 1,
    )


async def turn_regenerate(
    *,
    owner: Owner,
    chat_id: uuid.UUID | str,
    backend_name: str | None = None,
    rate_limited: bool = True,
    address: str | None = None,
    session: SessionCheck | None = None,
) -> ReplyJob:
    """Write the last reply again (its ``ack`` lists the replaced reply as removed)."""
    return await _turn(
        kind="regenerate",
        owner=owner,
        chat_id=chat_id,
        backend_name=backend_name,
        rate_limited=rate_limited,
        address=address,
        session=session,
    )


async def turn_edit(
    *,
    owner: Owner,
    chat_id: uuid.UUID | str,
    message_id: int,
    content: str,
    backend_name: str | None = None,
    rate_limited: bool = True,
    address: str | None = None,
) -> ReplyJob:
    """Change a user message, drop what followed it, and answer it again."""
    return await _turn(
        kind="edit",
        owner=owner,
        chat_id=chat_id,
        backend_name=backend_name,
        rate_limited=rate_limited,
        address=address,
        content=content,
        message_id=message_id,
    )


async def turn_continue(
    *,
    owner: Owner,
    chat_id: uuid.UUID | str,
    backend_name: str | None = None,
    rate_limited: bool = True,
    address: str | None = None,
    session: SessionCheck | None = None,
) -> ReplyJob:
    """Extend the last reply: its ``ack`` says ``continued``, and its ``stream`` events
    carry that message's id and add to its text."""
    return await _turn(
        kind="continue",
        owner=owner,
        chat_id=chat_id,
        backend_name=backend_name,
        rate_limited=rate_limited,
        address=address,
        session=session,
    )


def impersonate(
    *,
    owner: Owner,
    chat_id: uuid.UUID | str,
    address: str | None = None,
    rate_limited: bool = True,
) -> AsyncIterator[str]:
    """The model writes the owner's next message in their user persona's voice, delta by
    delta. Saves and publishes nothing: the draft goes only to whoever asked for it."""
    return drafts.impersonation(
        owner=owner, chat_id=str(chat_id), address=address, rate_limited=rate_limited
    )


async def turn_stop(*, owner: Owner, chat_id: uuid.UUID | str) -> None:
    """Stop the reply being written, in whichever process runs it (it keeps its text).
    Its run publishes ``complete`` with status ``cancelled``."""

    def streaming() -> Message | None:
        return chat_streaming_reply(chat_id=_owned(owner, chat_id).pk)

    reply = await database_sync_to_async(streaming)()
    if reply is None:
        raise NotStreaming("No reply is being written right now.")
    # The group is named from the stored id, as the run names it: the id a caller typed
    # (upper case, no hyphens) finds the same chat but would name another group.
    await events.publish(events.control_group(reply.chat_id), events.stop_request())


# --- speech ------------------------------------------------------------------------------


async def message_speech(
    *, owner: Owner, chat_id: uuid.UUID | str, message_id: int, part: str | None = None
) -> SpeechAudio:
    """A reply read aloud in its persona's voice (``TTS_BACKEND``), made once and kept;
    or only ``part`` of it, which may be read while the reply is still being written (a
    page reading sentence by sentence) but must be in its text so far. Raises NotFound
    for someone else's message, NothingToSay for a reply being written (unless a part of
    it) or without words, and the speech errors (``tts_disabled``, ``tts_unavailable``,
    ``tts_failed``); text chat is never affected."""
    engine = speech_engine()
    if part is not None and not 0 < len(part) <= settings.TTS_MAX_CHARS:
        raise NothingToSay(f"Read a part of 1 to {settings.TTS_MAX_CHARS:,} characters.")

    def source() -> tuple[Message, Persona]:
        count_use("speech", owner, None, "replies read aloud")
        chat = _owned(owner, chat_id)
        message = message_in_chat(chat=chat, message_id=message_id)
        if message is None:
            raise NotFound("No such message.")
        return message, chat.persona

    message, persona = await database_sync_to_async(source)()
    streaming = message.status == Message.Status.STREAMING
    if message.role != Message.Role.ASSISTANT or (streaming and part is None):
        raise NothingToSay("Only a finished reply can be read aloud.")
    text = message.content
    if streaming:  # the live text is ahead of the last flush
        with contextlib.suppress(Exception):
            live = (await live_texts([message.pk])).get(message.pk)
            text = live.text if live is not None and len(live.text) > len(text) else text
    if part is not None and part not in text:
        raise NothingToSay("That is not part of this reply.")
    parts = speakable(
        part if part is not None else text,
        actions=settings.TTS_ACTIONS,
        limit=settings.TTS_MAX_CHARS,
    )
    if not parts:
        raise NothingToSay("This reply has no words to read aloud.")
    voice = VoiceSpec(persona.voice, persona.voice_speed, persona.voice_pitch)
    return await spoken(engine, parts, voice)


async def transcription_create(*, owner: Owner, data: bytes, address: str | None) -> str:
    """The words in a recording from the microphone (``STT_BACKEND=openai``), for the
    composer; nothing is saved. Counts against the owner's (or address's) limit."""
    use = sync_to_async(count_use, thread_sensitive=False)
    await use("transcriptions", owner, address, "recordings")
    return await transcribe(data)


# --- replies whose process died ----------------------------------------------------------


def replies_reap(*, message_ids: list[int]) -> list[Message]:
    """Mark replies whose process died ``interrupted``, keeping the longest text anyone saw
    (the live text in Redis, when it is longer than the last flush), so their chats take
    new turns again. Publishes ``complete`` with status ``interrupted`` for each. Used by
    every process's sweep, at start-up and by ``reap_generations``. Blocking."""
    try:
        live = async_to_sync(live_texts)(message_ids)
    except Exception:  # the live store is down: keep what the database has
        logger.warning("live store unavailable: interrupting with the saved text only")
        live = {}
    texts = {message_id: reply.text for message_id, reply in live.items()}
    with transaction.atomic():
        marked = services.replies_interrupt(message_ids=message_ids, texts=texts)
        for message in marked:
            event = events.complete_event(message=message_data(message))
            events.publish_on_commit(events.chat_group(message.chat_id), event)
    for message in marked:
        with contextlib.suppress(Exception):  # a key left behind expires on its own
            async_to_sync(live_delete)(message.pk)
    return marked


@dataclass(frozen=True)
class TurnRequest:
    """One turn asked for: what ``_turn``'s callers pass."""

    kind: TurnKind
    owner: Owner
    chat_id: uuid.UUID | str
    backend_name: str | None
    rate_limited: bool
    address: str | None = None
    content: str = ""
    message_id: int | None = None
    attachments: tuple[uuid.UUID, ...] = ()
    # Group scenes: who is asked to answer (a member's slug), who just spoke (for
    # ``speak``: the text is theirs), who is queued after this reply, and how many more
    # replies the members may add talking among themselves.
    persona: str | None = None
    after: str | None = None
    queue: tuple[str, ...] = ()
    auto: int = 0
    # A socket's session, checked in the turn's own trip to the database (not one of its
    # own first): a turn of an ended session is refused with SessionEnded, saving nothing.
    session: SessionCheck | None = None


@dataclass(frozen=True)
class Posted:
    """A message saved with nobody to answer it (a manual scene, nobody asked)."""

    chat: Chat
    message: Message


@dataclass(frozen=True)
class _Start:
    """A turn that got as far as choosing who answers, and with what."""

    chat: Chat
    cast: list[Member]
    speaker: Member | None
    queue: tuple[str, ...]
    backend: Backend
    options: GenerationOptions


async def _turn(**request: Any) -> ReplyJob | Posted:
    """Save the turn (with any others asked for meanwhile: one trip to the database for
    them all), then start its run."""
    return await _turns(TurnRequest(**request))


def _save_turns(requests: Sequence[TurnRequest]) -> list[ReplyJob | Posted | Exception]:
    """Count each attempt, choose who answers, save each turn and read what its prompt is
    built from: each kind of read once for every turn. Blocking; each turn's result is its
    job (or the message, when nobody answers) or the ChatError it raises. No model work
    happens here: the run counts tokens."""
    results: list[ReplyJob | Posted | Exception] = [NotFound("No such chat.")] * len(requests)
    ended = _sessions_ended(requests)
    chats = chats_for_turns([(request.chat_id, request.owner) for request in requests])
    casts = members_of_chats([chat.pk for chat in chats if chat is not None])
    started: dict[int, _Start] = {}
    for index, (request, chat) in enumerate(zip(requests, chats, strict=True)):
        if index in ended:
            results[index] = SessionEnded("Your session has ended. Sign in again.")
            continue
        try:
            if request.rate_limited:
                count_attempt(request.owner, request.address)
            if request.kind != "regenerate":
                logger.debug(
                    "%s: %r", request.kind, request.content, extra={"chat_id": str(request.chat_id)}
                )
            if chat is None:
                continue
            cast = chat.cast = cast_of(chat, casts[chat.pk])  # type: ignore[attr-defined]
            speaker, queue = _speakers(request, chat, cast)
            if speaker is None and request.kind == "chat":
                results[index] = _post(request, chat, cast)
                continue
            persona = speaker.persona if speaker is not None else chat.persona
            backend, options = backend_for_persona(persona, request.backend_name)
            started[index] = _Start(chat, cast, speaker, queue, backend, options)
        except Exception as error:
            results[index] = error
    turns = _write_turns(requests, started, results)
    wanted = [(started[index].chat, turn.reply.position) for index, turn in turns.items()]
    histories = dict(zip(turns, prompt_histories(wanted), strict=True))
    speakers = [_speaking(started[index], turn).persona.pk for index, turn in turns.items()]
    read = chats_lorebooks([chat for chat, _ in wanted], speakers)
    books = dict(zip(turns, read, strict=True))
    for index, turn in turns.items():
        request, start = requests[index], started[index]
        chat = start.chat
        persona = _speaking(start, turn).persona
        history = [m for m in histories[index] if _witnessed(m, persona.slug)]
        if request.kind == "continue":
            history.append(turn.reply)  # the text being extended ends the prompt's history
        chat.updated_at = timezone.now()
        results[index] = ReplyJob(
            chat=chat,
            owner=chat.owner,
            turn=turn,
            edited=request.kind == "edit",
            continued=request.kind == "continue",
            regenerated=request.kind == "regenerate",
            backend=start.backend,
            options=start.options,
            history=history,
            user=chat_user(chat),
            lore=LoreSources(books=compiled_books(books[index]), read_through=chat.read_through),
            authors_note=AuthorsNote(chat.authors_note, chat.authors_note_depth),
            instruction=CONTINUE_INSTRUCTION if request.kind == "continue" else "",
            wants_title=turn.user is not None and not chat.title and len(history) <= 2,
            vision=sees_images(persona, start.backend),
            speaker=persona,
            scene=_scene_view(persona, start.cast, histories[index], history),
            queue=start.queue,
            auto=request.auto,
        )
    return results


def _sessions_ended(requests: Sequence[TurnRequest]) -> set[int]:
    """The indexes of the requests whose socket's session has ended (one query for all)."""
    checked = [(index, r.session) for index, r in enumerate(requests) if r.session is not None]
    current = sessions_are_current([check for _, check in checked]) if checked else []
    return {index for (index, _), ok in zip(checked, current, strict=True) if not ok}


def _speakers(
    request: TurnRequest, chat: Chat, cast: list[Member]
) -> tuple[Member | None, tuple[str, ...]]:
    """Who answers this turn, and who is queued after them (slugs)."""
    if request.kind in ("regenerate", "continue"):
        last = Message.objects.filter(chat_id=chat.pk).order_by("-position")
        return _member(cast, last.values_list("speaker", flat=True).first()), ()
    if request.persona:
        asked = next((m for m in cast if m.slug == request.persona), None)
        if asked is None:
            raise NotAMember(f"{request.persona[:60]!r} is not in this scene.")
        if asked.muted:
            raise NotAMember(f"{asked.persona.name} is muted. Unmute them first.")
        return asked, request.queue
    if request.kind == "speak" and request.queue:
        first, *rest = request.queue
        return _speakers(replace(request, persona=first, queue=tuple(rest)), chat, cast)
    chosen = scenes.speakers(
        members=cast,
        activation=chat.activation if request.kind != "speak" else Activation.NATURAL,
        last_text=request.content,
        last_speaker=request.after,
    )
    if not chosen:
        if request.kind == "speak":
            raise NotAMember("Nobody in this scene can speak: everyone is muted.")
        return None, ()
    return chosen[0], tuple(member.slug for member in chosen[1:])


def _speaking(start: _Start, turn: services.Turn) -> Member:
    """Who writes the turn's reply: the chosen speaker, or (regenerate, continue) the
    member who wrote it; the chat's persona for a reply from before scenes."""
    member = start.speaker or _member(start.cast, turn.reply.speaker)
    return member or Member(start.chat.persona, False, start.chat.created_at)


def _member(cast: list[Member], slug: str | None) -> Member | None:
    return next((m for m in cast if m.slug == slug), None)


def _witnessed(message: Message, slug: str) -> bool:
    """Whether the member was present when the message was written (older messages, from
    before scenes, were heard by everyone)."""
    return not message.present or slug in message.present


def _scene_view(
    speaker: Persona, cast: list[Member], read: list[Message], heard: list[Message]
) -> SceneView:
    """The scene as the speaker sees it: the others present, everyone's names, and whether
    the speaker has just arrived (missed some of what was read, and has not spoken yet)."""
    others = [m.persona for m in cast if not m.muted and m.persona.pk != speaker.pk]
    roster = ""
    if others:
        listed = "; ".join(f"{p.name} ({p.epithet})" if p.epithet else p.name for p in others)
        roster = f"[Also in this scene: {listed}.]"
    names = {m.slug: m.persona.name for m in cast}
    missing = {m.speaker for m in heard if m.speaker and m.speaker not in names}
    if missing:  # former members
        names |= dict(Persona.objects.filter(slug__in=missing).values_list("slug", "name"))
    spoke = any(m.speaker == speaker.slug for m in heard)
    return SceneView(speaker.slug, names, roster, arrived=len(heard) < len(read) and not spoke)


def _post(request: TurnRequest, chat: Chat, cast: list[Member]) -> Posted:
    """Save a message nobody is asked to answer. Publishes ``ack`` (with no reply) and
    ``listed``."""
    with transaction.atomic():
        message = services.message_post(
            chat_id=chat.pk, content=request.content, present=scenes.present(cast)
        )
        ack = events.ack_event(user=message, reply=None, removed=[], edited=False)
        events.publish_on_commit(events.chat_group(chat.pk), ack)
        events.publish_on_commit(events.owner_group(chat.owner), events.listed_event(chat))
    return Posted(chat, message)


def _begin(result: ReplyJob | Posted) -> None:
    """Start the saved turn's run (a posted message has been announced already)."""
    if isinstance(result, ReplyJob):
        start_reply(result)


_turns: DatabaseBatch[TurnRequest, ReplyJob | Posted] = DatabaseBatch(_save_turns, then=_begin)


def _write_turns(
    requests: Sequence[TurnRequest],
    started: dict[int, _Start],
    results: list[ReplyJob | Posted | Exception],
) -> dict[int, services.Turn]:
    """Save the turns that got this far, by request index: plain messages (and members
    speaking on their own) to different chats in one statement, the rest one at a time.
    A turn that fails gets its error in ``results``."""
    batched: dict[int, services.TurnStart] = {}
    single: list[int] = []
    for index, start in started.items():
        request, chat = requests[index], start.chat
        plain = request.kind in ("chat", "speak") and not request.attachments
        if plain and all(other.chat_id != chat.pk for other in batched.values()):
            try:
                content = None
                if request.kind == "chat":
                    content = services.clean_content(request.content)
            except Exception as error:
                results[index] = error
                continue
            batched[index] = services.TurnStart(
                chat.pk,
                content,
                start.backend.name,
                start.options.model,
                start.speaker.slug if start.speaker else "",
                tuple(scenes.present(start.cast)),
            )
        else:
            single.append(index)
    turns: dict[int, services.Turn] = {}
    try:
        saved = services.turn_start_many(list(batched.values()))
        turns.update(zip(batched, saved, strict=True))
    except ChatBusy:  # one of them lost a race: saved nothing, so each goes on its own
        single = sorted([*batched, *single])
    for index in single:
        try:
            turns[index] = _write_turn(requests[index], started[index])
        except Exception as error:
            results[index] = error
    return dict(sorted(turns.items()))


def _write_turn(request: TurnRequest, start: _Start) -> services.Turn:
    """Save one turn of any kind."""
    chat = start.chat
    target = {"chat_id": chat.pk, "backend": start.backend.name, "model": start.options.model}
    scene = {
        "speaker": start.speaker.slug if start.speaker else "",
        "present": scenes.present(start.cast),
    }
    if request.kind == "chat":
        return _send(chat, start.backend, request.content, request.attachments, target | scene)
    if request.kind == "regenerate":
        return services.turn_regenerate(**target)
    if request.kind == "continue":
        return services.turn_continue(**target)
    if request.kind == "speak":
        assert start.speaker is not None
        return services.turn_speak(**target, **scene)  # type: ignore[arg-type]
    assert request.message_id is not None
    return services.turn_edit(
        message_id=request.message_id, content=request.content, **target, **scene
    )


def _send(
    chat: Chat, backend: Backend, content: str, ids: tuple[uuid.UUID, ...], target: dict[str, Any]
) -> services.Turn:
    """A new user message and its reply, with its attachments (checked first: pictures
    need a backend that sees them)."""
    if not ids:
        return services.turn_start(content=content, **target)
    attached = services.attachments_for_message(chat=chat, ids=ids)
    if any(a.kind == Attachment.Kind.IMAGE for a in attached) and not sees_images(
        chat.persona, backend
    ):
        raise VisionUnsupported(
            f"{chat.persona.name}'s model ({target['model'] or backend.name}) can't see "
            "pictures. Remove them, or ask the admin to turn on vision."
        )
    with transaction.atomic():
        turn = services.turn_start(content=content, text_required=False, **target)
        assert turn.user is not None
        services.attachments_send(message=turn.user, attachments=attached)
    return turn
