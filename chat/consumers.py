"""The WebSocket for one chat room, speaking the JSON protocol in docs/protocol.md."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any
from urllib.parse import parse_qs

import orjson
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from django.conf import settings

from chat import actions, metrics
from chat.errors import BadRequest, NotStreaming, SessionEnded, as_chat_error
from chat.events import auth_group, chat_group, owner_group
from chat.inputs import (
    attachment_ids,
    number_input,
    number_list,
    scene_input,
    settings_input,
    slug_input,
    text_input,
)
from chat.models import Chat
from chat.ownership import Owner
from chat.positions import StreamPositions
from chat.presenters import members_data, persona_data
from chat.rendering import HtmlRenderer
from chat.selectors import chat_get_for_owner
from chat.sessions import CLOSE_SESSION_ENDED
from chat.snapshots import chat_snapshot
from chat.socket_limits import CLOSE_TOO_MANY, FrameBudget, socket_admit, socket_release
from chat.sockets import ChatSocket
from personas.selectors import persona_list_active

# Sent when the chat does not exist or is not the caller's: both look the same.
CLOSE_NOT_FOUND = 4404

# Frames whose turn checks the socket's session in its own trip to the database (every
# other frame checks it first, in a trip of its own).
TURN_FRAMES = frozenset({"chat", "nudge", "regenerate", "continue"})


class ChatConsumer(ChatSocket):
    """One connection to one chat. Generation runs elsewhere; this only relays."""

    group: str | None = None
    groups_joined: tuple[str, ...] = ()
    # None speaks the JSON protocol; the browser page asks for HTML (?format=html).
    renderer: HtmlRenderer | None = None
    budget: FrameBudget | None = None
    positions: StreamPositions
    admitted = False
    # This connection's impersonation draft, while the model writes it.
    draft: asyncio.Task[None] | None = None

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Relay group events (``chat.*``); call the handler of anything else.

        This skips channels' per-message database hop: channels 4.2+ runs
        ``close_old_connections`` in the sync thread before every handler, a thread round
        trip for each streamed batch and connection, which was about 14 % of the server's
        CPU under load (bench S2). Every database call here goes through
        ``database_sync_to_async``, which closes stale connections itself.
        """
        if message["type"].startswith("chat."):
            await self.relay(message)
            return
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        """Accept the owner only; join the chat's group, then send the snapshot."""
        owner = self.owner = Owner.from_scope(self.scope)
        chat_id = self.scope["url_route"]["kwargs"]["chat_id"]
        chat = await database_sync_to_async(chat_get_for_owner)(chat_id=chat_id, owner=owner)
        await self.accept()
        if chat is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        if not socket_admit(owner.identity):
            limit = settings.WS_MAX_SOCKETS_PER_OWNER
            await self.send_error("too_many_sockets", f"At most {limit} open chats at once.")
            await self.close(code=CLOSE_TOO_MANY)
            return
        self.admitted = True
        metrics.SOCKETS.inc()
        self.budget = FrameBudget()
        self.chat_id = chat.pk
        groups = [chat_group(chat.pk)]
        if owner.user_id is not None:
            groups.append(auth_group(owner.user_id))  # told to check after a logout
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        if query.get("format") == ["html"]:
            members, personas = await database_sync_to_async(_scene_choices)(chat)
            self.renderer = HtmlRenderer(chat, members, personas)
            groups.append(owner_group(owner))  # the page's history list updates live
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined = tuple(groups)
        self.positions = StreamPositions()
        await self._welcome(chat)

    async def disconnect(self, code: int) -> None:
        """Leave the groups; any running reply carries on without us (a draft does not)."""
        if self.draft is not None:
            self.draft.cancel()
        if self.admitted:
            socket_release(self.owner.identity)
            metrics.SOCKETS.dec()
            self.admitted = False
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Decode one client frame and act on it; problems become ``error`` events."""
        if self.chat_id is None or self.budget is None:
            return
        if not self.budget.take():
            rate = settings.WS_FRAME_RATE
            await self.send_error("too_many_frames", f"More than {rate:g} frames a second.")
            await self._end(CLOSE_TOO_MANY)
            return
        raw = text_data if text_data is not None else bytes_data or b""
        size = len(raw.encode("utf-8", "surrogatepass")) if isinstance(raw, str) else len(raw)
        if size > settings.WS_MAX_FRAME_BYTES:
            await self.send_error(
                "too_long", f"Frames are limited to {settings.WS_MAX_FRAME_BYTES:,} bytes."
            )
            return
        try:
            # orjson also refuses lone surrogates, which no database could store.
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            await self.send_error("bad_json", "Frames must be JSON objects.")
            return
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            await self.send_error("bad_request", 'Frames need a "type", such as "chat".')
            return
        handler = self.frames.get(data["type"])
        if handler is None:
            await self.send_error("unknown_type", f"Unknown type {data['type'][:40]!r}.")
            return
        # A turn's session is checked in the turn's own trip to the database.
        if data["type"] not in TURN_FRAMES and not await self._session_is_current():
            await self._end(CLOSE_SESSION_ENDED)
            return
        try:
            await handler(self, data)
        except SessionEnded:
            await self._end(CLOSE_SESSION_ENDED)
        except Exception as error:  # every failure is an error event; the socket stays
            failure = as_chat_error(error)
            await self.send_error(failure.code, failure.message, **failure.fields())

    # --- client frames: parse, then call the action ------------------------------------

    async def on_chat(self, data: dict[str, Any]) -> None:
        content = text_input(data.get("content", ""))
        await actions.turn_send(
            owner=self.owner,
            chat_id=self._chat_id(),
            content=content,
            attachments=attachment_ids(data.get("attachments")),
            address=self._address(),
            session=self._session(),
            persona=slug_input(data.get("persona"), required=False),
        )

    async def on_nudge(self, data: dict[str, Any]) -> None:
        await actions.turn_nudge(
            owner=self.owner,
            chat_id=self._chat_id(),
            persona=slug_input(data.get("persona")),
            address=self._address(),
            session=self._session(),
        )

    async def on_scene(self, data: dict[str, Any]) -> None:
        """``{"type": "scene", "personas": [...], "muted": [...], "activation": ...}``."""
        scene = scene_input(data)
        if not scene:
            raise BadRequest('Send "personas", "muted" or "activation".')
        await database_sync_to_async(actions.chat_set_scene)(
            owner=self.owner, chat_id=self._chat_id(), **scene
        )

    async def on_auto(self, data: dict[str, Any]) -> None:
        turns = number_input(data.get("turns"), what="turns", low=1)
        await actions.turn_auto(
            owner=self.owner, chat_id=self._chat_id(), turns=turns, address=self._address()
        )

    async def on_regenerate(self, data: dict[str, Any]) -> None:
        await actions.turn_regenerate(
            owner=self.owner,
            chat_id=self._chat_id(),
            address=self._address(),
            session=self._session(),
        )

    async def on_edit(self, data: dict[str, Any]) -> None:
        message_id = number_input(data.get("message_id"), what="message_id")
        content = text_input(data.get("content"))
        await actions.message_edit(
            owner=self.owner,
            chat_id=self._chat_id(),
            message_id=message_id,
            content=content,
            address=self._address(),
        )

    async def on_continue(self, data: dict[str, Any]) -> None:
        await actions.turn_continue(
            owner=self.owner,
            chat_id=self._chat_id(),
            address=self._address(),
            session=self._session(),
        )

    async def on_swipe(self, data: dict[str, Any]) -> None:
        message_id = number_input(data.get("message_id"), what="message_id")
        index = number_input(data.get("index"), what="index", low=0)
        await database_sync_to_async(actions.message_swipe)(
            owner=self.owner, chat_id=self._chat_id(), message_id=message_id, index=index
        )

    async def on_impersonate(self, data: dict[str, Any]) -> None:
        if self.draft is not None and not self.draft.done():
            await self.send_error("busy", "A draft is already being written.")
            return
        deltas = actions.impersonate(
            owner=self.owner, chat_id=self._chat_id(), address=self._address()
        )
        self.draft = asyncio.create_task(self._send_draft(deltas))

    async def _send_draft(self, deltas: AsyncIterator[str]) -> None:
        """Stream a draft to this connection only: ``draft`` events, then
        ``draft_complete`` with the whole text (or an ``error``)."""
        parts: list[str] = []
        try:
            async with aclosing(deltas):
                async for delta in deltas:
                    parts.append(delta)
                    await self.deliver("draft", {"content": delta})
        except asyncio.CancelledError:
            await self.deliver("draft_complete", {"content": "".join(parts), "stopped": True})
            raise
        except Exception as error:
            failure = as_chat_error(error)
            await self.send_error(failure.code, failure.message, **failure.fields())
            return
        await self.deliver("draft_complete", {"content": "".join(parts)})

    async def on_fork(self, data: dict[str, Any]) -> None:
        message_id = number_input(data.get("message_id"), what="message_id")
        fork = await database_sync_to_async(actions.chat_fork)(
            owner=self.owner, chat_id=self._chat_id(), message_id=message_id
        )
        await self.deliver("forked", {"chat_id": str(fork.pk), "title": fork.title})

    async def on_settings(self, data: dict[str, Any]) -> None:
        """``authors_note``, ``user_persona`` and ``auto_read`` frames: the chat's settings."""
        await database_sync_to_async(actions.chat_set_settings)(
            owner=self.owner, chat_id=self._chat_id(), **settings_input(data)
        )

    async def on_stop(self, data: dict[str, Any]) -> None:
        if self.draft is not None and not self.draft.done():
            self.draft.cancel()  # this connection's draft; a reply may be running too
            with contextlib.suppress(NotStreaming):
                await actions.turn_stop(owner=self.owner, chat_id=self._chat_id())
            return
        await actions.turn_stop(owner=self.owner, chat_id=self._chat_id())

    async def on_clear(self, data: dict[str, Any]) -> None:
        await database_sync_to_async(actions.chat_clear)(owner=self.owner, chat_id=self._chat_id())

    async def on_rename(self, data: dict[str, Any]) -> None:
        title = text_input(data.get("title"), what="A title")
        await database_sync_to_async(actions.chat_rename)(
            owner=self.owner, chat_id=self._chat_id(), title=title
        )

    async def on_greeting(self, data: dict[str, Any]) -> None:
        index = number_input(data.get("index"), what="index", low=-(10**6))
        await database_sync_to_async(actions.chat_choose_greeting)(
            owner=self.owner, chat_id=self._chat_id(), index=index
        )

    async def on_read_through(self, data: dict[str, Any]) -> None:
        slug = text_input(data.get("read_through"), what="read_through")
        await database_sync_to_async(actions.chat_set_read_through)(
            owner=self.owner, chat_id=self._chat_id(), read_through=slug
        )

    async def on_lorebooks(self, data: dict[str, Any]) -> None:
        ids = number_list(data.get("ids"), what="ids")
        await database_sync_to_async(actions.chat_set_lorebooks)(
            owner=self.owner, chat_id=self._chat_id(), book_ids=ids
        )

    async def on_delete(self, data: dict[str, Any]) -> None:
        """With a ``message_id``, delete that message; without one, the whole chat."""
        if "message_id" in data:
            message_id = number_input(data.get("message_id"), what="message_id")
            await database_sync_to_async(actions.message_delete)(
                owner=self.owner, chat_id=self._chat_id(), message_id=message_id
            )
            return
        await database_sync_to_async(actions.chat_delete)(owner=self.owner, chat_id=self._chat_id())

    async def on_ping(self, data: dict[str, Any]) -> None:
        await self.send_json({"type": "pong"})

    frames: dict[str, Callable[[ChatConsumer, dict[str, Any]], Awaitable[None]]] = {
        "chat": on_chat,
        "nudge": on_nudge,
        "auto": on_auto,
        "scene": on_scene,
        "regenerate": on_regenerate,
        "edit": on_edit,
        "continue": on_continue,
        "swipe": on_swipe,
        "impersonate": on_impersonate,
        "fork": on_fork,
        "authors_note": on_settings,
        "user_persona": on_settings,
        "auto_read": on_settings,
        "stop": on_stop,
        "clear": on_clear,
        "rename": on_rename,
        "greeting": on_greeting,
        "read_through": on_read_through,
        "lorebooks": on_lorebooks,
        "delete": on_delete,
        "ping": on_ping,
    }

    async def _welcome(self, chat: Any) -> None:
        snapshot = await chat_snapshot(chat)
        self.positions.snapshot(snapshot["messages"])
        await self.deliver("welcome", snapshot)

    async def _resync(self) -> None:
        """This connection missed events: send it the chat as it is now."""
        chat_id = self._chat_id()
        chat = await database_sync_to_async(chat_get_for_owner)(chat_id=chat_id, owner=self.owner)
        if chat is None:
            await self._end(CLOSE_NOT_FOUND)
            return
        await self._welcome(chat)

    # --- the session behind the socket ------------------------------------------------

    async def auth_check(self, message: dict[str, Any]) -> None:
        """The user logged out or changed their password somewhere: is this one still good?"""
        if self.chat_id is not None and not await self._session_is_current():
            await self._end(CLOSE_SESSION_ENDED)

    async def _end(self, code: int) -> None:
        self.chat_id = None
        await self.close(code=code)

    # --- group events, rendered for this client -------------------------------------

    async def relay(self, event: dict[str, Any]) -> None:
        """Send a group event to this client (or a fresh snapshot, if it missed some)."""
        if self.chat_id is None:
            return  # closed (deleted, session ended): still in the groups until it is gone
        kind = event["type"].removeprefix("chat.")
        if kind == "stream":
            verdict = self.positions.check(event["message_id"], event["seq"])
            if verdict == "stale":
                return
            if verdict == "missed":
                await self._resync()
                return
        elif kind == "ack" and event["reply"] is not None:
            self.positions.started(event["reply"]["id"])
        elif kind == "complete":
            self.positions.finished(event["message"]["id"])
        await self.deliver(kind, event)
        if kind == "deleted":
            await self._end(CLOSE_NOT_FOUND)

    async def deliver(self, kind: str, event: dict[str, Any]) -> None:
        """Render an event for this client: JSON, or HTML for the browser page."""
        if self.renderer is not None:
            html = await self.renderer.render(kind, event)
            if html is not None:
                await self.send(text_data=html)
        elif kind not in ("listed", "unlisted"):
            payload = {k: v for k, v in event.items() if k not in ("type", "eid", "at")}
            await self.send_json({"type": kind, **payload})

    async def send(
        self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False
    ) -> None:
        """Send a frame, unless the client has stopped reading: every frame (events,
        errors, pongs) goes through this check."""
        buffered = self.scope.get("stormchat.buffered_bytes")
        if buffered is not None and buffered() > settings.WS_MAX_BUFFERED_BYTES:
            # A client that stopped reading is dropped rather than buffered without
            # bound; it catches up from the snapshot when it reconnects.
            self.scope["stormchat.abort"]()
            return
        await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    async def send_json(self, payload: dict[str, Any]) -> None:
        await self.send(text_data=orjson.dumps(payload).decode())

    async def send_error(self, code: str, message: str, **fields: Any) -> None:
        """An ``error`` event for this client only; the socket stays open."""
        await self.send_json({"type": "error", "code": code, "message": message, **fields})


def _scene_choices(chat: Chat) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A page's scene: its members, and every active persona (who could join)."""
    return members_data(chat), [persona_data(p) for p in persona_list_active()]
