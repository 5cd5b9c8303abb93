"""The embedded model never holds up the site: two people at once, for real.

While one reply is being written by the real SmolLM2 model, another person's turn is
acknowledged and told its place in line, a new connection gets its snapshot, and
``/health`` says the model is up and busy. ``stop`` on the waiting turn cancels it.
Each of these is asserted to happen while the first reply is still streaming (its
``complete`` has not arrived), never against a clock.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import AsyncClient
from pytest_django.fixtures import Settings

from chat import actions
from chat.models import Chat
from chat.ownership import Owner
from personas.models import Persona

from .conftest import Client, Connect, chat_socket, new_session_key

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
LONG_ASK = "Tell me the whole story of Bridge Four, every run, in as much detail as you can."


async def a_chat(slug: str = "kaladin") -> tuple[Chat, str]:
    def make() -> tuple[Chat, str]:
        key = new_session_key()
        persona = Persona.objects.get(slug=slug)
        return actions.chat_create(owner=Owner(session_key=key), persona=persona), key

    return await sync_to_async(make)()


def staff_client() -> AsyncClient:
    """An operator's client: /health shows staff how busy the model is."""
    client = AsyncClient()
    client.force_login(User.objects.create_user("operator", is_staff=True))
    return client


async def still_streaming(first: Client, seen: list[dict[str, Any]]) -> bool:
    """Read what the first chat's socket has so far: True while its reply has not completed."""
    while not first.ws.output_queue.empty():
        seen.append(await first.receive())
    return not any(event["type"] == "complete" for event in seen)


async def test_a_second_person_is_served_while_the_model_writes(
    owned_chat: tuple[Chat, str], connect: Connect, settings: Settings
) -> None:
    settings.LLM_BACKEND = "local"
    await Persona.objects.filter(slug="kaladin").aupdate(max_tokens=400, temperature=0.8)
    chat, key = owned_chat
    first = await connect(chat.pk, key)
    await first.receive()
    await first.send(type="chat", content=LONG_ASK)
    seen = await first.receive_until("stream", timeout=120)  # the model is writing now
    assert seen[0]["type"] == "ack"

    other_chat, other_key = await a_chat()
    second = await connect(other_chat.pk, other_key)
    await second.receive()
    await second.send(type="chat", content="Hello")
    ack, queued = await second.receive(), await second.receive()
    assert ack["type"] == "ack"
    assert (queued["type"], queued["position"]) == ("queued", 1)
    assert await still_streaming(first, seen)

    # A new connection's snapshot, with the waiting reply's place in line.
    third = await connect(other_chat.pk, other_key)
    welcome = await third.receive()
    assert welcome["type"] == "welcome"
    assert welcome["messages"][-1]["queue_position"] == 1
    assert await still_streaming(first, seen)

    # The page shows the line too.
    page = chat_socket(other_chat.pk, other_key, html=True)
    assert (await page.connect())[0]
    assert "Waiting for the model: 1st in line" in await page.receive_from(timeout=10)
    await page.disconnect()

    health = await (await sync_to_async(staff_client)()).get("/health")
    assert health.status_code == 200
    llm = health.json()["llm"]
    assert (llm["ok"], llm["busy"], llm["queued"]) == (True, True, 1)
    assert await still_streaming(first, seen)

    # Stop on a waiting turn cancels it without touching the reply being written.
    await second.send(type="stop")
    events = await second.receive_until("complete", timeout=30)
    assert events[-1]["message"]["status"] == "cancelled"
    assert events[-1]["message"]["content"] == ""
    assert await still_streaming(first, seen)

    await first.send(type="stop")
    done = await first.receive_until("complete", timeout=60)
    assert done[-1]["message"]["status"] == "cancelled"
    assert done[-1]["message"]["content"]


async def test_waiting_turns_are_served_in_order_and_hear_the_line_move(
    owned_chat: tuple[Chat, str], connect: Connect, settings: Settings
) -> None:
    settings.LLM_BACKEND = "local"
    await Persona.objects.filter(slug="kaladin").aupdate(max_tokens=12)
    chats = [owned_chat, await a_chat(), await a_chat()]
    sockets = []
    for chat, key in chats:
        socket = await connect(chat.pk, key)
        await socket.receive()
        sockets.append(socket)
    for socket in sockets:
        await socket.send(type="chat", content="Who are you?")
        assert (await socket.receive())["type"] == "ack"

    places = [
        [
            e["position"]
            for e in await socket.receive_until("complete", timeout=120)
            if e["type"] == "queued"
        ]
        for socket in sockets
    ]
    assert places[0] == []  # served at once
    assert places[1] == [1, 0]  # next in line, then its turn
    assert places[2] == [2, 1, 0]  # heard the line move
    await asyncio.sleep(0)
