"""Every process sweeps for replies whose process died, and heals them.

A run refreshes its reply's heartbeat every second (chat/live.py). Every
REPLY_SWEEP_SECONDS, each process reads the replies still ``streaming`` (one indexed
query), leaves out those it is writing itself and those started less than a heartbeat's
lifetime ago, and asks the live store which of the rest still have a heartbeat. A reply
found without one by two sweeps in a row belongs to a dead process: it is interrupted,
keeping the text people saw, and its pages are told (``actions.replies_reap``). Two sweeps,
not one, because a Redis that restarted has lost every heartbeat for a moment, until the
living runs refresh theirs.

While the live store is down the sweep does nothing (it could not tell the living from
the dead) and says so once.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from datetime import timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from chat import actions, metrics
from chat.live import live_beating
from chat.runs import running_here
from chat.selectors import replies_streaming_since

logger = logging.getLogger(__name__)


class Sweeper:
    """One process's sweep: what the last sweep found without a heartbeat."""

    def __init__(self) -> None:
        self.missing: set[int] = set()
        self.failing = False

    async def run_forever(self) -> None:
        """Sweep every REPLY_SWEEP_SECONDS until the process ends."""
        while True:
            await asyncio.sleep(settings.REPLY_SWEEP_SECONDS)
            try:
                await self.sweep()
            except Exception:
                if not self.failing:
                    logger.warning("reply sweep failed; retrying", exc_info=True)
                self.failing = True
            else:
                if self.failing:
                    logger.info("reply sweep working again")
                self.failing = False

    async def sweep(self) -> list[int]:
        """One sweep; returns the ids of the replies it interrupted."""
        metrics.SWEEPS.inc()
        grace = timedelta(seconds=settings.REPLY_HEARTBEAT_TTL)
        started_before = timezone.now() - grace
        candidates = await database_sync_to_async(replies_streaming_since)(before=started_before)
        candidates = [c for c in candidates if c not in running_here()]
        missing = set(candidates) - await live_beating(candidates)
        confirmed, self.missing = missing & self.missing, missing
        if not confirmed:
            return []
        marked = await database_sync_to_async(actions.replies_reap)(message_ids=sorted(confirmed))
        self.missing -= confirmed
        metrics.SWEPT.inc(len(marked))
        if marked:
            logger.info(
                "interrupted %d orphaned repl%s", len(marked), "y" if len(marked) == 1 else "ies"
            )
        return [m.pk for m in marked]


# The sweep task of each event loop (a process has one; tests make several).
_sweepers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = (
    weakref.WeakKeyDictionary()
)


def start_sweeper() -> None:
    """Start this process's sweep on the running event loop, unless it is running."""
    loop = asyncio.get_running_loop()
    task = _sweepers.get(loop)
    if task is None or task.done():
        _sweepers[loop] = loop.create_task(Sweeper().run_forever(), name="reply-sweeper")
        logger.info("sweeping for orphaned replies every %g s", settings.REPLY_SWEEP_SECONDS)


class SweepingApplication:
    """An ASGI application that makes sure its process sweeps (from the first call on)."""

    def __init__(self, app: object) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: object, send: object) -> object:
        """Start the sweeper if needed, then serve."""
        loop = asyncio.get_running_loop()
        if loop not in _sweepers:
            start_sweeper()
        return await self.app(scope, receive, send)  # type: ignore[operator]
