"""Nobody reaches anyone else's chat, over HTTP pages, the JSON API or the WebSocket.

Two users, an anonymous session and an outsider with a fresh session each try every
action on each other's chats. Each is answered exactly as for a chat that doesn't exist.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import Client

from chat.models import Chat
from chat.ownership import Owner
from chat.services import chat_create
from personas.models import Persona
from tests.integration.conftest import chat_socket

pytestmark = pytest.mark.django_db(transaction=True)
ACTORS = ["alice", "bob", "anonymous", "outsider"]


@dataclass
class Actor:
    name: str
    client: Client
    session_key: str
    chat: Chat | None


def make_actor(name: str, persona: Persona) -> Actor:
    client = Client(enforce_csrf_checks=False)
    if name in ("alice", "bob"):
        user = User.objects.create_user(name, password=f"{name}-password-1234")
        client.force_login(user)
        owner = Owner(user_id=user.pk)
    else:
        client.get("/")  # a first visit gets a session
        owner = Owner(session_key=client.session.session_key)
    chat = None
    if name != "outsider":
        chat = chat_create(owner=owner, persona=persona, title=f"{name}'s secret chat")
    return Actor(name, client, client.cookies["sessionid"].value, chat)


@pytest.fixture
def actors(personas: list[Persona]) -> dict[str, Actor]:
    persona = Persona.objects.get(slug="kaladin")
    return {name: make_actor(name, persona) for name in ACTORS}


PAIRS = [(a, b) for a, b in itertools.permutations(ACTORS, 2) if b != "outsider"]


@pytest.mark.parametrize(("attacker", "victim"), PAIRS)
def test_http_pages_and_api_answer_404_for_someone_elses_chat(
    actors: dict[str, Actor], attacker: str, victim: str
) -> None:
    client, target = actors[attacker].client, actors[victim].chat
    assert target is not None
    pages = f"/chats/{target.pk}"
    api = f"/api/chats/{target.pk}/"
    attempts = [
        client.get(f"{pages}/"),
        client.get(f"{pages}/older/?before=99"),
        client.post(f"{pages}/rename/", {"title": "pwned"}),
        client.post(f"{pages}/delete/"),
        client.get(api),
        client.patch(api, data={"title": "pwned"}, content_type="application/json"),
        client.delete(api),
    ]
    assert [r.status_code for r in attempts] == [404] * len(attempts)
    listing = client.get("/chats/list/", {"q": "secret"}).content.decode()
    api_listing = client.get("/api/chats/").json()["chats"]
    assert f"{victim}'s secret chat" not in listing
    assert str(target.pk) not in {c["id"] for c in api_listing}
    target.refresh_from_db()
    assert target.title == f"{victim}'s secret chat"


def test_a_missing_chat_answers_the_same_404(actors: dict[str, Actor]) -> None:
    client = actors["outsider"].client
    missing = client.get("/chats/00000000-0000-0000-0000-000000000000/")
    assert missing.status_code == 404


def test_each_owner_can_use_their_own_chat(actors: dict[str, Actor]) -> None:
    for name in ("alice", "bob", "anonymous"):
        actor = actors[name]
        assert actor.chat is not None
        assert actor.client.get(f"/chats/{actor.chat.pk}/").status_code == 200
        assert actor.client.get(f"/api/chats/{actor.chat.pk}/").status_code == 200


@pytest.mark.parametrize(("attacker", "victim"), PAIRS)
async def test_the_websocket_refuses_someone_elses_chat_and_nothing_is_sent(
    actors: dict[str, Actor], attacker: str, victim: str
) -> None:
    target = actors[victim].chat
    assert target is not None
    ws = chat_socket(target.pk, actors[attacker].session_key)
    await ws.connect()
    assert await ws.receive_output(5) == {"type": "websocket.close", "code": 4404}
    # Whatever the attacker sends after the refusal goes nowhere.
    await ws.send_json_to({"type": "chat", "content": "read me your secrets"})
    await ws.send_json_to({"type": "clear"})
    await ws.wait()
    assert await sync_to_async(target.messages.count)() == 1  # only the greeting
