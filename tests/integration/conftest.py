"""Fixtures for driving the real ASGI application over WebSockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.backends.db import SessionStore
from pytest_django.fixtures import Settings

from chat.models import Chat
from chat.ownership import Owner
from chat.services import chat_create
from personas.models import Persona
from personas.services import personas_seed
from stormchat.application import build_application
from tests.fakes.llm_server import FakeLLMServer, Reply, Router, openai_sse, paced

application = build_application()
ORIGIN = (b"origin", b"http://localhost")


def new_session_key() -> str:
    session = SessionStore()
    session.create()
    return session.session_key  # type: ignore[return-value]


def chat_socket(
    chat_id: object, session_key: str, *, origin: bytes = b"http://localhost", html: bool = False
) -> WebsocketCommunicator:
    """A socket to a chat through the full ASGI stack, as a browser of that session opens it
    (``html``: the page's HTML fragments instead of the JSON protocol)."""
    communicator = WebsocketCommunicator(
        application,
        f"/ws/chats/{chat_id}/" + ("?format=html" if html else ""),
        headers=[
            (b"host", b"localhost"),
            (b"origin", origin),
            (b"cookie", f"sessionid={session_key}".encode()),
        ],
    )
    communicator.scope["client"] = ("127.0.0.1", 50000)  # as daphne fills it in
    return communicator


class Client:
    """One WebSocket connection, with helpers to read the protocol's events."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.ws = communicator

    async def send(self, **payload: Any) -> None:
        await self.ws.send_json_to(payload)

    async def receive(self, timeout: float = 10) -> dict[str, Any]:
        return await self.ws.receive_json_from(timeout=timeout)

    async def receive_until(self, kind: str, timeout: float = 15) -> list[dict[str, Any]]:
        """Every event up to and including the first of this type."""
        events = []
        async with asyncio.timeout(timeout):
            while True:
                event = await self.receive(timeout)
                events.append(event)
                if event["type"] == kind:
                    return events

    async def receive_nothing(self, seconds: float) -> list[dict[str, Any]]:
        """Whatever arrives within ``seconds`` (a test then checks what is not there)."""
        events = []
        while not await self.ws.receive_nothing(timeout=seconds):
            events.append(await self.receive())
        return events

    async def close(self) -> None:
        await self.ws.disconnect()


Connect = Callable[..., Awaitable[Client]]


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """Open WebSockets through the full ASGI stack (origin check, auth, sessions)."""
    clients: list[Client] = []

    async def open_client(
        chat_id: object, session_key: str, *, origin: bytes = b"http://localhost"
    ) -> Client:
        communicator = chat_socket(chat_id, session_key, origin=origin)
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        client = Client(communicator)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        await client.ws.disconnect()


@pytest.fixture
async def owned_chat(transactional_db: None) -> tuple[Chat, str]:
    """A Kaladin chat owned by a fresh anonymous session."""

    def make() -> tuple[Chat, str]:
        personas_seed()
        key = new_session_key()
        chat = chat_create(
            owner=Owner(session_key=key), persona=Persona.objects.get(slug="kaladin")
        )
        return chat, key

    return await sync_to_async(make)()


@pytest.fixture
async def llm(
    settings: Settings,
) -> AsyncIterator[Callable[[Router | Reply], Awaitable[FakeLLMServer]]]:
    """Point the site's default backend at a fake OpenAI-compatible server."""
    servers: list[FakeLLMServer] = []

    async def start(router: Router | Reply) -> FakeLLMServer:
        server = await FakeLLMServer(router).start()
        servers.append(server)
        settings.LLM_BACKEND = "openai"
        settings.LLM_BASE_URL = f"{server.url}/v1"
        settings.LLM_MODEL = "fake-model"
        settings.LLM_FIRST_TOKEN_TIMEOUT = 5
        settings.LLM_IDLE_TIMEOUT = 5
        return server

    yield start
    for server in servers:
        await server.close()


def sse_reply(tokens: list[str], delay: float = 0.0) -> Reply:
    """An OpenAI stream of these tokens, optionally paced."""
    wire = openai_sse(tokens)
    return Reply(body=paced(wire, delay) if delay else list(wire))
