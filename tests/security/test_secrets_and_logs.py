"""API keys never leave the server, and logs hold no message text unless debugging."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings

from chat.models import Chat
from personas.models import Persona
from tests.integration.conftest import Connect, sse_reply

pytestmark = pytest.mark.django_db(transaction=True)
KEY = "sk-live-SUPERSECRET-0123456789abcdef"
PHRASE = "my bridge four secret phrase"


def every_page(chat: Chat, session_key: str) -> list[str]:
    visitor = Client()
    visitor.cookies["sessionid"] = session_key
    admin = User.objects.create_superuser("root", "root@example.com", "pw-for-tests-only")
    staff = Client()
    staff.force_login(admin)
    persona = Persona.objects.get(slug="kaladin")
    responses = [
        visitor.get("/"),
        visitor.get(f"/chats/{chat.pk}/"),
        visitor.get("/api/personas/"),
        visitor.get(f"/api/chats/{chat.pk}/"),
        visitor.get("/health"),
        staff.get("/admin/personas/persona/"),
        staff.get(f"/admin/personas/persona/{persona.pk}/change/"),
        staff.get("/admin/chat/chat/"),
    ]
    # /health may say 503 (no Redis here); it must still not leak the key.
    assert [r.status_code for i, r in enumerate(responses) if i != 4] == [200] * 7
    return [r.content.decode() for r in responses]


async def test_the_api_key_is_used_but_never_shown_or_logged(
    owned_chat: tuple[Chat, str],
    connect: Connect,
    llm: Any,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = await llm(sse_reply(["Honor ", "is ", "dead."]))
    settings.LLM_API_KEY = KEY
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    events = [await client.receive()]
    await client.send(type="chat", content="Hello")
    events += await client.receive_until("complete")

    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in repr(events)
    pages = await sync_to_async(every_page)(chat, key)
    assert all(KEY not in page for page in pages)
    assert "Uses an API key" in pages[5]  # the admin says a key is in use...
    assert 'alt="True"' in pages[5]  # ...for this persona's backend
    assert all(KEY not in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(("level", "logged"), [(logging.INFO, False), (logging.DEBUG, True)])
async def test_message_text_reaches_the_logs_only_with_debug_logging(
    owned_chat: tuple[Chat, str],
    connect: Connect,
    llm: Any,
    caplog: pytest.LogCaptureFixture,
    level: int,
    logged: bool,
) -> None:
    await llm(sse_reply(["Noted."]))
    caplog.set_level(level)
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content=PHRASE)
    await client.receive_until("complete")
    await client.send(type="chat", content=PHRASE + " " + "x" * 9000)  # refused: too long
    await client.receive_until("error")
    assert any(PHRASE in r.getMessage() for r in caplog.records) is logged
