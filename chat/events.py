"""Every event Stormchat publishes, built here and nowhere else, beside its group names.

An event is a format-neutral dict sent to a channel-layer group. Its ``type`` is
``chat.<kind>``; each connection renders it for its own client (JSON, or HTML for the
page) and drops ``type``. Events carry all the data their renderers need, so no
connection reads the database per event. Events other than ``stream`` carry an ``eid``
that lets HTML connections render a fragment once per process and reuse it
(chat/rendering.py); ``stream`` is keyed by its message and ``seq``.

Writes publish with ``publish_on_commit`` (sync code, after the transaction commits, as
Zulip's ``do_*`` actions do) or ``publish`` (async code, after its database call returned).
"""

from __future__ import annotations

import hashlib
import itertools
import time
import uuid
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from chat.errors import ChatError
from chat.models import Chat, Message
from chat.ownership import Owner
from chat.presenters import chat_data, message_data

Event = dict[str, Any]

# --- groups ----------------------------------------------------------------------------


def chat_group(chat_id: uuid.UUID | str) -> str:
    """Every connection to this chat: its messages, runs, title and deletion."""
    return f"chat.{chat_id}"


def owner_group(owner: Owner) -> str:
    """Every page of this owner, for its history list; session keys are hashed."""
    if owner.user_id is not None:
        return f"owner.u{owner.user_id}"
    digest = hashlib.sha256((owner.session_key or "").encode()).hexdigest()[:40]
    return f"owner.s{digest}"


def auth_group(user_id: int) -> str:
    """Every socket of this user, told to check its session after a logout or password
    change."""
    return f"auth.u{user_id}"


def control_group(chat_id: uuid.UUID | str) -> str:
    """The run writing this chat's reply listens here for ``stop``, in any process."""
    return f"run-control.{chat_id}"


# --- builders --------------------------------------------------------------------------


# Event ids: unique across processes (a random prefix per process) and cheap (a counter):
# uuid4() per event read os.urandom each time, 2 % of the event loop in bench S2's burst.
_PROCESS = uuid.uuid4().hex[:12]
_next_event = itertools.count(1)


def _event(kind: str, **fields: Any) -> Event:
    """An event with a fresh ``eid`` and the time it happened (for the debug panel)."""
    eid = f"{_PROCESS}-{next(_next_event)}"
    return {"type": f"chat.{kind}", "eid": eid, "at": _now_ms(), **fields}


def _now_ms() -> int:
    return int(time.time() * 1000)


def ack_event(
    *,
    user: Message | None,
    reply: Message | None,
    removed: list[int],
    edited: bool,
    continued: bool = False,
    regenerated: bool = False,
) -> Event:
    """A turn was saved: its user message (None for regenerate, continue and a scene
    member's turn of their own) and the streaming reply (None when nobody is asked to
    answer: a manual scene). A regenerated or continued reply is a message already in the chat
    (it streams again: a new alternative, or more of its text)."""
    return _event(
        "ack",
        message=message_data(user) if user else None,
        reply=message_data(reply) if reply else None,
        removed=removed,
        edited=edited,
        continued=continued,
        regenerated=regenerated,
    )


def queued_event(*, message_id: int, position: int) -> Event:
    """The reply waits for the embedded model; ``position`` 1 is next in line."""
    return _event("queued", message_id=message_id, position=position)


def speaker_queued_event(*, persona: str, position: int) -> Event:
    """A scene member will speak after the reply being written; ``position`` 1 is next."""
    return _event("queued", persona=persona, position=position)


def stream_event(*, message_id: int, seq: int, content: str) -> Event:
    """A batch of new text for a streaming reply (hot path: no eid, no clock)."""
    return {"type": "chat.stream", "message_id": message_id, "seq": seq, "content": content}


def complete_event(*, message: dict[str, Any]) -> Event:
    """A run ended (complete, cancelled, failed or interrupted); its final message."""
    return _event("complete", message=message)


def error_event(*, error: ChatError, message_id: int | None = None) -> Event:
    """A run failed: the code and message people see, for every connection."""
    extra = {} if message_id is None else {"message_id": message_id}
    return _event("error", code=error.code, message=error.message, **error.fields(), **extra)


def cleared_event(messages: list[Message]) -> Event:
    """The chat's messages were replaced (clear, or a greeting swipe), and which of the
    persona's greetings opens it now."""
    return _event(
        "cleared",
        messages=[message_data(m) for m in messages],
        greeting_index=messages[0].chat.greeting_index,
    )


def swiped_event(message: Message) -> Event:
    """A reply shows another of its alternatives."""
    return _event("swiped", message=message_data(message))


def edited_event(message: Message) -> Event:
    """A reply's text was changed in place."""
    return _event("edited", message=message_data(message))


def removed_event(ids: list[int]) -> Event:
    """Messages were deleted from the chat."""
    return _event("removed", ids=ids)


def chat_settings_event(chat: Chat) -> Event:
    """The chat's author's note or user persona changed."""
    return _event("settings", chat=chat_data(chat))


def title_event(*, chat_id: uuid.UUID, title: str) -> Event:
    """The chat has a new title (automatic, or renamed)."""
    return _event("title", chat_id=str(chat_id), title=title)


def reading_event(*, chat_id: uuid.UUID, read_through: str) -> Event:
    """How far the chat's reader has read changed: lore revealed later stays out."""
    return _event("reading", chat_id=str(chat_id), read_through=read_through)


def lorebooks_event(
    *, chat_id: uuid.UUID, chosen: list[dict[str, Any]], available: list[dict[str, Any]]
) -> Event:
    """The books the chat adds on top of its persona's changed (and those it could add,
    so a page redraws its choices without asking the database)."""
    return _event("lorebooks", chat_id=str(chat_id), lorebooks=chosen, available=available)


def listed_event(chat: Chat) -> Event:
    """A chat is new or changed: pages move its row (carried here) to the top of the list."""
    return _event("listed", chat_id=str(chat.pk), chat=chat_data(chat))


def unlisted_event(chat_id: uuid.UUID) -> Event:
    """A chat left the owner's list."""
    return _event("unlisted", chat_id=str(chat_id))


def deleted_event(chat_id: uuid.UUID) -> Event:
    """The chat was deleted: its connections are told, then closed with 4404."""
    return _event("deleted", chat_id=str(chat_id))


def session_check_request() -> Event:
    """Asks a user's sockets to check their session is still good (closed with 4401 if
    not): sent after a logout or a password change."""
    return {"type": "auth.check"}


def stop_request() -> Event:
    """Asks the run on a chat's control group to stop."""
    return {"type": "run.stop"}


# --- publishing ------------------------------------------------------------------------


async def publish(group: str, event: Event) -> None:
    """Send the event to every member of the group, in every process."""
    await get_channel_layer().group_send(group, event)


def publish_on_commit(group: str, event: Event) -> None:
    """Publish once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: async_to_sync(publish)(group, event))
