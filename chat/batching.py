"""Requests that wait for the database thread together go to it together.

Every blocking database call from the event loop runs on one thread (Channels'
``database_sync_to_async``). When twenty people send a message in the same moment, twenty
turns would queue there one after another, each compiling and sending its own queries. A
``DatabaseBatch`` hands the thread everything that arrived while it was busy in one trip,
to a function that does the work of many requests at once: twenty turns in four queries
instead of eighty. A request that finds the thread idle goes one turn of the event loop
later, with whatever was asked in that turn (a burst of frames is read a few sockets at a
time), so nobody waits for a batch to fill.

All batches on an event loop share one line, as they share the one thread: while any
trip is under way, every request waits in the line, and each trip takes every waiting
request of one kind, the kind that has waited longest. After a trip the line lets the
callers it answered run first, so what they ask next (a frame's turn, after its session
check) joins the requests of its kind already waiting rather than going alone.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from channels.db import database_sync_to_async

logger = logging.getLogger(__name__)

In = TypeVar("In")
Out = TypeVar("Out")

# Strong references keep the draining tasks alive until they finish.
_draining: set[asyncio.Task[None]] = set()


@dataclass
class _Waiting(Generic[In, Out]):
    """A request, the future its caller awaits, and the caller's context."""

    request: In
    future: asyncio.Future[Out]
    context: contextvars.Context


@dataclass
class _Line:
    """The requests waiting on one event loop, by batch in the order each kind first
    arrived, and whether a trip is under way."""

    waiting: dict[DatabaseBatch[Any, Any], list[_Waiting[Any, Any]]] = field(default_factory=dict)
    busy: bool = False


_lines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Line] = weakref.WeakKeyDictionary()


class DatabaseBatch(Generic[In, Out]):
    """Calls of ``handle_many`` (blocking, on the database thread) for whatever requests
    are waiting. It returns one result per request, in order: a value, or the exception
    that request's caller raises. ``then`` runs on the event loop with each value before its
    caller hears of it, even when the caller has gone (a saved turn still gets its run)."""

    def __init__(
        self,
        handle_many: Callable[[Sequence[In]], list[Out | Exception]],
        then: Callable[[Out], Any] | None = None,
    ) -> None:
        self.handle_many = handle_many
        self.then = then

    async def __call__(self, request: In) -> Out:
        """This request's result, from the next trip to the database thread."""
        loop = asyncio.get_running_loop()
        line = _lines.setdefault(loop, _Line())
        future: asyncio.Future[Out] = loop.create_future()
        line.waiting.setdefault(self, []).append(
            _Waiting(request, future, contextvars.copy_context())
        )
        if not line.busy:
            line.busy = True
            task = loop.create_task(_drain(line), context=contextvars.Context())
            _draining.add(task)
            task.add_done_callback(_draining.discard)
        return await future

    async def serve(self, batch: list[_Waiting[In, Out]]) -> None:
        """One trip for these requests, then each caller's result."""
        results = await self._trip(batch)
        for waiting, result in zip(batch, results, strict=True):
            if not isinstance(result, Exception) and self.then is not None:
                try:
                    self.then(result)
                except Exception as error:  # its follow-up failed, and so does the request
                    logger.exception("a database batch's follow-up failed")
                    result = error
            if waiting.future.done():  # its caller was cancelled
                continue
            if isinstance(result, Exception):
                waiting.future.set_exception(result)
            else:
                waiting.future.set_result(result)

    async def _trip(self, batch: list[_Waiting[In, Out]]) -> list[Out | Exception]:
        """One call of ``handle_many``, made in the context of a caller still waiting: the
        thread that runs it is the one that caller's own database calls would use (a
        request's, under an async view or a test client), which is alive while it waits."""
        callers = [waiting.context for waiting in batch if not waiting.future.done()]
        handle = database_sync_to_async(self.handle_many)
        requests = [waiting.request for waiting in batch]
        trip = asyncio.get_running_loop().create_task(
            handle(requests), context=callers[0] if callers else contextvars.Context()
        )
        try:
            return await trip
        except Exception as error:  # the whole trip failed: so did each request
            return [error] * len(batch)


async def _drain(line: _Line) -> None:
    """Trips to the database thread until nobody is waiting: each takes every request of
    the kind that has waited longest, then the callers it answered run before the next."""
    serving: list[_Waiting[Any, Any]] = []
    try:
        await asyncio.sleep(0)  # the rest of a burst, read in this turn of the loop
        while line.waiting:
            batch = next(iter(line.waiting))
            serving = line.waiting.pop(batch)
            await batch.serve(serving)
            serving = []
            await asyncio.sleep(0)  # the callers just answered may ask again: let them
    finally:
        line.busy = False
        for waiting in [*serving, *(w for kind in line.waiting.values() for w in kind)]:
            if not waiting.future.done():  # the loop is shutting down
                waiting.future.cancel()
        line.waiting = {}
