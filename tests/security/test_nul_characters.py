"""U+0000 from a person, a model, a card or an import is dropped, never a crash.

PostgreSQL cannot store it in text or jsonb; these run in CI's PostgreSQL pass too.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from chat.models import Chat, Message
from personas.card_services import persona_import_card
from tests.integration.conftest import Connect, sse_reply

pytestmark = pytest.mark.django_db(transaction=True)


async def test_nul_in_a_message_and_in_a_models_reply_is_dropped(
    owned_chat: tuple[Chat, str], connect: Connect, llm: Any
) -> None:
    await llm(sse_reply(["Bridge\u0000", " Four"]))
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="Hel\u0000lo")
    events = await client.receive_until("complete")
    assert events[0]["message"]["content"] == "Hello"
    assert events[-1]["message"]["content"] == "Bridge Four"
    assert await Message.objects.filter(chat=chat, content="Bridge Four").aexists()


def test_nul_in_titles_cards_and_imports_is_dropped(personas: Any) -> None:
    client = Client()
    client.get("/")
    made = client.post("/api/chats/", {"persona": "kaladin"}, content_type="application/json")
    chat_id = made.json()["id"]
    renamed = client.patch(
        f"/api/chats/{chat_id}/", {"title": "Storm\u0000light"}, content_type="application/json"
    )
    assert renamed.json()["title"] == "Stormlight"
    assert client.get("/chats/list/", {"q": "Storm\u0000"}).status_code == 200
    assert client.get("/api/chats/", {"q": "\u0000"}).status_code == 200
    assert client.post("/chats/new/", {"persona": "kal\u0000adin"}).status_code == 302
    card = {"spec": "chara_card_v2", "data": {"name": "Nul\u0000l", "first_mes": "Hi\u0000",
            "extensions": {"k\u0000": ["v\u0000"]}}}  # fmt: skip
    persona = persona_import_card(raw=json.dumps(card).encode())
    assert (persona.name, persona.greeting, persona.extensions) == ("Null", "Hi", {"k": ["v"]})
