"""Chat pages, fragments and API answers are never kept by a browser or proxy cache."""

from __future__ import annotations

import pytest
from django.test import Client

from chat import actions
from chat.ownership import Owner
from personas.models import Persona

pytestmark = pytest.mark.django_db


def test_private_answers_say_private_no_store(client: Client, kaladin: Persona) -> None:
    client.post("/chats/new/", {"persona": "kaladin"})
    owner = Owner(session_key=client.session.session_key)
    chat = actions.chat_create(owner=owner, persona=kaladin)
    urls = [
        f"/chats/{chat.pk}/",
        f"/chats/{chat.pk}/older/?before=2",
        "/chats/list/",
        "/api/chats/",
        f"/api/chats/{chat.pk}/",
        "/api/personas/",
        "/api/chats/not-a-chat/",  # errors too
        "/accounts/login/",
    ]
    for url in urls:
        response = client.get(url)
        assert response["Cache-Control"] == "private, no-store", url


def test_the_public_gallery_may_be_cached_by_the_browser(client: Client, kaladin: Persona) -> None:
    assert "no-store" not in client.get("/").get("Cache-Control", "")
