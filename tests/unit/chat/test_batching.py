"""Requests that wait for the database thread together go to it in one trip."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from chat.batching import DatabaseBatch

# The trips go through Channels' database_sync_to_async, which tidies the thread's
# database connections before and after each call.
pytestmark = pytest.mark.django_db(transaction=True)


class Recorder:
    """A blocking ``handle_many`` that doubles numbers, refuses negative ones, and records
    each trip's requests; the first trip waits until the test lets it go."""

    def __init__(self) -> None:
        self.trips: list[list[int]] = []
        self.release = threading.Event()

    def __call__(self, numbers: Sequence[int]) -> list[int | Exception]:
        if not self.trips:
            self.release.wait(5)
        self.trips.append(list(numbers))
        return [ValueError(f"{n} is negative") if n < 0 else n * 2 for n in numbers]


async def test_requests_arriving_during_a_trip_go_together_in_the_next() -> None:
    recorder = Recorder()
    batch = DatabaseBatch(recorder)
    first = asyncio.create_task(batch(1))
    await asyncio.sleep(0.05)  # the first trip is under way, alone
    rest = [asyncio.create_task(batch(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0.05)
    recorder.release.set()

    assert await first == 2
    assert [await task for task in rest] == [4, 6, 8]
    assert recorder.trips == [[1], [2, 3, 4]]


async def test_a_request_asked_in_the_next_turn_of_the_loop_joins_the_first() -> None:
    # The frames of a burst are read a few sockets at a time: one loop turn apart.
    recorder = Recorder()
    recorder.release.set()
    batch = DatabaseBatch(recorder)

    async def next_turn(number: int) -> int:
        await asyncio.sleep(0)
        return await batch(number)

    assert await asyncio.gather(batch(1), next_turn(2)) == [2, 4]
    assert recorder.trips == [[1, 2]]


async def test_a_refused_request_fails_alone() -> None:
    recorder = Recorder()
    recorder.release.set()
    batch = DatabaseBatch(recorder)

    results = await asyncio.gather(batch(1), batch(-1), batch(3), return_exceptions=True)

    assert results[0] == 2
    assert results[2] == 6
    assert isinstance(results[1], ValueError)
    assert "negative" in str(results[1])


async def test_a_result_is_followed_up_even_when_its_caller_has_gone() -> None:
    recorder, followed = Recorder(), []
    batch = DatabaseBatch(recorder, then=followed.append)
    caller = asyncio.create_task(batch(5))
    await asyncio.sleep(0.05)
    caller.cancel()
    recorder.release.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
    async with asyncio.timeout(5):
        while not followed:
            await asyncio.sleep(0.01)

    assert followed == [10]


async def test_a_failed_trip_fails_each_of_its_requests() -> None:
    def broken(numbers: Sequence[int]) -> list[int | Exception]:
        if 3 not in numbers:
            raise ConnectionError("database gone")
        return [n * 2 for n in numbers]

    batch = DatabaseBatch(broken)

    results = await asyncio.gather(batch(1), batch(2), return_exceptions=True)

    assert all(isinstance(r, ConnectionError) for r in results)
    assert await batch(3) == 6  # the next trip goes ahead


async def test_what_callers_ask_next_joins_the_requests_of_its_kind() -> None:
    """A frame's session check, then its turn: the turns of a burst go in one trip even
    though the first frame's check came back before the others'."""
    checks, turns = Recorder(), Recorder()
    turns.release.set()
    check, turn = DatabaseBatch(checks), DatabaseBatch(turns)

    async def frame(n: int) -> int:
        await check(n)
        return await turn(n)

    first = asyncio.create_task(frame(1))
    await asyncio.sleep(0.05)  # the first check is under way, alone
    rest = [asyncio.create_task(frame(n)) for n in (2, 3)]
    await asyncio.sleep(0.05)
    checks.release.set()

    assert [await task for task in (first, *rest)] == [2, 4, 6]
    assert checks.trips == [[1], [2, 3]]
    assert turns.trips == [[1, 2, 3]]


async def test_kinds_take_turns_in_the_order_they_began_waiting() -> None:
    order: list[str] = []
    slow, other = Recorder(), Recorder()
    other.release.set()

    def kind(name: str, recorder: Recorder) -> DatabaseBatch[int, int]:
        def handle(numbers: Sequence[int]) -> list[int | Exception]:
            order.append(name)
            return recorder(numbers)

        return DatabaseBatch(handle)

    first_kind, second_kind = kind("first", slow), kind("second", other)
    blocker = asyncio.create_task(first_kind(1))
    await asyncio.sleep(0.05)
    waiting = [asyncio.create_task(second_kind(5)), asyncio.create_task(first_kind(2))]
    await asyncio.sleep(0.05)
    slow.release.set()

    assert await blocker == 2
    assert [await task for task in waiting] == [10, 4]
    assert order == ["first", "second", "first"]


async def test_a_failed_follow_up_fails_its_request_alone(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    recorder.release.set()

    def follow_up(doubled: int) -> None:
        if doubled == 4:
            raise RuntimeError("could not start")

    batch = DatabaseBatch(recorder, then=follow_up)
    results = await asyncio.gather(batch(1), batch(2), batch(3), return_exceptions=True)

    assert results[0] == 2
    assert isinstance(results[1], RuntimeError)
    assert results[2] == 6
    assert "follow-up failed" in caplog.text
