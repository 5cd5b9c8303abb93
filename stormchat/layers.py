"""The single-process channel layer: channels' in-memory layer without its per-call costs.

``channels.layers.InMemoryChannelLayer`` walks every channel and every group membership
on each ``receive`` and ``group_send`` to expire old entries, starts one task per member
for each ``group_send``, deep-copies every message for every member, and builds a new
queue whenever a channel's queue drains. With 200 streaming chats that was a large share
of the server's CPU (bench S2, README "Performance"). This layer keeps the semantics
(capacity, message expiry, group expiry, a private copy of each message for each
receiver) but expires entries once a second, sends inline, copies only what could be
shared, and keeps a queue while its channel is in a group or being waited on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from copy import deepcopy
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer

_IMMUTABLE = (str, int, float, bool, bytes, type(None))
CLEAN_INTERVAL_SECONDS = 1.0


def _private_copy(message: dict[str, Any]) -> dict[str, Any]:
    """A copy the receiver may change freely: shallow when every value is immutable."""
    if all(isinstance(value, _IMMUTABLE) for value in message.values()):
        return dict(message)
    return deepcopy(message)


class LocalChannelLayer(InMemoryChannelLayer):
    """In-process channels and groups, for one daphne process (no REDIS_URL)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.channels: dict[str, asyncio.Queue[tuple[float, dict[str, Any]]]] = {}
        self.groups: dict[str, dict[str, float]] = {}
        self._memberships: Counter[str] = Counter()
        self._waiters: Counter[str] = Counter()
        self._next_clean = 0.0

    # --- channels ---------------------------------------------------------------------

    async def new_channel(self, prefix: str = "specific.") -> str:
        """A fresh channel name (from os.urandom, so no seeding of ``random`` repeats it)."""
        return f"{prefix}.inmemory!{uuid.uuid4().hex}"

    def _queue(self, channel: str) -> asyncio.Queue[tuple[float, dict[str, Any]]]:
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
        return queue

    def _forget_if_idle(self, channel: str) -> None:
        """Drop a channel's queue once nothing is queued, waiting or subscribed."""
        if self._memberships[channel] or self._waiters[channel]:
            return
        self._memberships.pop(channel, None)
        self._waiters.pop(channel, None)
        queue = self.channels.get(channel)
        if queue is not None and queue.empty():
            del self.channels[channel]

    def _put(self, channel: str, message: dict[str, Any]) -> None:
        try:
            self._queue(channel).put_nowait((time.time() + self.expiry, _private_copy(message)))
        except asyncio.QueueFull:
            raise ChannelFull(channel) from None

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        """Queue a message on one channel."""
        assert isinstance(message, dict), "message is not a dict"
        assert "__asgi_channel__" not in message
        self.require_valid_channel_name(channel)
        self._put(channel, message)

    async def receive(self, channel: str) -> dict[str, Any]:
        """The next message on the channel (waiting for one)."""
        self.require_valid_channel_name(channel)
        self._clean_expired()
        queue = self._queue(channel)
        self._waiters[channel] += 1
        try:
            _expires, message = await queue.get()
        finally:
            self._waiters[channel] -= 1
            self._forget_if_idle(channel)
        return message

    # --- groups -----------------------------------------------------------------------

    async def group_add(self, group: str, channel: str) -> None:
        """Add the channel to the group (again: refresh its join time)."""
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        members = self.groups.setdefault(group, {})
        if channel not in members:
            self._memberships[channel] += 1
        members[channel] = time.time()

    async def group_discard(self, group: str, channel: str) -> None:
        """Remove the channel from the group."""
        self.require_valid_channel_name(channel)
        self.require_valid_group_name(group)
        self._leave(group, channel)
        self._forget_if_idle(channel)

    def _leave(self, group: str, channel: str) -> None:
        members = self.groups.get(group)
        if members is None or members.pop(channel, None) is None:
            return
        self._memberships[channel] -= 1
        if not members:
            del self.groups[group]

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        """Queue a message for every member; a full member misses it, as in channels."""
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            with contextlib.suppress(ChannelFull):
                self._put(channel, message)

    # --- expiry -----------------------------------------------------------------------

    def _clean_expired(self) -> None:
        """Expire old messages (and their channels' memberships) and old memberships,
        at most once per interval."""
        now = time.monotonic()
        if now < self._next_clean:
            return
        self._next_clean = now + CLEAN_INTERVAL_SECONDS
        wall = time.time()
        for channel, queue in list(self.channels.items()):
            expired = False
            while not queue.empty() and queue._queue[0][0] < wall:  # type: ignore[attr-defined]
                queue.get_nowait()
                expired = True
            if expired:
                # A channel that let a message expire is gone: as in channels, it leaves
                # every group.
                for group in list(self.groups):
                    self._leave(group, channel)
                self._forget_if_idle(channel)
        oldest = wall - self.group_expiry
        for group, members in list(self.groups.items()):
            for channel, joined in list(members.items()):
                if joined < oldest:
                    self._leave(group, channel)
                    self._forget_if_idle(channel)

    async def flush(self) -> None:
        """Forget every channel and group."""
        self.channels, self.groups = {}, {}
        self._memberships.clear()
        self._waiters.clear()
