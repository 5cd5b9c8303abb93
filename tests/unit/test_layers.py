"""The single-process channel layer keeps channels' semantics without leaking."""

from __future__ import annotations

import asyncio

import pytest
from channels.exceptions import ChannelFull

from stormchat import layers
from stormchat.layers import LocalChannelLayer


async def test_group_send_reaches_every_member_once() -> None:
    layer = LocalChannelLayer()
    a, b, outsider = [await layer.new_channel() for _ in range(3)]
    for channel in (a, b):
        await layer.group_add("chat.1", channel)
    await layer.group_send("chat.1", {"type": "chat.stream", "seq": 1})
    assert await layer.receive(a) == {"type": "chat.stream", "seq": 1}
    assert await layer.receive(b) == {"type": "chat.stream", "seq": 1}
    assert outsider not in layer.channels


async def test_each_receiver_gets_its_own_copy_of_nested_values() -> None:
    layer = LocalChannelLayer()
    a, b = await layer.new_channel(), await layer.new_channel()
    for channel in (a, b):
        await layer.group_add("chat.1", channel)
    await layer.group_send("chat.1", {"type": "chat.ack", "message": {"id": 1}})
    first = await layer.receive(a)
    first["message"]["id"] = 99
    assert (await layer.receive(b))["message"] == {"id": 1}


async def test_a_full_channel_refuses_sends_and_misses_group_sends() -> None:
    layer = LocalChannelLayer(capacity=2)
    full, other = await layer.new_channel(), await layer.new_channel()
    await layer.send(full, {"type": "x"})
    await layer.send(full, {"type": "x"})
    with pytest.raises(ChannelFull):
        await layer.send(full, {"type": "x"})
    for channel in (full, other):
        await layer.group_add("g", channel)
    await layer.group_send("g", {"type": "y"})
    assert await layer.receive(other) == {"type": "y"}


async def test_a_waiting_receiver_gets_a_message_sent_later() -> None:
    layer = LocalChannelLayer()
    channel = await layer.new_channel()
    waiting = asyncio.create_task(layer.receive(channel))
    await asyncio.sleep(0)
    await layer.group_add("g", channel)
    await layer.group_discard("g", channel)  # leaving its last group keeps a waited-on queue
    await layer.send(channel, {"type": "late"})
    assert await asyncio.wait_for(waiting, 1) == {"type": "late"}


async def test_nothing_is_kept_once_channels_leave_and_drain() -> None:
    layer = LocalChannelLayer()
    for _ in range(50):
        channel = await layer.new_channel()
        await layer.group_add("chat.1", channel)
        await layer.group_send("chat.1", {"type": "chat.stream"})
        await layer.receive(channel)
        waiting = asyncio.create_task(layer.receive(channel))
        await asyncio.sleep(0)
        await layer.group_discard("chat.1", channel)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
    assert layer.channels == {}
    assert layer.groups == {}


async def test_expired_messages_drop_their_channel_from_every_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    layer = LocalChannelLayer(expiry=0, group_expiry=3600)
    monkeypatch.setattr(layers, "CLEAN_INTERVAL_SECONDS", 0)
    gone, staying = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("g", gone)
    await layer.send(gone, {"type": "never read"})
    await asyncio.sleep(0.01)
    await layer.group_add("g", staying)
    await layer.group_send("g", {"type": "fresh"})  # runs the expiry sweep first
    assert list(layer.groups["g"]) == [staying]
    assert gone not in layer.channels


async def test_old_memberships_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    layer = LocalChannelLayer(group_expiry=0)
    monkeypatch.setattr(layers, "CLEAN_INTERVAL_SECONDS", 0)
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    await asyncio.sleep(0.01)
    await layer.group_send("g", {"type": "x"})
    assert layer.groups == {}
    assert layer.channels == {}
