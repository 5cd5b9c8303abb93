"""Anonymous visitors: no session for looking, per-address caps that new sessions cannot
beat, the admin's login limited like the site's, and no chats moved by a planted session."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from chat.models import Chat
from personas.models import Persona
from tests.integration.conftest import Connect

pytestmark = pytest.mark.django_db


def new_visitor() -> Client:
    client = Client()
    client.get("/")  # the gallery: a CSRF cookie, no session
    return client


def test_looking_makes_no_session_row(personas: list[Persona]) -> None:
    for _ in range(30):
        client = Client()
        assert client.get("/").status_code == 200
        assert client.get("/api/personas/").status_code == 200
        assert client.get("/api/chats/").json()["chats"] == []
    assert Session.objects.count() == 0


def test_new_sessions_per_address_are_capped(
    settings: SettingsWrapper, personas: list[Persona]
) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "anon_sessions": (3, 3600)}
    made = [new_visitor().post("/chats/new/", {"persona": "kaladin"}) for _ in range(3)]
    assert [r.status_code for r in made] == [302, 302, 302]
    refused = new_visitor().post(
        "/api/chats/", {"persona": "kaladin"}, content_type="application/json"
    )
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert Session.objects.count() == 3
    # Another address is not affected.
    other = Client(REMOTE_ADDR="10.9.8.7")
    other.get("/")
    assert other.post("/chats/new/", {"persona": "kaladin"}).status_code == 302


def test_chats_per_address_cannot_be_beaten_with_new_sessions(
    settings: SettingsWrapper, personas: list[Persona]
) -> None:
    settings.ANON_MAX_CHATS = 3
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "anon_chats": (3, 3600)}
    statuses = []
    for _ in range(4):  # four sessions, each under its own cap of three
        visitor = new_visitor()
        statuses += [visitor.post("/chats/new/", {"persona": "kaladin"}).status_code]
    assert statuses == [302, 302, 302, 429]
    assert Chat.objects.count() == 3


async def test_messages_per_address_cannot_be_beaten_with_new_sessions(
    settings: SettingsWrapper, connect: Connect, llm: Any, transactional_db: None
) -> None:
    from asgiref.sync import sync_to_async

    from tests.integration.conftest import sse_reply

    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "anon_messages": (3, 60)}
    await llm(sse_reply(["Life", " before", " death."]))

    def visitor_with_chat() -> tuple[str, str]:
        from personas.services import personas_seed

        personas_seed()
        client = new_visitor()
        client.post("/chats/new/", {"persona": "kaladin"})
        key = client.cookies["sessionid"].value
        return str(Chat.objects.get(session_key=key).pk), key

    codes = []
    for _ in range(2):  # two sessions from one address, two messages each
        chat_id, key = await sync_to_async(visitor_with_chat)()
        socket = await connect(chat_id, key)
        await socket.receive()
        for text in ("one", "two"):
            await socket.send(type="chat", content=text)
            first = await socket.receive()
            while first["type"] not in ("ack", "error"):  # the first exchange's title
                first = await socket.receive()
            codes.append(first.get("code", first["type"]))
            if first["type"] == "ack":
                await socket.receive_until("complete")
    assert codes == ["ack", "ack", "ack", "rate_limited"]


def test_the_admin_login_is_limited_per_address(settings: SettingsWrapper, staff: User) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "auth": (5, 60)}
    statuses = []
    for attempt in range(8):  # a different username each time: axes' lockout never fires
        client = Client()
        response = client.post(
            "/admin/login/", {"username": f"guess{attempt}", "password": "wrong"}
        )
        statuses.append(response.status_code)
    assert statuses == [200] * 5 + [429] * 3


def test_a_planted_session_moves_no_chats_into_the_victims_account(
    personas: list[Persona],
) -> None:
    attacker = new_visitor()
    attacker.post("/chats/new/", {"persona": "szeth"})
    planted = attacker.cookies["sessionid"].value
    victim = new_visitor()  # the victim's own browser, with its own CSRF cookie
    victim.cookies["sessionid"] = planted  # the attacker's session key, planted
    User.objects.create_user("victim", password="a-long-pass-phrase-1234")
    victim.post("/accounts/login/", {"username": "victim", "password": "a-long-pass-phrase-1234"})
    assert not Chat.objects.filter(user__username="victim").exists()
    assert Chat.objects.filter(session_key=planted).count() == 1  # left where it was


def test_a_visitors_own_chats_follow_them_into_their_account(personas: list[Persona]) -> None:
    visitor = new_visitor()
    visitor.post("/chats/new/", {"persona": "kaladin"})
    User.objects.create_user("reader", password="a-long-pass-phrase-1234")
    visitor.post("/accounts/login/", {"username": "reader", "password": "a-long-pass-phrase-1234"})
    assert Chat.objects.filter(user__username="reader").count() == 1
