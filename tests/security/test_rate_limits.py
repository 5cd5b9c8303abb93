"""Every abuse limit is triggered, answers with a clear error, and recovers."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from chat.models import Chat, Message
from personas.models import Persona
from tests.integration.conftest import Connect, sse_reply

pytestmark = pytest.mark.django_db(transaction=True)
WINDOW = 2.0


async def window_start() -> None:
    """Wait for a fresh fixed window, so a burst of attempts falls inside one."""
    await asyncio.sleep(WINDOW - time.time() % WINDOW + 0.01)


def sync_window_start() -> None:
    time.sleep(WINDOW - time.time() % WINDOW + 0.01)


async def test_messages_per_minute_count_refused_attempts_and_recover(
    owned_chat: tuple[Chat, str], connect: Connect, llm: Any, settings: SettingsWrapper
) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "messages": (3, WINDOW)}
    await llm(sse_reply(["slow ", "reply"], delay=0.3))
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()

    await window_start()
    await client.send(type="chat", content="one")  # 1: accepted
    assert (await client.receive_until("ack"))[-1]["type"] == "ack"
    await client.send(type="chat", content="two")  # 2: refused as busy, still counted
    await client.send(type="regenerate")  # 3: refused as busy, still counted
    await client.send(type="chat", content="four")  # 4: over the limit
    events = await client.receive_until("complete")
    codes = [e["code"] for e in events if e["type"] == "error"]
    assert codes == ["busy", "busy", "rate_limited"]
    limited = next(e for e in events if e.get("code") == "rate_limited")
    assert 1 <= limited["retry_after"] <= WINDOW
    assert "Try again in" in limited["message"]
    assert not await Message.objects.filter(chat=chat, content="four").aexists()

    await asyncio.sleep(limited["retry_after"])
    await client.send(type="chat", content="after the window")
    assert (await client.receive_until("ack"))[-1]["message"]["content"] == "after the window"
    await client.receive_until("complete")


def test_login_lockout_triggers_and_lifts_after_the_cool_off(
    settings: SettingsWrapper, personas: list[Persona]
) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(seconds=2)
    User.objects.create_user("kal", password="right-password-1234")
    client = Client()

    failures = [
        client.post("/accounts/login/", {"username": "kal", "password": "wrong"}) for _ in range(3)
    ]
    locked = client.post("/accounts/login/", {"username": "kal", "password": "right-password-1234"})

    assert [r.status_code for r in failures[:2]] == [200, 200]  # the form again, with errors
    assert failures[2].status_code == 429
    assert locked.status_code == 429  # even the right password, while locked
    assert "Too many failed logins" in locked.content.decode()
    time.sleep(2.1)
    ok = client.post("/accounts/login/", {"username": "kal", "password": "right-password-1234"})
    assert ok.status_code == 302


def test_login_and_signup_posts_are_rate_limited_per_address(
    settings: SettingsWrapper, personas: list[Persona]
) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "auth": (3, WINDOW)}
    client = Client()
    sync_window_start()
    answers = [
        client.post("/accounts/signup/", {"username": f"u{i}", "password1": "x"}) for i in range(2)
    ]
    answers.append(client.post("/accounts/login/", {"username": "u", "password": "x"}))
    refused = client.post("/accounts/login/", {"username": "u", "password": "x"})
    assert [r.status_code for r in answers] == [400, 400, 200]
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= WINDOW
    assert "Too many attempts" in refused.content.decode()

    time.sleep(int(refused["Retry-After"]))
    assert client.post("/accounts/login/", {"username": "u", "password": "x"}).status_code == 200


def test_an_anonymous_session_may_keep_only_so_many_chats(
    settings: SettingsWrapper, personas: list[Persona]
) -> None:
    settings.ANON_MAX_CHATS = 2
    client = Client()
    client.get("/")
    made = [client.post("/api/chats/", {"persona": "kaladin"}, content_type="application/json")]
    made.append(client.post("/chats/new/", {"persona": "dalinar"}))
    api_refusal = client.post("/api/chats/", {"persona": "szeth"}, content_type="application/json")
    page_refusal = client.post("/chats/new/", {"persona": "szeth"})

    assert [r.status_code for r in made] == [201, 302]
    assert api_refusal.status_code == page_refusal.status_code == 429
    assert api_refusal.json()["error"]["code"] == "too_many_chats"
    assert "sign up" in page_refusal.content.decode()

    # Deleting a chat frees a place; signing up lifts the cap (and keeps the chats).
    first = made[0].json()["id"]
    assert client.delete(f"/api/chats/{first}/").status_code == 200
    assert client.post("/chats/new/", {"persona": "szeth"}).status_code == 302
    password = "a-long-pass-phrase-1234"
    client.post(
        "/accounts/signup/", {"username": "lift", "password1": password, "password2": password}
    )
    for persona in ("adolin", "jasnah", "navani"):
        assert client.post("/chats/new/", {"persona": persona}).status_code == 302
    assert Chat.objects.filter(user__username="lift").count() == 5


async def test_length_frame_and_one_generation_limits_answer_with_errors(
    owned_chat: tuple[Chat, str], connect: Connect, llm: Any, settings: SettingsWrapper
) -> None:
    settings.MAX_MESSAGE_CHARS = 100
    settings.WS_MAX_FRAME_BYTES = 1000
    await llm(sse_reply(["a", "b"], delay=0.2))
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="x" * 101)
    assert (await client.receive())["code"] == "too_long"
    await client.send(type="chat", content="y" * 2000)
    assert (await client.receive())["code"] == "too_long"
    await client.send(type="chat", content="fits")
    await client.receive_until("ack")
    await client.send(type="chat", content="while the first streams")
    events = await client.receive_until("complete")
    assert [e["code"] for e in events if e["type"] == "error"] == ["busy"]
