"""Where a running reply lives while it streams: the shared live state.

The live state (text so far and its ``seq``) sits in Redis when ``REDIS_URL`` is set, so a
snapshot taken by any process is current to the last published batch, not to the last
database flush; without Redis it sits in this process's memory. It doubles as the run's
heartbeat: the reaper treats a streaming reply with no live state as orphaned.

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

# Long enough to outlive a slow first token between heartbeats, short enough that a dead
# process's replies are reaped soon after.
LIVE_TTL_SECONDS = 15
KEY_PREFIX = "stormchat:live-reply:"


@dataclass(frozen=True, slots=True)
class LiveReply:
    """A streaming reply's text so far, the ``seq`` of the last batch published, and its
    place in line while it waits for the embedded model (0 once it is being written)."""

    message_id: int
    text: str
    seq: int
    position: int = 0


_memory: dict[int, tuple[str, int, int, float]] = {}
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
    """Publish the reply's current state for snapshots (and refresh its heartbeat)."""
    if settings.REDIS_URL:
        value = json.dumps([reply.text, reply.seq, reply.position])
        await _redis().set(f"{KEY_PREFIX}{reply.message_id}", value, ex=LIVE_TTL_SECONDS)
    else:
        expires = time.monotonic() + LIVE_TTL_SECONDS
        _memory[reply.message_id] = (reply.text, reply.seq, reply.position, expires)


async def live_get(message_id: int) -> LiveReply | None:
    """The reply's live state, or None if no process is writing it."""
    if settings.REDIS_URL:
        raw = await _redis().get(f"{KEY_PREFIX}{message_id}")
        if raw is None:
            return None
        text, seq, position = json.loads(raw)
        return LiveReply(message_id, text, seq, position)
    entry = _memory.get(message_id)
    if entry is None or entry[3] < time.monotonic():
        return None
    return LiveReply(message_id, *entry[:3])


async def live_delete(message_id: int) -> None:
    """Forget the live state once the final text is in the database."""
    if settings.REDIS_URL:
        await _redis().delete(f"{KEY_PREFIX}{message_id}")
    else:
        _memory.pop(message_id, None)


def live_ids(message_ids: list[int]) -> set[int]:
    """Which of these replies some process is still writing (sync, for the reaper)."""
    if not message_ids:
        return set()
    if settings.REDIS_URL:
        with redis.Redis.from_url(settings.REDIS_URL) as client:
            values = client.mget([f"{KEY_PREFIX}{m}" for m in message_ids])
        return {m for m, v in zip(message_ids, values, strict=True) if v is not None}
    now = time.monotonic()
    return {m for m in message_ids if m in _memory and _memory[m][3] >= now}
