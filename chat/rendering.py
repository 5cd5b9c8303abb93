"""Render group events as HTML fragments for the browser page (htmx ws extension).

Each event becomes out-of-band swaps built from the same partials the page load uses
(``chat/chat.html#message`` and friends). Stale ``stream`` batches (already contained in
the snapshot this connection received) are dropped here, so the page never shows text
twice.
"""

from __future__ import annotations

import time
from typing import Any

from channels.db import database_sync_to_async
from django.template.loader import render_to_string

from chat.markdown import render_markdown
from chat.models import Chat
from chat.ownership import Owner
from chat.selectors import chat_get_for_owner
from personas.prompts import persona_greetings

TEMPLATE = "chat/chat.html"


def with_html(message: dict[str, Any]) -> dict[str, Any]:
    """Message data plus its rendered Markdown (streaming text stays plain)."""
    return {**message, "html": render_markdown(message["content"])}


def with_swipe(messages: list[dict[str, Any]], chat: Chat) -> list[dict[str, Any]]:
    """Before anyone has written, the greeting carries controls to swipe between the
    persona's greetings (when it has more than one)."""
    total = len(persona_greetings(chat.persona))
    if total < 2 or len(messages) != 1 or messages[0]["position"] != 1:
        return messages
    index = chat.greeting_index % total
    swipe = {"number": index + 1, "total": total, "prev": (index - 1) % total}
    return [{**messages[0], "swipe": swipe | {"next": (index + 1) % total}}]


class HtmlRenderer:
    """Turns one connection's events into HTML for its page."""

    def __init__(self, chat: Chat, owner: Owner) -> None:
        self.chat = chat
        self.owner = owner
        self.seen_seq: dict[int, int] = {}

    def _render(self, name: str, event: str, **context: Any) -> str:
        base = {
            "chat": self.chat,
            "persona": self.chat.persona,
            "current_chat_id": self.chat.pk,
            "event": event,
            "at": f"{time.time() * 1000:.0f}",
        }
        return render_to_string(f"{TEMPLATE}#{name}", base | context)

    async def render(self, kind: str, payload: dict[str, Any]) -> str | None:
        """HTML for one event, or None when there is nothing to show."""
        if kind in ("welcome", "cleared"):
            if "greeting_index" in payload:
                self.chat.greeting_index = payload["greeting_index"]
            messages = with_swipe([with_html(m) for m in payload["messages"]], self.chat)
            for message in messages:
                if message["status"] == "streaming":
                    self.seen_seq[message["id"]] = message.get("seq", 0)
            if "chat" in payload:
                self.chat.title = payload["chat"]["title"]
            return self._render(
                "ws-welcome", kind, messages=messages, has_more=payload.get("has_more", False)
            )
        if kind == "ack":
            user = payload.get("message")
            return self._render(
                "ws-ack",
                kind,
                message_id=payload["reply"]["id"],
                user=with_html(user) if user else None,
                reply=with_html(payload["reply"]),
                removed=payload.get("removed", []),
                edited=payload.get("edited", False),
            )
        if kind == "stream":
            message_id, seq = payload["message_id"], payload["seq"]
            if seq <= self.seen_seq.get(message_id, 0):
                return None
            self.seen_seq[message_id] = seq
            content = payload["content"]
            return self._render("ws-stream", kind, message_id=message_id, content=content)
        if kind == "complete":
            message = with_html(payload["message"])
            self.seen_seq.pop(message["id"], None)
            return self._render("ws-complete", kind, message=message, message_id=message["id"])
        if kind == "error":
            return self._render(
                "ws-error",
                kind,
                code=payload["code"],
                text=payload["message"],
                message_id=payload.get("message_id"),
            )
        if kind == "title":
            self.chat.title = payload["title"]
            return self._render("ws-title", kind, title=payload["title"])
        if kind == "listed":
            chat = await database_sync_to_async(chat_get_for_owner)(
                chat_id=payload["chat_id"], owner=self.owner
            )
            return None if chat is None else self._render("ws-chat-listed", kind, chat=chat)
        if kind == "unlisted":
            return self._render("ws-chat-unlisted", kind, chat_id=payload["chat_id"])
        return None
