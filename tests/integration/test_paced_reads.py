"""Reads paced to the coalescing window: the same text and batches, stop within a window,
and the idle timeout still trips on a stalled upstream."""

from __future__ import annotations

import pytest
from pytest_django.fixtures import Settings

from chat.models import Chat
from tests.fakes.llm_server import Reply, openai_sse, paced

from .conftest import Connect, sse_reply

pytestmark = pytest.mark.django_db(transaction=True)
TOKENS = [f" t{i:03d}" for i in range(120)]


def text(events: list[dict]) -> str:
    return "".join(e["content"] for e in events if e["type"] == "stream")


@pytest.mark.parametrize("paced_reads", [True, False])
async def test_the_text_is_exactly_the_upstreams_paced_or_not(
    owned_chat: tuple[Chat, str],
    connect: Connect,
    llm: object,
    settings: Settings,
    paced_reads: bool,
) -> None:
    settings.STREAM_PACED_READS = paced_reads
    await llm(sse_reply(TOKENS, delay=0.005))  # type: ignore[operator]
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="Go")
    events = await client.receive_until("complete")
    streams = [e for e in events if e["type"] == "stream"]
    assert streams[0]["content"] == TOKENS[0]  # the first token is not held back
    assert text(events) == events[-1]["message"]["content"] == "".join(TOKENS)
    assert [e["seq"] for e in streams] == list(range(1, len(streams) + 1))


async def test_stop_ends_a_paced_reply_within_one_window(
    owned_chat: tuple[Chat, str], connect: Connect, llm: object, settings: Settings
) -> None:
    settings.STREAM_PACED_READS = True
    server = await llm(sse_reply(TOKENS * 10, delay=0.01))  # type: ignore[operator]
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="Go on and on")
    await client.receive_until("stream")
    await client.receive_until("stream")
    await client.send(type="stop")
    after = await client.receive_until("complete")
    # After the stop: at most the batch in flight and the one pending (one window).
    assert sum(e["type"] == "stream" for e in after) <= 2
    assert after[-1]["message"]["status"] == "cancelled"
    await server.client_hung_up.wait()


async def test_the_idle_timeout_still_trips_while_reads_are_paced(
    owned_chat: tuple[Chat, str], connect: Connect, llm: object, settings: Settings
) -> None:
    settings.STREAM_PACED_READS = True
    wire = openai_sse(TOKENS)
    await llm(Reply(body=[*paced(wire[:5], 0.01), 30.0, *wire[5:]]))  # type: ignore[operator]
    settings.LLM_IDLE_TIMEOUT = 1
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="Then silence")
    events = await client.receive_until("complete", timeout=20)
    errors = [e["code"] for e in events if e["type"] == "error"]
    assert errors == ["backend_timeout"]
    assert events[-1]["message"]["status"] == "failed"
    assert events[-1]["message"]["content"] == text(events)
