"""Calls to a shared service that may be away for a while (Redis restarting).

A run must outlive an outage of the channel layer or the live store: it keeps reading the
backend and saving to the database, and resumes publishing when the service is back. An
``Outage`` wraps the calls to one service: a failed call is skipped instead of raised;
later calls are skipped until a backoff has passed (0.25 s, doubling to 5 s), so an
outage costs a few attempts rather than one per batch; and it is logged once when it
starts and once when it ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)
FIRST_DELAY = 0.25
MAX_DELAY = 5.0


class Outage:
    """The state of one service as one caller sees it: up, or down until ``retry_at``."""

    def __init__(self, name: str, log_context: dict[str, Any] | None = None) -> None:
        self.name = name
        self.log_context = log_context or {}
        self.down = False
        self.retry_at = 0.0
        self.delay = FIRST_DELAY

    def retry_now(self) -> None:
        """Let the next call try at once, whatever the backoff (for a last event)."""
        self.retry_at = 0.0

    async def call(self, function: Callable[..., Awaitable[Any]], *args: Any) -> bool:
        """Await ``function(*args)``; False if it failed or was skipped during an outage."""
        now = asyncio.get_running_loop().time()
        if self.down and now < self.retry_at:
            return False
        try:
            await function(*args)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if not self.down:
                logger.warning(
                    "%s unavailable (%s); retrying with backoff",
                    self.name,
                    error,
                    extra=self.log_context,
                )
            self.down = True
            self.retry_at = now + self.delay
            self.delay = min(self.delay * 2, MAX_DELAY)
            return False
        if self.down:
            logger.info("%s is back", self.name, extra=self.log_context)
            self.down, self.delay = False, FIRST_DELAY
        return True
