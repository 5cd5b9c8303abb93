"""A deadline for waiting on a stream that costs nothing to push back."""

from __future__ import annotations

import asyncio


class Watchdog:
    """Cancels the task waiting on a stream once ``deadline`` (loop time) passes.

    ``asyncio.timeout_at`` around every token cost about 7 µs a token (a context manager
    and a timer each time). Here moving the deadline is one attribute write, and the one
    timer re-arms itself only when it fires early. It only ever cancels a task that is
    waiting for the stream, never the caller's own code between tokens.
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        self.waiting = False
        self.fired = False
        self.handle: asyncio.TimerHandle | None = None

    def wait_begins(self) -> bool:
        """Start a wait; False if the deadline has already passed."""
        if self.handle is None:
            if self.loop.time() >= self.deadline:
                return False
            self.handle = self.loop.call_at(self.deadline, self._check)
        self.waiting = True
        return True

    def wait_ends(self) -> None:
        """The awaited item arrived (or the wait ended some other way)."""
        self.waiting = False

    def _check(self) -> None:
        self.handle = None
        if self.loop.time() < self.deadline:
            self.handle = self.loop.call_at(self.deadline, self._check)
        elif self.waiting and self.task is not None:
            self.fired = True
            self.task.cancel()

    def expired(self) -> bool:
        """Whether a CancelledError being handled is ours (and not also someone else's)."""
        if not self.fired or self.task is None:
            return False
        self.fired = False
        return self.task.uncancel() == 0

    def disarm(self) -> None:
        """Stop watching."""
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
