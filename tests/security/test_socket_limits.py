"""What one socket, and one owner's sockets, may cost; and sockets of ended sessions."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings

from chat import actions
from chat.models import Chat
from chat.ownership import Owner
from personas.models import Persona
from tests.integration.conftest import chat_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_socket_over_its_frame_budget_is_told_and_closed(
    owned_chat: tuple[Chat, str], settings: Settings
) -> None:
    settings.WS_FRAME_RATE = 1
    settings.WS_FRAME_BURST = 5
    chat, key = owned_chat
    socket = chat_socket(chat.pk, key)
    assert (await socket.connect())[0]
    await socket.receive_json_from()
    for _ in range(5):
        await socket.send_to(text_data="{}")
        assert (await socket.receive_json_from())["code"] == "bad_request"
    await socket.send_to(text_data="{}")
    error = await socket.receive_json_from()
    assert error["code"] == "too_many_frames"
    assert await socket.receive_output(5) == {"type": "websocket.close", "code": 4429}


async def test_an_owner_may_hold_only_so_many_sockets(
    owned_chat: tuple[Chat, str], settings: Settings
) -> None:
    settings.WS_MAX_SOCKETS_PER_OWNER = 3
    chat, key = owned_chat
    sockets = [chat_socket(chat.pk, key) for _ in range(3)]
    for socket in sockets:
        assert (await socket.connect())[0]
        assert (await socket.receive_json_from())["type"] == "welcome"
    extra = chat_socket(chat.pk, key)
    await extra.connect()
    assert (await extra.receive_json_from())["code"] == "too_many_sockets"
    assert await extra.receive_output(5) == {"type": "websocket.close", "code": 4429}
    await sockets[0].disconnect()  # closing one makes room again
    again = chat_socket(chat.pk, key)
    assert (await again.connect())[0]
    assert (await again.receive_json_from())["type"] == "welcome"
    for socket in [*sockets[1:], again]:
        await socket.disconnect()


def logged_in(user: User) -> tuple[Client, str]:
    client = Client()
    client.force_login(user)
    return client, client.cookies["sessionid"].value


async def two_devices(
    user: User, chat: Chat
) -> tuple[Client, WebsocketCommunicator, str, WebsocketCommunicator]:
    """The user logged in on a laptop and a phone, each with the chat open: the laptop's
    client and socket, the phone's session key and socket."""
    laptop, laptop_key = await sync_to_async(logged_in)(user)
    _phone, phone_key = await sync_to_async(logged_in)(user)
    on_laptop, on_phone = chat_socket(chat.pk, laptop_key), chat_socket(chat.pk, phone_key)
    for socket in (on_laptop, on_phone):
        assert (await socket.connect())[0]
        await socket.receive_json_from()
    return laptop, on_laptop, phone_key, on_phone


@pytest.fixture
async def alice_chat(transactional_db: None) -> tuple[User, Chat]:
    def make() -> tuple[User, Chat]:
        from personas.services import personas_seed

        personas_seed()
        user = User.objects.create_user("alice", password="correct horse battery")
        persona = Persona.objects.get(slug="kaladin")
        return user, actions.chat_create(owner=Owner(user_id=user.pk), persona=persona)

    return await sync_to_async(make)()


async def test_a_logout_closes_the_sockets_of_that_session_only(
    alice_chat: tuple[User, Chat],
) -> None:
    user, chat = alice_chat
    laptop, on_laptop, _phone_key, on_phone = await two_devices(user, chat)
    response = await sync_to_async(laptop.post)("/accounts/logout/")
    assert response.status_code == 302
    assert await on_laptop.receive_output(5) == {"type": "websocket.close", "code": 4401}
    await on_phone.send_json_to({"type": "ping"})
    assert (await on_phone.receive_json_from())["type"] == "pong"  # the phone is still in
    await on_phone.disconnect()


async def test_a_password_change_closes_the_other_sessions_sockets(
    alice_chat: tuple[User, Chat],
) -> None:
    user, chat = alice_chat
    laptop, on_laptop, phone_key, on_phone = await two_devices(user, chat)
    response = await sync_to_async(laptop.post)(
        "/accounts/password/",
        {
            "old_password": "correct horse battery",
            "new_password1": "a new stormlight oath",
            "new_password2": "a new stormlight oath",
        },
    )
    assert response.status_code == 302
    assert await on_phone.receive_output(5) == {"type": "websocket.close", "code": 4401}
    # The laptop's session survives under a new key (Django rotates it): its page
    # reconnects with the new cookie and carries on.
    assert await on_laptop.receive_output(5) == {"type": "websocket.close", "code": 4401}
    reconnected = chat_socket(chat.pk, laptop.cookies["sessionid"].value)
    assert (await reconnected.connect())[0]
    assert (await reconnected.receive_json_from())["type"] == "welcome"
    await reconnected.disconnect()
    stale = chat_socket(chat.pk, phone_key)  # the phone's old session is not let back in
    await stale.connect()
    assert await stale.receive_output(5) == {"type": "websocket.close", "code": 4404}


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "chat", "content": "still me?"},  # checked in the turn's own trip
        {"type": "nudge", "persona": "kaladin"},
        {"type": "regenerate"},
        {"type": "continue"},
        {"type": "rename", "title": "still me?"},  # checked before the action
    ],
)
async def test_a_frame_on_a_socket_whose_session_ended_closes_it(
    alice_chat: tuple[User, Chat], frame: dict[str, str]
) -> None:
    """Even when the news did not arrive (another process, a missed event)."""
    user, chat = alice_chat
    _client, key = await sync_to_async(logged_in)(user)
    socket = chat_socket(chat.pk, key)
    assert (await socket.connect())[0]
    await socket.receive_json_from()
    from django.contrib.sessions.models import Session

    before = await chat.messages.acount()
    await Session.objects.filter(session_key=key).adelete()
    await socket.send_json_to(frame)
    assert await socket.receive_output(5) == {"type": "websocket.close", "code": 4401}
    await chat.arefresh_from_db()
    assert await chat.messages.acount() == before
    assert chat.title != "still me?"
