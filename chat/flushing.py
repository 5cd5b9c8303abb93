"""Saving streaming replies' text as they grow: one statement a second for the process.

Each run used to save its own reply once a second: one thread hop, one connection health
check and one UPDATE per streaming reply per second. With 200 replies streaming that was
200 trips to the database a second. Now runs only note their latest text here (a dict
write), and one flusher per event loop saves every noted reply in a single UPDATE each
STREAM_FLUSH_SECONDS. A reply's final text is saved by the run itself, and a flush never
overwrites a finished reply (it only touches rows still ``streaming``).
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from channels.db import database_sync_to_async
from django.conf import settings

from chat.services import replies_flush

logger = logging.getLogger(__name__)


class ReplyFlusher:
    """The latest unsaved text of each streaming reply, saved together periodically."""

    def __init__(self) -> None:
        self.pending: dict[int, str] = {}
        self.task: asyncio.Task[None] | None = None

    def note(self, message_id: int, text: str) -> None:
        """Remember the reply's text so far; it is saved within STREAM_FLUSH_SECONDS."""
        self.pending[message_id] = text
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(), name="reply-flusher")

    def forget(self, message_id: int) -> None:
        """The reply is finishing: its final save makes a flush of it pointless."""
        self.pending.pop(message_id, None)

    async def _run(self) -> None:
        while self.pending:
            await asyncio.sleep(settings.STREAM_FLUSH_SECONDS)
            texts, self.pending = self.pending, {}
            try:
                await database_sync_to_async(replies_flush)(texts=texts)
            except Exception:
                # The database is briefly unavailable: keep the newest text for next time.
                logger.exception("saving streaming replies failed; retrying")
                self.pending = texts | self.pending


_flushers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ReplyFlusher] = (
    weakref.WeakKeyDictionary()
)


def reply_flusher() -> ReplyFlusher:
    """The flusher of the running event loop (one per daphne process)."""
    loop = asyncio.get_running_loop()
    flusher = _flushers.get(loop)
    if flusher is None:
        flusher = _flushers[loop] = ReplyFlusher()
    return flusher
