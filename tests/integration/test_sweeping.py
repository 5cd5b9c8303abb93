"""The sweep every process runs (here on the defaults: SQLite and the in-memory store)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone
from pytest_django.fixtures import Settings

from chat.live import LiveReply, live_delete, live_set
from chat.models import Chat, Message
from chat.services import turn_start
from chat.sweeping import Sweeper

from .conftest import Connect

pytestmark = pytest.mark.django_db(transaction=True)
TARGET = {"backend": "openai", "model": "m"}


async def orphan(chat: Chat, *, age: float = 60, text: str = "Life before") -> Message:
    """A streaming reply started ``age`` seconds ago whose run is nowhere."""

    def make() -> Message:
        reply = turn_start(chat_id=chat.pk, content="Hello", **TARGET).reply
        started = timezone.now() - timedelta(seconds=age)
        Message.objects.filter(pk=reply.pk).update(created_at=started, content=text)
        return reply

    return await sync_to_async(make)()


async def test_an_orphan_is_interrupted_after_two_sweeps_and_its_pages_told(
    owned_chat: tuple[Chat, str], connect: Connect
) -> None:
    chat, key = owned_chat
    reply = await orphan(chat)
    page = await connect(chat.pk, key)
    await page.receive()
    sweeper = Sweeper()
    assert await sweeper.sweep() == []  # one sweep without a heartbeat is not proof
    assert await sweeper.sweep() == [reply.pk]
    event = await page.receive()
    assert event["type"] == "complete"
    assert (event["message"]["status"], event["message"]["content"]) == (
        "interrupted",
        "Life before",
    )
    saved = await Message.objects.aget(pk=reply.pk)
    assert saved.status == "interrupted"
    # The chat takes a new turn at once (no streaming reply holds it).
    assert await sync_to_async(turn_start)(chat_id=chat.pk, content="Again", **TARGET)


async def test_the_live_text_people_saw_is_kept_when_longer(
    owned_chat: tuple[Chat, str], settings: Settings
) -> None:
    chat, _key = owned_chat
    reply = await orphan(chat, text="Life")
    # What the last stream event carried, then the run died: its heartbeat expires.
    settings.REPLY_HEARTBEAT_TTL = 1
    await live_set(LiveReply(reply.pk, "Life before death.", 7))
    await asyncio.sleep(1.2)
    sweeper = Sweeper()
    await sweeper.sweep()
    assert await sweeper.sweep() == [reply.pk]
    assert (await Message.objects.aget(pk=reply.pk)).content == "Life before death."


async def test_a_reply_with_a_heartbeat_or_just_started_is_left_alone(
    owned_chat: tuple[Chat, str],
) -> None:
    chat, _key = owned_chat
    beating = await orphan(chat)
    await live_set(LiveReply(beating.pk, "so far", 2))
    sweeper = Sweeper()
    for _ in range(3):
        assert await sweeper.sweep() == []
    await live_delete(beating.pk)
    await Message.objects.filter(pk=beating.pk).aupdate(status="complete")
    fresh = await orphan(chat, age=0)
    for _ in range(3):
        assert await sweeper.sweep() == []
    assert (await Message.objects.aget(pk=fresh.pk)).status == "streaming"
