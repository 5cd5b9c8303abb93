from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.fakes.llm_server import FakeLLMServer, Reply, Router

StartServer = Callable[[Router | Reply], Awaitable[FakeLLMServer]]


@pytest.fixture
async def fake_llm() -> AsyncIterator[StartServer]:
    """Start fake upstream servers on loopback; all are closed after the test."""
    servers: list[FakeLLMServer] = []

    async def start(router: Router | Reply) -> FakeLLMServer:
        server = await FakeLLMServer(router).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()
