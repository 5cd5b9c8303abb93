"""Cross-site attacks: WebSocket hijacking, forged writes, and the cookies that carry them."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from chat.models import Chat
from chat.ownership import Owner
from chat.services import chat_create
from personas.models import Persona
from tests.integration.conftest import application

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def visitor(personas: list[Persona]) -> tuple[Client, Chat]:
    """A browser with a session cookie and a chat, and no CSRF token in its requests."""
    client = Client(enforce_csrf_checks=True)
    client.get("/")
    owner = Owner(session_key=client.session.session_key)
    return client, chat_create(owner=owner, persona=Persona.objects.get(slug="kaladin"))


@pytest.mark.parametrize(
    "origin",
    [b"https://evil.example", b"http://localhost.evil.example", b"null", None],
)
async def test_a_socket_from_another_origin_is_refused_even_with_the_cookie(
    visitor: tuple[Client, Chat], origin: bytes | None
) -> None:
    client, chat = visitor
    headers = [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]
    if origin is not None:
        headers.append((b"origin", origin))
    ws = WebsocketCommunicator(application, f"/ws/chats/{chat.pk}/", headers=headers)
    connected, _ = await ws.connect()
    assert not connected


def test_every_write_needs_the_csrf_token(visitor: tuple[Client, Chat]) -> None:
    client, chat = visitor
    api = f"/api/chats/{chat.pk}/"
    forged = [
        client.post("/chats/new/", {"persona": "kaladin"}),
        client.post(f"/chats/{chat.pk}/rename/", {"title": "x"}, HTTP_HX_REQUEST="true"),
        client.post(f"/chats/{chat.pk}/delete/", HTTP_HX_REQUEST="true"),
        client.post("/api/chats/", {"persona": "kaladin"}, content_type="application/json"),
        client.patch(api, {"title": "x"}, content_type="application/json"),
        client.delete(api),
        client.post("/accounts/login/", {"username": "a", "password": "b"}),
        client.post("/accounts/signup/", {"username": "a"}),
    ]
    assert [r.status_code for r in forged] == [403] * len(forged)
    chat.refresh_from_db()
    assert chat.title == ""


def test_cookies_are_http_only_and_same_site_strict(client: Client) -> None:
    response = client.get("/")
    session, csrf = response.cookies["sessionid"], response.cookies["csrftoken"]
    assert session["httponly"]
    assert session["samesite"] == csrf["samesite"] == "Strict"
