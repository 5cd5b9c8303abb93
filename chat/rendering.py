"""Render group events as HTML fragments for the browser page (htmx ws extension).

Each event becomes out-of-band swaps built from the same partials the page load uses
(``chat/chat.html#message`` and friends). A fragment is rendered once per process and
reused by every connection that receives the same event (``FragmentCache``), and each
message's Markdown once per process (chat/markdown.py). The connection has already
dropped stale ``stream`` batches (chat/positions.py), so the page never shows text twice.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.template.loader import render_to_string

from chat.context_processors import limits
from chat.markdown import render_markdown
from chat.models import Chat
from chat.presenters import books_context
from personas.lore import series
from personas.prompts import persona_greetings

TEMPLATE = "chat/chat.html"


def with_html(message: dict[str, Any]) -> dict[str, Any]:
    """Message data plus its rendered Markdown (streaming text stays plain)."""
    if message["status"] == "streaming":
        return message
    return {**message, "html": render_markdown(message["content"])}


def with_faces(
    messages: list[dict[str, Any]], members: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each reply with the face of the member who wrote it (``who``: name, avatar and
    colour; a former member's reply keeps the page's persona)."""
    faces = {member["slug"]: member for member in members}
    return [with_face(message, faces) for message in messages]


def with_face(message: dict[str, Any], faces: dict[str, dict[str, Any]]) -> dict[str, Any]:
    who = faces.get(message.get("persona") or "")
    return {**message, "who": who} if who else message


def greetings_total(chat: Chat, members: list[dict[str, Any]]) -> int:
    """How many greetings the chat could open with (a scene's group-only ones, when its
    card has some)."""
    return len(persona_greetings(chat.persona, group=len(members) > 1))


def with_swipe(
    messages: list[dict[str, Any]], chat: Chat, members: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Before anyone has written, the greeting carries controls to swipe between the
    persona's greetings (a scene's group-only ones, when its card has some), when it has
    more than one."""
    total = greetings_total(chat, members)
    if total < 2 or len(messages) != 1 or messages[0]["position"] != 1:
        return messages
    index = chat.greeting_index % total
    swipe = {"number": index + 1, "total": total, "prev": (index - 1) % total}
    return [{**messages[0], "greeting_swipe": swipe | {"next": (index + 1) % total}}]


def addable(personas: list[dict[str, Any]], members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The personas that could join the scene: those not in it."""
    inside = {member["slug"] for member in members}
    return [persona for persona in personas if persona["slug"] not in inside]


@dataclass(frozen=True)
class ListedPersona:
    name: str
    avatar_url: str


@dataclass(frozen=True)
class ListedChat:
    """A history-list row rebuilt from a ``listed`` event (the partial's ``chat``)."""

    id: str
    title: str
    persona: ListedPersona
    updated_at: datetime
    faces: tuple[ListedPersona, ...] = ()

    @property
    def cast_names(self) -> str:
        return ", ".join(face.name for face in self.faces) or self.persona.name

    @classmethod
    def from_event(cls, data: dict[str, Any]) -> ListedChat:
        persona = data["persona"]
        return cls(
            id=data["id"],
            title=data["title"],
            persona=ListedPersona(persona["name"], persona["avatar_url"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
            faces=tuple(ListedPersona(m["name"], m["avatar_url"]) for m in data["members"]),
        )


# Events whose fragments hold Markdown; they render on a thread, never on the event loop.
HEAVY_EVENTS = frozenset({"welcome", "cleared", "ack", "complete", "swiped", "edited"})
_render_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="stormchat-render")


class FragmentCache:
    """Fragments by event, so N connections to a chat render an event once, not N times.

    Used only from the event loop: the first connection to ask for an event starts its
    rendering (on a thread for heavy events) and the others await the same future.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.fragments: OrderedDict[tuple[str, ...], asyncio.Future[str | None]] = OrderedDict()
        self.renders = 0  # how many fragments were actually rendered (for tests and bench)

    async def get(
        self, key: tuple[str, ...] | None, render: Callable[[], str | None], *, heavy: bool
    ) -> str | None:
        """The fragment for this key, rendering it (``render()``) on the first request."""
        if key is not None and key in self.fragments:
            return await self.fragments[key]
        self.renders += 1
        loop = asyncio.get_running_loop()
        if heavy:
            future: asyncio.Future[str | None] = loop.run_in_executor(_render_pool, render)
        else:
            future = loop.create_future()
            future.set_result(render())
        if key is not None:
            self.fragments[key] = future
            if len(self.fragments) > self.size:
                self.fragments.popitem(last=False)
        return await future


fragment_cache = FragmentCache()


class HtmlRenderer:
    """Turns one connection's events into HTML for its page."""

    def __init__(
        self, chat: Chat, members: list[dict[str, Any]], personas: list[dict[str, Any]]
    ) -> None:
        self.chat = chat
        self.members = members  # the scene as the page shows it, kept by ``settings``
        self.personas = personas  # who could join it (read when the socket opened)

    @property
    def faces(self) -> dict[str, dict[str, Any]]:
        return {member["slug"]: member for member in self.members}

    def _face(self, slug: str) -> dict[str, Any]:
        """A member's face, or just the slug for one who has left the scene."""
        return self.faces.get(slug, {"name": slug})

    def _render(self, name: str, event: str, **context: Any) -> str:
        base = {
            **limits(),
            "chat": self.chat,
            "persona": self.chat.persona,
            "current_chat_id": self.chat.pk,
            "event": event,
            "members": self.members,
            "addable": addable(self.personas, self.members),
        }
        return render_to_string(f"{TEMPLATE}#{name}", base | context)

    async def render(self, kind: str, event: dict[str, Any]) -> str | None:
        """HTML for one event, or None when there is nothing to show."""
        if kind == "welcome":
            return await fragment_cache.get(None, lambda: self._snapshot(kind, event), heavy=True)
        if kind == "stream":  # the connection has dropped stale batches already
            # Keyed by its text, not its seq: a regenerated or continued reply streams
            # again under the same id, starting from seq 1.
            key = ("stream", str(event["message_id"]), event["content"])
        else:
            self._note(kind, event)
            key = (event["eid"], str(self.chat.pk)) if "eid" in event else None
        render = lambda: self._fragment(kind, event)  # noqa: E731
        return await fragment_cache.get(key, render, heavy=kind in HEAVY_EVENTS)

    def _note(self, kind: str, event: dict[str, Any]) -> None:
        """What this connection must remember of an event (its own state, never cached)."""
        if kind == "cleared":
            self.chat.greeting_index = event["greeting_index"]
        elif kind == "title":
            self.chat.title = event["title"]
        elif kind == "reading":
            self.chat.read_through = event["read_through"]
        elif kind == "settings":
            changed = event["chat"]
            self.chat.authors_note = changed["authors_note"]
            self.chat.authors_note_depth = changed["authors_note_depth"]
            self.chat.user_persona_id = changed["user_persona"]
            self.chat.auto_read = changed["auto_read"]
            self.chat.activation = changed["activation"]
            self.members = changed["members"]

    def _snapshot(self, kind: str, payload: dict[str, Any]) -> str:
        """The whole message list: a connection's own ``welcome``."""
        messages = [with_html(m) for m in payload["messages"]]
        messages = with_faces(with_swipe(messages, self.chat, self.members), self.members)
        self.chat.title = payload["chat"]["title"]
        speakers = [self._face(slug) for m in messages for slug in m.get("queued", ())]
        return self._render(
            "ws-welcome", kind, messages=messages, has_more=payload["has_more"], queued=speakers
        )

    def _fragment(self, kind: str, event: dict[str, Any]) -> str | None:
        at = {"at": event.get("at", "")}
        if kind == "cleared":
            messages = [with_html(m) for m in event["messages"]]
            messages = with_faces(with_swipe(messages, self.chat, self.members), self.members)
            return self._render("ws-cleared", kind, messages=messages, **at)
        if kind == "ack":
            user, reply = event["message"], event["reply"]
            # Regenerate and continue stream into a reply already on the page.
            in_place = event.get("regenerated") or event.get("continued")
            first = user or reply
            return self._render(
                "ws-ack",
                kind,
                message_id=reply["id"] if reply else "",
                user=with_html(user) if user else None,
                reply=with_face(reply, self.faces) if reply else None,
                removed=event["removed"],
                edited=event["edited"],
                in_place=in_place,
                # The chat's first turn takes away the greeting's swipe, where it has one.
                begins_chat=first is not None
                and first["position"] == 2
                and not (in_place or event["edited"])
                and greetings_total(self.chat, self.members) > 1,
                **at,
            )
        if kind in ("swiped", "edited"):
            message = with_face(with_html(event["message"]), self.faces)
            return self._render(
                "ws-complete", kind, message=message, message_id=message["id"], **at
            )
        if kind == "removed":
            return self._render("ws-removed", kind, ids=event["ids"], **at)
        if kind == "settings":
            return self._render("ws-settings", kind, **at)
        if kind in ("draft", "draft_complete"):
            return self._render("ws-draft", kind, content=event["content"])
        if kind == "forked":
            return self._render("ws-forked", kind, chat_id=event["chat_id"])
        if kind == "queued" and "persona" in event:  # a scene's next speaker
            who = self._face(event["persona"])
            return self._render("ws-speaker-queued", kind, who=who, place=event["position"], **at)
        if kind == "queued":
            queued = {"id": event["message_id"], "queue_position": event["position"]}
            return self._render(
                "ws-queued", kind, message_id=event["message_id"], queued=queued, **at
            )
        if kind == "stream":
            return self._render(
                "ws-stream", kind, message_id=event["message_id"], content=event["content"]
            )
        if kind == "complete":
            message = with_face(with_html(event["message"]), self.faces)
            return self._render(
                "ws-complete", kind, message=message, message_id=message["id"], **at
            )
        if kind == "error":
            return self._render(
                "ws-error",
                kind,
                code=event["code"],
                text=event["message"],
                message_id=event.get("message_id"),
                **at,
            )
        if kind == "title":
            return self._render("ws-title", kind, title=event["title"], **at)
        if kind == "lorebooks":
            books = books_context(event["lorebooks"], event["available"])
            return self._render("ws-chat-books", kind, **books, **at)
        if kind == "reading":
            return self._render("ws-reading", kind, books=series.CHOICES, **at)
        if kind == "listed":
            return self._render("ws-chat-listed", kind, chat=ListedChat.from_event(event["chat"]))
        if kind == "unlisted":
            return self._render("ws-chat-unlisted", kind, chat_id=event["chat_id"], **at)
        if kind == "deleted":
            return self._render("ws-deleted", kind, **at)
        return None
