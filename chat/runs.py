"""A generation run: backend to group to database. No socket owns it.

The run streams the reply from the backend, coalesces deltas (the first goes out at once,
later ones in batches every STREAM_COALESCE_MS), keeps the live text and ``seq`` in the
live store for snapshots, publishes each batch to the chat's group as one ``chat.stream``
event, has the text saved about once a second (chat/flushing.py), and always ends with exactly
one ``chat.complete`` event, sent after the final text is saved. A ``stop`` from any
process reaches it through the chat's control group.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from contextlib import aclosing
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import BaseChannelLayer, get_channel_layer
from django.conf import settings

from chat.backends.base import GenerationSummary
from chat.backends.errors import BackendError
from chat.flushing import reply_flusher
from chat.live import LiveReply, chat_group, control_group, live_delete, live_set
from chat.models import Message
from chat.presenters import message_data
from chat.services import reply_finish
from chat.titles import title_chat
from chat.turns import PreparedTurn
from stormchat.text import without_nul

logger = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 1.0

# Strong references keep background tasks (runs, titles) alive until they finish.
_background: set[asyncio.Task[Any]] = set()


def _keep(task: asyncio.Task[Any]) -> None:
    """Hold the task until it is done, so the event loop cannot garbage-collect it."""
    _background.add(task)
    task.add_done_callback(_background.discard)


async def background_settled(seconds: float) -> None:
    """Wait (up to ``seconds``) for background runs and titles to finish: a process that
    is about to exit calls this so nothing it started is cut short."""
    pending = {task for task in _background if not task.done()}
    if pending:
        await asyncio.wait(pending, timeout=seconds)


def start_reply(prepared: PreparedTurn) -> asyncio.Task[None]:
    """Start writing the prepared reply in the background and return its task."""
    run = ReplyRun(prepared)
    task = asyncio.create_task(run.execute(), name=f"reply-{run.message_id}")
    _keep(task)
    return task


async def request_stop(chat_id: uuid.UUID) -> None:
    """Ask the run writing this chat's reply, in whichever process, to stop."""
    await get_channel_layer().group_send(control_group(chat_id), {"type": "run.stop"})


class ReplyRun:
    """One reply being written."""

    def __init__(self, prepared: PreparedTurn) -> None:
        self.prepared = prepared
        self.chat_id = prepared.chat_id
        self.message_id: int = prepared.turn.reply.pk
        self.layer: BaseChannelLayer = get_channel_layer()
        self.group = chat_group(self.chat_id)
        self.text = ""
        self.seq = 0
        self.pending: list[str] = []
        self.has_data = asyncio.Event()
        self.finished = False
        self.summary: GenerationSummary | None = None

    async def execute(self) -> None:
        """Run to the end, whatever happens, and finish the reply exactly once."""
        control = await self.layer.new_channel()
        await self.layer.group_add(control_group(self.chat_id), control)
        generate = asyncio.create_task(self._generate())
        stop = asyncio.create_task(self._wait_for_stop(control))
        status, error = Message.Status.COMPLETE, None
        try:
            await asyncio.wait({generate, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not generate.done():
                generate.cancel()
                status = Message.Status.CANCELLED
            await asyncio.gather(generate, return_exceptions=True)
            if status != Message.Status.CANCELLED:
                error = generate.exception()
        finally:
            stop.cancel()
            await self.layer.group_discard(control_group(self.chat_id), control)
        await self._finish(status, error)

    async def _wait_for_stop(self, control: str) -> None:
        while (await self.layer.receive(control)).get("type") != "run.stop":
            pass

    async def _generate(self) -> None:
        """Read the backend into ``pending`` while the publisher sends batches."""
        publisher = asyncio.create_task(self._publish_loop())
        backend, prepared = self.prepared.backend, self.prepared
        room = settings.MAX_REPLY_CHARS
        try:
            async with aclosing(backend.stream(prepared.prompt, prepared.options)) as stream:
                async for item in stream:
                    if isinstance(item, GenerationSummary):
                        self.summary = item
                        continue
                    # A runaway backend is cut off at MAX_REPLY_CHARS (closing upstream).
                    # NUL can't be stored (PostgreSQL), so it never enters the reply.
                    self.pending.append(without_nul(item[:room]))
                    self.has_data.set()
                    room -= len(item)
                    if room <= 0:
                        break
        finally:
            self.finished = True
            self.has_data.set()
            await asyncio.shield(publisher)

    async def _publish_loop(self) -> None:
        """Publish the first delta at once, then one batch per coalescing window."""
        window = settings.STREAM_COALESCE_MS / 1000
        flusher = reply_flusher()
        while True:
            # Under load a batch is nearly always waiting after the window: go straight
            # to it (wait_for made a task and a timer for every batch, ~6 % of S2's loop).
            if not self.has_data.is_set():
                try:
                    async with asyncio.timeout(HEARTBEAT_SECONDS):
                        await self.has_data.wait()
                except TimeoutError:
                    await live_set(LiveReply(self.message_id, self.text, self.seq))
                    continue
            self.has_data.clear()
            await self._publish()
            if self.finished:
                await self._publish()
                return
            flusher.note(self.message_id, self.text)
            await asyncio.sleep(window)

    async def _publish(self) -> None:
        """Send what is pending as one batch (split only if it is very large)."""
        if not self.pending:
            return
        text = "".join(self.pending)
        self.pending.clear()
        size = settings.STREAM_MAX_BATCH_CHARS
        for start in range(0, len(text), size):
            delta = text[start : start + size]
            self.text += delta
            self.seq += 1
            # Live state first: a client that joins the group after this send reads a
            # snapshot that already includes the batch, and one that joined before gets it.
            await live_set(LiveReply(self.message_id, self.text, self.seq))
            event = {"type": "chat.stream", "message_id": self.message_id, "seq": self.seq}
            await self.layer.group_send(self.group, {**event, "content": delta})

    async def _finish(self, status: Message.Status, error: BaseException | None) -> None:
        """Save the final reply, then tell every connection: error (if any), then complete."""
        error_text = ""
        if error is not None:
            status = Message.Status.FAILED
            code, error_text = _describe(error)
            await self.layer.group_send(
                self.group,
                {
                    "type": "chat.error",
                    "code": code,
                    "message": error_text,
                    "message_id": self.message_id,
                },
            )
        reply_flusher().forget(self.message_id)
        saved = await database_sync_to_async(reply_finish)(
            message_id=self.message_id,
            content=self.text,
            status=status,
            summary=self.summary,
            error=error_text,
        )
        await live_delete(self.message_id)
        data: dict[str, Any] = (
            message_data(saved)
            if saved is not None
            else {"id": self.message_id, "content": self.text, "status": status}
        )
        await self.layer.group_send(self.group, {"type": "chat.complete", "message": data})
        if self.prepared.wants_title and status == Message.Status.COMPLETE and self.text:
            self._title_later()

    def _title_later(self) -> None:
        """Title the chat in the background; the reply is already complete."""
        prepared, user = self.prepared, self.prepared.turn.user
        task = asyncio.create_task(
            title_chat(
                chat_id=self.chat_id,
                owner=prepared.owner,
                backend=prepared.backend,
                model=prepared.options.model,
                user_text=user.content if user else "",
                reply_text=self.text,
            )
        )
        _keep(task)


def _describe(error: BaseException) -> tuple[str, str]:
    """The code and human message of a failed run; unexpected errors are logged."""
    if isinstance(error, BackendError):
        return error.code, error.message
    logger.error("reply run failed", exc_info=error)
    return "internal_error", "Something went wrong while writing this reply."
