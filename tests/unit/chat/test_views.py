"""The browser pages over HTTP: gallery, chat page, history list, rename, delete, headers."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from chat.models import Chat
from personas.models import Persona

pytestmark = pytest.mark.django_db


def start(client: Client, slug: str = "kaladin") -> Chat:
    response = client.post("/chats/new/", {"persona": slug})
    assert response.status_code == 302
    return Chat.objects.get(pk=response["Location"].strip("/").split("/")[-1])


def test_gallery_shows_every_active_persona(client: Client, personas: list[Persona]) -> None:
    Persona.objects.filter(slug="wit").update(is_active=False)
    html = client.get("/").content.decode()
    assert html.count('class="persona-card"') == 7
    assert "Stormblessed, of Bridge Four" in html
    assert "Wit" not in html.split("persona-grid")[1]


def test_starting_a_chat_opens_it_on_the_greeting(client: Client, personas: list[Persona]) -> None:
    chat = start(client)
    html = client.get(f"/chats/{chat.pk}/").content.decode()
    assert "Kaladin looks up" in html
    assert f'ws-connect="/ws/chats/{chat.pk}/?format=html"' in html
    assert f'id="chat-item-{chat.pk}"' in html


def test_a_scene_starts_from_the_gallery_and_shows_who_is_in_it(
    client: Client, personas: list[Persona]
) -> None:
    Persona.objects.filter(slug="shallan").update(
        group_only_greetings=["*Shallan sketches the three of you.*"]
    )
    gallery = client.get("/").content.decode()
    assert gallery.count('form="scene-form"') == 8
    assert "Start a scene" in gallery

    response = client.post("/chats/new/", {"personas": ["shallan", "kaladin", "adolin"]})

    assert response.status_code == 302
    chat = Chat.objects.get()
    assert [m.persona.slug for m in chat.members.order_by("order")] == [
        "shallan",
        "kaladin",
        "adolin",
    ]
    html = client.get(f"/chats/{chat.pk}/").content.decode()
    assert "Shallan, Kaladin, Adolin" in html  # the header names the scene
    assert "Shallan sketches the three of you." in html  # her group-only greeting
    assert '<p class="speaker">Shallan</p>' in html
    for slug in ("shallan", "kaladin", "adolin"):
        assert f'name="muted" value="{slug}"' in html
        assert f'"type": "nudge", "persona": "{slug}"' in html
    assert 'id="auto-toggle"' in html
    assert html.count('class="avatar-stack"') == 2  # the header and the history list


def test_a_one_persona_chat_shows_no_scene_controls(
    client: Client, personas: list[Persona]
) -> None:
    chat = start(client)
    html = client.get(f"/chats/{chat.pk}/").content.decode()
    assert 'class="speaker"' not in html
    assert '"type": "nudge"' not in html
    assert "Add personas" in html  # it can become one


def test_unknown_persona_is_404(client: Client, personas: list[Persona]) -> None:
    assert client.post("/chats/new/", {"persona": "hoid"}).status_code == 404


def test_someone_elses_chat_page_is_404(
    client: Client, personas: list[Persona], alice: User
) -> None:
    chat = start(client)
    other = Client()
    other.force_login(alice)
    for response in (
        other.get(f"/chats/{chat.pk}/"),
        other.get(f"/chats/{chat.pk}/older/"),
        other.post(f"/chats/{chat.pk}/rename/", {"title": "mine now"}),
        other.post(f"/chats/{chat.pk}/delete/"),
    ):
        assert response.status_code == 404
    chat.refresh_from_db()
    assert chat.title == ""


def test_history_list_pages_and_searches(client: Client, personas: list[Persona]) -> None:
    chats = [start(client, slug) for slug in ["kaladin", "shallan", "dalinar"] * 8]
    first = client.get("/chats/list/").content.decode()
    assert first.count('<li id="chat-item-') == 20
    assert "Load more" in first
    rest = client.get("/chats/list/?offset=20").content.decode()
    assert rest.count('<li id="chat-item-') == 4
    assert "Load more" not in rest
    chats[3].title = "Highstorm drills"
    chats[3].save()
    found = client.get("/chats/list/?q=highstorm").content.decode()
    assert found.count('<li id="chat-item-') == 1
    assert "Highstorm drills" in found
    by_text = client.get("/chats/list/?q=sketchpad").content.decode()  # Shallan's greeting
    assert by_text.count('<li id="chat-item-') == 8


def test_rename_and_delete_answer_with_fragments(client: Client, personas: list[Persona]) -> None:
    chat = start(client)
    renamed = client.post(
        f"/chats/{chat.pk}/rename/", {"title": "On the Plains"}, HTTP_HX_REQUEST="true"
    )
    assert f'id="chat-item-{chat.pk}"' in renamed.content.decode()
    assert "On the Plains" in renamed.content.decode()
    deleted = client.post(
        f"/chats/{chat.pk}/delete/", {"current": str(chat.pk)}, HTTP_HX_REQUEST="true"
    )
    assert deleted.status_code == 200
    assert deleted["HX-Redirect"] == "/"
    assert not Chat.objects.filter(pk=chat.pk).exists()


def test_pages_send_a_csp_without_inline_script(client: Client, personas: list[Persona]) -> None:
    chat = start(client)
    for url in ("/", f"/chats/{chat.pk}/"):
        response = client.get(url)
        policy = response["Content-Security-Policy"]
        script = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
        assert script.split() == ["script-src", "'self'"]
        html = response.content.decode()
        assert "<script>" not in html
        assert " on" + "click=" not in html


def test_writes_need_csrf(personas: list[Persona]) -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.post("/chats/new/", {"persona": "kaladin"}).status_code == 403
