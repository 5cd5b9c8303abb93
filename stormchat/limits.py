"""Fixed-window rate limits kept in Django's cache (Redis when REDIS_URL is set).

Each limit counts attempts per identity (an owner, an IP address) in windows of
``window`` seconds. Every attempt counts, allowed or not, so hammering a limit does not
shorten the wait. With Redis the count is shared by every daphne process; in memory it
is per process, which is right for the single-process default.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``count`` attempts per ``window`` seconds, for one kind of action."""

    scope: str
    count: int
    window: float


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether an attempt may go ahead and, if not, how many seconds until it may."""

    allowed: bool
    retry_after: int = 0


def limit_for(scope: str) -> Limit:
    """The configured limit for ``messages``, ``auth`` or ``chats``."""
    count, window = settings.RATE_LIMITS[scope]
    return Limit(scope, int(count), float(window))


def attempt(limit: Limit, identity: str) -> Decision:
    """Count one attempt by ``identity`` and decide whether it is within the limit."""
    if limit.count <= 0:
        return Decision(True)
    now = time.time()
    window_index = math.floor(now / limit.window)
    digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
    key = f"limit:{limit.scope}:{digest}:{window_index}"
    # add() creates the counter with the window's lifetime only if it is missing, so
    # concurrent first attempts don't reset each other; incr() is atomic in Redis.
    cache.add(key, 0, timeout=math.ceil(limit.window) + 1)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, timeout=math.ceil(limit.window) + 1)
        used = 1
    if used <= limit.count:
        return Decision(True)
    retry_after = max(1, math.ceil((window_index + 1) * limit.window - now))
    return Decision(False, retry_after)


def client_ip(request: HttpRequest) -> str:
    """The address limits are keyed by (REMOTE_ADDR; set by the proxy-aware server)."""
    return str(request.META.get("REMOTE_ADDR", "") or "unknown")
