"""Reading an upstream at the pace we publish: after the first token the body is read at
most once per window, with nothing lost, stop still immediate and stalls still caught."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import uvloop

from chat.backends.base import ReadPace
from chat.backends.http import close_http_client, http_client
from chat.backends.transport import paced_body
from chat.errors import BackendTimeout
from tests.fakes.llm_server import Reply, paced

from .conftest import StartServer
from .test_http_backends import MESSAGES, OPTIONS, TOKENS, Flavour, collect, flavour

__all__ = ["flavour"]  # the fixture, shared with the backends' own tests

PIECES = [b"%02d," % i for i in range(40)]  # 40 chunks, 10 ms apart: 0.4 s of sending


async def read_all(url: str, pace: ReadPace) -> list[bytes]:
    async with http_client().stream("POST", url, json={}) as response:
        return [chunk async for chunk in paced_body(response, pace)]


async def test_a_paced_read_takes_everything_that_arrived_since_the_last(
    fake_llm: StartServer,
) -> None:
    server = await fake_llm(Reply(body=paced(PIECES, 0.01)))
    pace = ReadPace(0.5)
    pace.steady = True
    chunks = await read_all(server.url + "/", pace)
    assert b"".join(chunks) == b"".join(PIECES)
    assert len(chunks) <= 5  # a read per half-second window, not one per chunk
    assert pace.held  # so the run publishes each read at once (chat/runs.py)


async def test_a_paced_wait_ends_when_the_body_does(fake_llm: StartServer) -> None:
    """The last tokens are not held for the rest of a window: the body's end wakes the
    reader at once, so a reply completes as soon as its upstream has finished."""
    server = await fake_llm(Reply(body=paced(PIECES, 0.01)))
    pace = ReadPace(30.0)  # a window no test outlasts
    pace.steady = True
    chunks = await asyncio.wait_for(read_all(server.url + "/", pace), 10)
    assert b"".join(chunks) == b"".join(PIECES)
    assert len(chunks) == 2  # the first chunk, then everything else when the body ended


async def test_reads_are_paced_on_uvloop_too(fake_llm: StartServer) -> None:
    """daphne runs on uvloop, whose transports are not asyncio.Transport subclasses."""
    server = await fake_llm(Reply(body=paced(PIECES, 0.01)))

    async def read() -> list[bytes]:
        pace = ReadPace(0.5)
        pace.steady = True
        try:
            return await read_all(server.url + "/", pace)
        finally:
            await close_http_client()

    chunks = await asyncio.to_thread(uvloop.run, read())
    assert b"".join(chunks) == b"".join(PIECES)
    assert len(chunks) <= 5


async def test_before_the_first_token_every_chunk_is_read_as_it_arrives(
    fake_llm: StartServer,
) -> None:
    server = await fake_llm(Reply(body=paced(PIECES, 0.01)))
    pace = ReadPace(0.5)  # never steady
    chunks = await read_all(server.url + "/", pace)
    assert b"".join(chunks) == b"".join(PIECES)
    assert len(chunks) > 10
    assert not pace.held


async def test_a_body_that_cannot_be_held_back_is_read_as_it_comes() -> None:
    """Another transport (a test's mock) has no socket to pause: every chunk is read, and
    the pace says reads were not held, so the run keeps its own publishing timer."""

    async def body() -> AsyncIterator[bytes]:
        for piece in PIECES:
            yield piece

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body()))
    pace = ReadPace(0.5)
    pace.steady = True
    async with (
        httpx.AsyncClient(transport=transport) as client,
        client.stream("GET", "http://upstream.test/") as response,
    ):
        chunks = [chunk async for chunk in paced_body(response, pace)]
    assert chunks == PIECES
    assert not pace.held


async def test_paced_replies_arrive_whole(flavour: Flavour, fake_llm: StartServer) -> None:
    server = await fake_llm(flavour.reply(paced(flavour.wire(TOKENS * 5), 0.01)))
    deltas, summary = await collect(flavour.make(server.url, read_window=0.2))
    assert "".join(deltas) == "".join(TOKENS * 5)
    assert summary.finish_reason == "stop"


async def test_stopping_does_not_wait_for_the_window(
    flavour: Flavour, fake_llm: StartServer
) -> None:
    server = await fake_llm(flavour.reply(paced(flavour.wire(TOKENS * 20), 0.02)))
    first = asyncio.Event()

    async def consume() -> None:
        backend = flavour.make(server.url, read_window=30.0)  # a window no test outlasts
        async for _ in backend.stream(MESSAGES, OPTIONS):
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    await asyncio.wait_for(server.client_hung_up.wait(), 5)
    assert server.finished_replies == 0


async def test_a_stall_is_caught_while_reads_are_paced(
    flavour: Flavour, fake_llm: StartServer
) -> None:
    wire = flavour.wire(TOKENS)
    server = await fake_llm(flavour.reply([*wire[:3], 5.0, *wire[3:]]))
    with pytest.raises(BackendTimeout, match="next token"):
        await collect(flavour.make(server.url, idle=0.6, read_window=0.2))
    await asyncio.wait_for(server.client_hung_up.wait(), 3)
