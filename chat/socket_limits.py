"""What one WebSocket, and one owner's sockets, may cost the server.

A socket gets a frame budget (a token bucket: ``WS_FRAME_RATE`` frames a second, bursts
of ``WS_FRAME_BURST``); past it the client is told ``too_many_frames`` and the socket is
closed with 4429. An owner (a user or an anonymous session) may hold at most
``WS_MAX_SOCKETS_PER_OWNER`` sockets in one server process; the next one is told
``too_many_sockets`` and closed with 4429.
"""

from __future__ import annotations

import time
from collections import Counter

from django.conf import settings

CLOSE_TOO_MANY = 4429

_open: Counter[str] = Counter()


class FrameBudget:
    """A token bucket for one socket's incoming frames."""

    def __init__(self) -> None:
        self.rate = settings.WS_FRAME_RATE
        self.tokens = float(settings.WS_FRAME_BURST)
        self.updated = time.monotonic()

    def take(self) -> bool:
        """Spend one frame; False once the socket is over its budget."""
        now = time.monotonic()
        burst = settings.WS_FRAME_BURST
        self.tokens = min(burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def socket_admit(identity: str) -> bool:
    """Count a new socket of this owner, unless the owner already has as many as allowed."""
    if _open[identity] >= settings.WS_MAX_SOCKETS_PER_OWNER:
        return False
    _open[identity] += 1
    return True


def socket_release(identity: str) -> None:
    """Forget one of this owner's sockets."""
    _open[identity] -= 1
    if _open[identity] <= 0:
        del _open[identity]
