from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable
from typing import Protocol

import pytest

from tests.fakes.llm_server import FakeLLMServer, Reply, Router


class StartServer(Protocol):
    def __call__(
        self, router: Router | Reply, tls: ssl.SSLContext | None = None
    ) -> Awaitable[FakeLLMServer]: ...


@pytest.fixture
async def fake_llm() -> AsyncIterator[StartServer]:
    """Start fake upstream servers on loopback; all are closed after the test."""
    servers: list[FakeLLMServer] = []

    async def start(router: Router | Reply, tls: ssl.SSLContext | None = None) -> FakeLLMServer:
        server = await FakeLLMServer(router, tls).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()
