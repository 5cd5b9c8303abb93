"""A fair queue for a backend that writes one reply at a time (the embedded model).

Waiters are served first come, first served. Each hears its place in line when it joins
and whenever the line moves (1 is next, 0 when its turn comes), so people can be told
"2nd in line". A waiter
that is cancelled (``stop``) leaves the line and the others move up.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

PositionCallback = Callable[[int], None]


@dataclass(slots=True)
class _Waiter:
    admitted: asyncio.Future[None]
    on_position: PositionCallback | None


class FairQueue:
    """One holder at a time; the rest wait in order."""

    def __init__(self) -> None:
        self._held = False
        self._line: deque[_Waiter] = deque()

    @property
    def busy(self) -> bool:
        """Whether someone holds the slot now."""
        return self._held

    @property
    def waiting(self) -> int:
        """How many are waiting for the slot."""
        return len(self._line)

    @asynccontextmanager
    async def slot(self, on_position: PositionCallback | None = None) -> AsyncIterator[None]:
        """Hold the slot for the body of the ``async with``, waiting in line for it."""
        if self._held or self._line:
            await self._wait(on_position)
        else:
            self._held = True
        try:
            yield
        finally:
            self._hand_on()

    async def _wait(self, on_position: PositionCallback | None) -> None:
        waiter = _Waiter(asyncio.get_running_loop().create_future(), on_position)
        self._line.append(waiter)
        if on_position is not None:
            on_position(len(self._line))
        try:
            await waiter.admitted
        except asyncio.CancelledError:
            if waiter.admitted.done() and not waiter.admitted.cancelled():
                self._hand_on()  # admitted just as it was cancelled: pass the slot on
            else:
                self._line.remove(waiter)
                self._announce()
            raise

    def _hand_on(self) -> None:
        """Give the slot to the next in line, or free it."""
        while self._line:
            waiter = self._line.popleft()
            if not waiter.admitted.done():
                waiter.admitted.set_result(None)
                if waiter.on_position is not None:
                    waiter.on_position(0)
                self._announce()
                return
        self._held = False

    def _announce(self) -> None:
        for place, waiter in enumerate(self._line, start=1):
            if waiter.on_position is not None:
                waiter.on_position(place)
