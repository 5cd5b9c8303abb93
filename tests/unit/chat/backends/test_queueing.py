"""The embedded model's fair line: order, places heard, and leaving it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from chat.backends.queueing import FairQueue


async def hold(
    queue: FairQueue, name: str, log: list[str], places: list[int], go: asyncio.Event
) -> None:
    async with queue.slot(places.append):
        log.append(name)
        await go.wait()


@dataclass
class Line:
    """Holders a, b and c, joined in that order; each holds the slot until its gate opens."""

    queue: FairQueue = field(default_factory=FairQueue)
    log: list[str] = field(default_factory=list)
    places: dict[str, list[int]] = field(default_factory=lambda: {n: [] for n in "abc"})
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    async def join(self) -> None:
        for name in "abc":
            self.gates[name] = asyncio.Event()
            hold_slot = hold(self.queue, name, self.log, self.places[name], self.gates[name])
            self.tasks[name] = asyncio.create_task(hold_slot)
            await asyncio.sleep(0)


async def test_waiters_are_served_in_order_and_hear_the_line_move() -> None:
    line = Line()
    await line.join()
    queue, log, places, gates, tasks = line.queue, line.log, line.places, line.gates, line.tasks
    assert (queue.busy, queue.waiting) == (True, 2)
    for name in "abc":
        gates[name].set()
        await tasks[name]
    assert log == ["a", "b", "c"]
    assert places == {"a": [], "b": [1, 0], "c": [2, 1, 0]}
    assert (queue.busy, queue.waiting) == (False, 0)


async def test_a_cancelled_waiter_leaves_the_line_and_the_rest_move_up() -> None:
    line = Line()
    await line.join()
    queue, log, places, gates, tasks = line.queue, line.log, line.places, line.gates, line.tasks
    tasks["b"].cancel()
    await asyncio.gather(tasks["b"], return_exceptions=True)
    assert places["c"] == [2, 1]  # moved up when b left
    assert queue.waiting == 1
    gates["a"].set()
    gates["c"].set()
    await asyncio.gather(tasks["a"], tasks["c"])
    assert log == ["a", "c"]
    assert not queue.busy


async def test_a_holder_that_fails_still_hands_the_slot_on() -> None:
    queue = FairQueue()

    async def fail() -> None:
        async with queue.slot():
            raise RuntimeError("model crashed")

    first = asyncio.create_task(fail())
    await asyncio.sleep(0)
    second_places: list[int] = []
    async with asyncio.timeout(5):
        await asyncio.gather(first, return_exceptions=True)
        async with queue.slot(second_places.append):
            assert queue.busy
    assert not queue.busy
