"""Where a running reply lives while it streams: the shared live state.

Two things per reply. Its **text** so far, with the ``seq`` of the last batch published
(and its place in line while it waits for the embedded model): a snapshot taken by any
process is current to the last published batch, not to the last database flush. Its
**heartbeat**: refreshed by the run at least every second, it expires
``REPLY_HEARTBEAT_TTL`` seconds after the run stops refreshing it, which is how a living
process's sweep (chat/sweeping.py) knows a reply's process died.

With ``REDIS_URL`` both sit in Redis, and the text outlives a dead process (for an hour),
so the sweep can save what people saw. Without Redis they sit in this process's memory,
which is right for the single-process default: a reply not in memory was started by a
process that is gone.

Redis is used directly through redis-py's asyncio client rather than Django's cache,
whose async methods hop to a thread on every call: this is on the per-batch hot path.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from dataclasses import dataclass

import redis
import redis.asyncio as aioredis
from django.conf import settings

# Long enough for the sweep to find a dead process's reply and save its text.
LIVE_TEXT_TTL_SECONDS = 3600
TEXT_PREFIX = "stormchat:live-reply:"
BEAT_PREFIX = "stormchat:live-beat:"


@dataclass(frozen=True, slots=True)
class LiveReply:
    """A streaming reply's text so far, the ``seq`` of the last batch published, its
    place in line while it waits for the embedded model (0 once it is being written), and
    in a group scene the members queued to speak after it (slugs)."""

    message_id: int
    text: str
    seq: int
    position: int = 0
    queued: tuple[str, ...] = ()


# message id -> (reply, heartbeat expiry on the monotonic clock)
_memory: dict[int, tuple[LiveReply, float]] = {}
_redis_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
    weakref.WeakKeyDictionary()
)


def _redis() -> aioredis.Redis:
    loop = asyncio.get_running_loop()
    client = _redis_clients.get(loop)
    if client is None:
        client = aioredis.Redis.from_url(settings.REDIS_URL)
        _redis_clients[loop] = client
    return client


async def live_set(reply: LiveReply) -> None:
    """Publish the reply's current state for snapshots, and refresh its heartbeat."""
    ttl = settings.REPLY_HEARTBEAT_TTL
    if settings.REDIS_URL:
        value = json.dumps([reply.text, reply.seq, reply.position, list(reply.queued)])
        async with _redis().pipeline(transaction=False) as pipe:
            pipe.set(f"{TEXT_PREFIX}{reply.message_id}", value, ex=LIVE_TEXT_TTL_SECONDS)
            pipe.set(f"{BEAT_PREFIX}{reply.message_id}", b"1", ex=max(1, round(ttl)))
            await pipe.execute()
    else:
        _memory[reply.message_id] = (reply, time.monotonic() + ttl)


async def live_get(message_id: int) -> LiveReply | None:
    """The reply's live text, or None if no process has published any."""
    found = await live_texts([message_id])
    return found.get(message_id)


async def live_texts(message_ids: list[int]) -> dict[int, LiveReply]:
    """The live text of each of these replies that has one (even if its run died)."""
    if not message_ids:
        return {}
    if settings.REDIS_URL:
        values = await _redis().mget([f"{TEXT_PREFIX}{m}" for m in message_ids])
        found = {}
        for message_id, raw in zip(message_ids, values, strict=True):
            if raw is not None:
                # A process of the previous release wrote three fields.
                text, seq, position, *queued = json.loads(raw)
                found[message_id] = LiveReply(
                    message_id, text, seq, position, tuple(queued[0] if queued else ())
                )
        return found
    return {m: _memory[m][0] for m in message_ids if m in _memory}


async def live_beating(message_ids: list[int]) -> set[int]:
    """Which of these replies some process is still writing (its heartbeat is fresh)."""
    if not message_ids:
        return set()
    if settings.REDIS_URL:
        values = await _redis().mget([f"{BEAT_PREFIX}{m}" for m in message_ids])
        return {m for m, v in zip(message_ids, values, strict=True) if v is not None}
    now = time.monotonic()
    return {m for m in message_ids if m in _memory and _memory[m][1] >= now}


async def live_delete(message_id: int) -> None:
    """Forget the live state once the final text is in the database."""
    if settings.REDIS_URL:
        await _redis().delete(f"{TEXT_PREFIX}{message_id}", f"{BEAT_PREFIX}{message_id}")
    else:
        _memory.pop(message_id, None)


def live_ids(message_ids: list[int]) -> set[int]:
    """``live_beating`` for blocking code (the start-up reap and ``reap_generations``)."""
    if not message_ids:
        return set()
    if settings.REDIS_URL:
        with redis.Redis.from_url(settings.REDIS_URL) as client:
            values = client.mget([f"{BEAT_PREFIX}{m}" for m in message_ids])
        return {m for m, v in zip(message_ids, values, strict=True) if v is not None}
    now = time.monotonic()
    return {m for m in message_ids if m in _memory and _memory[m][1] >= now}
