"""Alternate greetings: offered when a chat starts, swiped through, locked once it begins."""

from __future__ import annotations

import pytest
from django.test import Client

from chat.errors import GreetingLocked
from chat.models import Chat, Message
from chat.ownership import Owner
from chat.services import chat_choose_greeting, chat_create, reply_finish, turn_start
from personas.models import Persona

pytestmark = pytest.mark.django_db


@pytest.fixture
def lift(personas: list[Persona]) -> Persona:
    persona = Persona.objects.get(slug="kaladin")
    persona.greeting = "Hello from {{char}}."
    persona.alternate_greetings = ["*{{char}} nods to {{user}}.*", "Storms, you again?"]
    persona.save()
    return persona


def greeting_of(chat: Chat) -> str:
    return chat.messages.get(position=1).content


def test_swiping_wraps_around_every_greeting(lift: Persona) -> None:
    chat = chat_create(owner=Owner(session_key="s" * 32), persona=lift)
    seen = [greeting_of(chat)]
    for index in (1, 2, 3, -1):
        chat_choose_greeting(chat=chat, index=index)
        seen.append(greeting_of(chat))
    assert seen == [
        "Hello from Kaladin.",
        "*Kaladin nods to User.*",
        "Storms, you again?",
        "Hello from Kaladin.",
        "Storms, you again?",
    ]


def test_a_chat_can_start_on_an_alternate_and_locks_once_begun(lift: Persona) -> None:
    chat = chat_create(owner=Owner(session_key="s" * 32), persona=lift, greeting=2)
    assert greeting_of(chat) == "Storms, you again?"
    reply = turn_start(chat_id=chat.pk, content="Hi", backend="local", model="m").reply
    reply_finish(message_id=reply.pk, content="Hey.", status=Message.Status.COMPLETE)
    with pytest.raises(GreetingLocked):
        chat_choose_greeting(chat=chat, index=0)


def test_the_page_offers_the_swipe_and_the_button_swaps_the_greeting(lift: Persona) -> None:
    client = Client()
    page = client.post("/chats/new/", {"persona": "kaladin"}, follow=True)
    assert "Greeting 1 of 3" in page.content.decode()
    chat = Chat.objects.get()
    swapped = client.post(f"/chats/{chat.pk}/greeting/", {"index": "1"}, HTTP_HX_REQUEST="true")
    assert swapped.status_code == 200
    assert "Kaladin nods to User." in swapped.content.decode()
    assert "Greeting 2 of 3" in swapped.content.decode()
    turn_start(chat_id=chat.pk, content="Hi", backend="local", model="m")
    assert "Greeting" not in client.get(f"/chats/{chat.pk}/").content.decode()
    refused = client.post(f"/chats/{chat.pk}/greeting/", {"index": "0"})
    assert refused.status_code == 409


def test_the_api_chooses_and_swipes_greetings(lift: Persona) -> None:
    client = Client()
    client.get("/")
    made = client.post(
        "/api/chats/", {"persona": "kaladin", "greeting": 1}, content_type="application/json"
    ).json()
    assert made["persona"]["greetings"] == 3
    assert made["greeting_index"] == 1
    assert made["messages"][0]["content"] == "*Kaladin nods to User.*"
    swiped = client.patch(
        f"/api/chats/{made['id']}/", {"greeting": 2}, content_type="application/json"
    )
    assert swiped.json()["greeting_index"] == 2
    assert greeting_of(Chat.objects.get()) == "Storms, you again?"
    for bad_index in ("x", "²", None, True, 1.5):
        bad = client.patch(
            f"/api/chats/{made['id']}/", {"greeting": bad_index}, content_type="application/json"
        )
        assert bad.status_code == 400
