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


def socket(client: Client, chat: Chat, origin: bytes | None, host: bytes) -> WebsocketCommunicator:
    headers = [
        (b"host", host),
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
    ]
    if origin is not None:
        headers.append((b"origin", origin))
    return WebsocketCommunicator(application, f"/ws/chats/{chat.pk}/", headers=headers)


@pytest.mark.parametrize(
    "origin",
    [
        b"https://evil.example",
        b"http://localhost.evil.example",
        b"null",
        None,
        # The same host name is not the same origin: another port, scheme or kind of app.
        b"http://127.0.0.1:1",
        b"https://127.0.0.1:8000",
        b"chrome-extension://127.0.0.1",
        b"http://LOCALHOST:9",
        b"http://127.0.0.1:8000/path",
        b"http://127.0.0.1:notaport",
    ],
)
async def test_a_socket_from_another_origin_is_refused_even_with_the_cookie(
    visitor: tuple[Client, Chat], origin: bytes | None
) -> None:
    client, chat = visitor
    connected, _ = await socket(client, chat, origin, b"127.0.0.1:8000").connect()
    assert not connected


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        (b"http://127.0.0.1:8000", b"127.0.0.1:8000"),
        (b"http://LOCALHOST", b"localhost"),  # host names compare without case
        (b"https://chat.example.com", b"127.0.0.1:8000"),  # in CSRF_TRUSTED_ORIGINS
    ],
)
async def test_the_sites_own_origin_is_accepted(
    visitor: tuple[Client, Chat], origin: bytes, host: bytes, settings: object
) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.com"]  # type: ignore[attr-defined]
    client, chat = visitor
    ws = socket(client, chat, origin, host)
    connected, _ = await ws.connect()
    assert connected
    await ws.disconnect()


async def test_behind_a_tls_proxy_the_https_origin_is_the_sites(
    visitor: tuple[Client, Chat], settings: object
) -> None:
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")  # type: ignore[attr-defined]
    client, chat = visitor
    ws = socket(client, chat, b"https://localhost", b"localhost")
    ws.scope["headers"].append((b"x-forwarded-proto", b"https"))
    connected, _ = await ws.connect()
    assert connected
    await ws.disconnect()
    plain = socket(client, chat, b"https://localhost", b"localhost")  # no proxy header
    assert not (await plain.connect())[0]


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


def test_cookies_are_http_only_and_same_site_strict(client: Client, kaladin: Persona) -> None:
    csrf = client.get("/").cookies["csrftoken"]
    session = client.post("/chats/new/", {"persona": "kaladin"}).cookies["sessionid"]
    assert session["httponly"]
    assert session["samesite"] == csrf["samesite"] == "Strict"
