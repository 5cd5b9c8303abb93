"""XSS: hostile text from a model or in persona fields never becomes active HTML."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import Client

from chat.models import Chat
from personas.models import Persona
from tests.integration.conftest import chat_socket, sse_reply

from .html_check import PAYLOADS, active_content

pytestmark = pytest.mark.django_db(transaction=True)
PERSONA_TEXT_FIELDS = [
    "name", "epithet", "tagline", "system_prompt", "scenario", "greeting", "example_dialogue",
]  # fmt: skip


def test_the_corpus_is_large_and_the_inspector_sees_the_danger_in_it_raw() -> None:
    assert len(PAYLOADS) >= 30
    # As raw HTML (what a careless page would emit) nearly every payload is active.
    assert sum(bool(active_content(p)) for p in PAYLOADS) >= 30


def test_our_own_pages_are_clean(client: Client, personas: list[Persona]) -> None:
    assert active_content(client.get("/").content.decode()) == []


def page_for(session_key: str, path: str) -> str:
    client = Client()
    client.cookies["sessionid"] = session_key
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_a_hostile_model_reply_is_inert_live_and_saved(
    payload: str, owned_chat: tuple[Chat, str], llm: Any
) -> None:
    await llm(sse_reply([payload[: len(payload) // 2], payload[len(payload) // 2 :]]))
    chat, key = owned_chat
    ws = chat_socket(chat.pk, key, html=True)
    assert (await ws.connect())[0]
    fragments = [await ws.receive_from(10)]
    await ws.send_json_to({"type": "chat", "content": payload})
    while 'data-event="complete"' not in fragments[-1]:
        fragments.append(await ws.receive_from(10))
    await ws.disconnect()

    for fragment in fragments:
        assert active_content(fragment) == [], fragment
    page = await sync_to_async(page_for)(key, f"/chats/{chat.pk}/")
    assert active_content(page) == []


def admin_pages(persona: Persona) -> list[str]:
    staff = Client()
    staff.force_login(User.objects.get(username="root"))
    return [
        staff.get(f"/admin/personas/persona/{persona.pk}/change/").content.decode(),
        staff.get("/admin/personas/persona/").content.decode(),
    ]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_hostile_persona_fields_are_inert_everywhere(payload: str, personas: list[Persona]) -> None:
    User.objects.create_superuser("root", "root@example.com", "pw-for-tests-only")
    persona = Persona.objects.get(slug="kaladin")
    # The admin brings its own scripts and icons: compare against its pages before.
    admin_before = [sorted(active_content(html)) for html in admin_pages(persona)]
    for field in PERSONA_TEXT_FIELDS:
        limit = Persona._meta.get_field(field).max_length
        setattr(persona, field, payload[:limit] if limit else payload)
    persona.save()

    visitor = Client()
    gallery = visitor.get("/").content.decode()
    chat_page = visitor.post("/chats/new/", {"persona": "kaladin"}, follow=True)

    assert chat_page.status_code == 200
    assert active_content(gallery) == []
    assert active_content(chat_page.content.decode()) == []
    assert [sorted(active_content(html)) for html in admin_pages(persona)] == admin_before
