"""The HTTP JSON API: personas, chats, one chat; ownership and CSRF."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client

from chat.models import Chat, Message
from personas.models import Persona

pytestmark = pytest.mark.django_db


def post_json(client: Client, url: str, data: object, **extra: str) -> object:
    return client.post(url, json.dumps(data), content_type="application/json", **extra)


def new_chat(client: Client, slug: str = "kaladin") -> dict:
    response = post_json(client, "/api/chats/", {"persona": slug})
    assert response.status_code == 201, response.content
    return response.json()


def test_personas_lists_the_active_ones_without_prompts(client: Client, personas: list) -> None:
    Persona.objects.filter(slug="wit").update(is_active=False)
    data = client.get("/api/personas/").json()["personas"]
    slugs = [p["slug"] for p in data]
    assert slugs[0] == "kaladin"
    assert "wit" not in slugs
    assert "system_prompt" not in data[0]
    assert set(data[0]) >= {"name", "epithet", "tagline", "avatar_url", "accent_color"}


def test_creating_a_chat_returns_201_with_the_greeting(client: Client, personas: list) -> None:
    chat = new_chat(client)
    assert chat["id"]
    assert chat["persona"]["slug"] == "kaladin"
    [greeting] = chat["messages"]
    assert greeting["role"] == "assistant"
    assert greeting["status"] == "complete"
    assert greeting["content"].startswith("*Kaladin looks up")


@pytest.mark.parametrize("body", [{}, {"persona": "hoid"}, {"persona": 3}, [1], "junk"])
def test_creating_with_a_bad_persona_is_a_clear_400(
    client: Client, personas: list, body: object
) -> None:
    response = post_json(client, "/api/chats/", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_persona"


def test_listing_is_newest_first_and_paginated(client: Client, personas: list) -> None:
    ids = [new_chat(client)["id"] for _ in range(5)]
    first = client.get("/api/chats/", {"limit": 2}).json()
    assert [c["id"] for c in first["chats"]] == ids[::-1][:2]
    assert first["next_offset"] == 2
    rest = client.get("/api/chats/", {"limit": 10, "offset": 2}).json()
    assert [c["id"] for c in rest["chats"]] == ids[::-1][2:]
    assert rest["next_offset"] is None


def test_reading_renaming_and_deleting_a_chat(client: Client, personas: list) -> None:
    chat_id = new_chat(client)["id"]
    url = f"/api/chats/{chat_id}/"
    detail = client.get(url).json()
    assert detail["messages"][0]["role"] == "assistant"
    renamed = client.patch(url, json.dumps({"title": "  On the   Plains "}), "application/json")
    assert renamed.json()["title"] == "On the Plains"
    assert client.delete(url).status_code == 200
    assert client.get(url).status_code == 404
    assert not Chat.objects.filter(pk=chat_id).exists()


def test_detail_pages_backwards_through_long_chats(client: Client, personas: list) -> None:
    chat_id = new_chat(client)["id"]
    chat = Chat.objects.get(pk=chat_id)
    Message.objects.bulk_create(
        Message(chat=chat, role="user", content=f"m{i}", position=i) for i in range(2, 302)
    )
    newest = client.get(f"/api/chats/{chat_id}/", {"limit": 100}).json()
    assert [m["position"] for m in newest["messages"]] == list(range(202, 302))
    assert newest["has_more"] is True
    older = client.get(f"/api/chats/{chat_id}/", {"before": 202, "limit": 500}).json()
    assert [m["position"] for m in older["messages"]] == list(range(1, 202))
    assert older["has_more"] is False


def test_someone_elses_chat_answers_exactly_like_a_missing_one(
    client: Client, personas: list, alice: User
) -> None:
    chat_id = new_chat(client)["id"]
    outsider = Client()
    outsider.force_login(alice)
    missing = outsider.get("/api/chats/00000000-0000-0000-0000-000000000000/")
    for response in (
        outsider.get(f"/api/chats/{chat_id}/"),
        outsider.patch(f"/api/chats/{chat_id}/", json.dumps({"title": "x"}), "application/json"),
        outsider.delete(f"/api/chats/{chat_id}/"),
        outsider.get("/api/chats/not-a-uuid/"),
    ):
        assert response.status_code == 404
        assert response.json() == missing.json()
    assert outsider.get("/api/chats/").json()["chats"] == []
    assert Chat.objects.filter(pk=chat_id, title="").exists()


def test_every_write_needs_the_csrf_token(personas: list) -> None:
    client = Client(enforce_csrf_checks=True)
    client.get("/api/personas/")
    assert post_json(client, "/api/chats/", {"persona": "kaladin"}).status_code == 403
    token = client.cookies.get("csrftoken")
    if token is None:
        client.get("/")
        token = client.cookies["csrftoken"]
    created = post_json(client, "/api/chats/", {"persona": "kaladin"}, HTTP_X_CSRFTOKEN=token.value)
    assert created.status_code == 201
    url = f"/api/chats/{created.json()['id']}/"
    assert client.patch(url, "{}", "application/json").status_code == 403
    assert client.delete(url).status_code == 403


def test_long_messages_are_previews_with_the_whole_text_one_request_away(
    client: Client, personas: list, settings: object
) -> None:
    settings.MESSAGE_PREVIEW_CHARS = 100  # type: ignore[attr-defined]
    chat = new_chat(client)
    long = Message.objects.create(
        chat_id=chat["id"], role="assistant", content="Life before death. " * 50, position=2
    )
    detail = client.get(f"/api/chats/{chat['id']}/").json()
    shown = detail["messages"][-1]
    assert (len(shown["content"]), shown["truncated"]) == (100, True)
    whole = client.get(f"/api/chats/{chat['id']}/messages/{long.pk}/").json()
    assert whole["content"] == long.content
    assert "truncated" not in whole
    page = client.get(f"/chats/{chat['id']}/").content.decode()
    assert f'hx-get="/chats/{chat["id"]}/messages/{long.pk}/"' in page  # Show more
    fragment = client.get(f"/chats/{chat['id']}/messages/{long.pk}/").content.decode()
    assert fragment.count("Life before death.") == 100  # shown, and in its edit form
    assert "Show more" not in fragment


@pytest.mark.parametrize("message_id", ["999999", "²", "x"])
def test_a_message_that_is_not_in_the_chat_is_refused(
    client: Client, personas: list, message_id: str
) -> None:
    chat = new_chat(client)
    response = client.get(f"/api/chats/{chat['id']}/messages/{message_id}/")
    assert response.status_code in (400, 404)
    assert response.json()["error"]["code"] in ("bad_request", "not_found")
