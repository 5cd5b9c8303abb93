"""The chat consumer through the full ASGI stack, with a fake upstream LLM on loopback."""

from __future__ import annotations

import asyncio
import html
import json
import re

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from pytest_django.fixtures import Settings

from chat import live
from chat.events import chat_group, publish, stream_event
from chat.models import Chat, Message
from chat.rendering import fragment_cache
from tests.fakes.llm_server import Reply, openai_sse

from .conftest import Connect, chat_socket, new_session_key, sse_reply

pytestmark = pytest.mark.django_db(transaction=True)
TOKENS = ["Life", " before", " death", ".", " Strength", " before", " weakness", "."]


async def stored(message_id: int) -> Message:
    return await Message.objects.aget(pk=message_id)


def joined(events: list[dict]) -> str:
    return "".join(e["content"] for e in events if e["type"] == "stream")


async def test_the_owner_gets_a_welcome_snapshot(
    owned_chat: tuple[Chat, str], connect: Connect
) -> None:
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    welcome = await client.receive()
    assert welcome["type"] == "welcome"
    assert welcome["chat"]["id"] == str(chat.pk)
    assert welcome["chat"]["persona"]["slug"] == "kaladin"
    assert welcome["backend"] == "local"
    assert welcome["model"]
    assert [m["role"] for m in welcome["messages"]] == ["assistant"]
    assert welcome["messages"][0]["content"].startswith("*Kaladin looks up")
    assert welcome["has_more"] is False


@pytest.mark.parametrize("who", ["stranger", "bad-id", "missing"])
async def test_anyone_else_is_refused_with_4404_and_learns_nothing(
    owned_chat: tuple[Chat, str], who: str
) -> None:
    chat, key = owned_chat
    chat_id = {"stranger": chat.pk, "bad-id": "not-a-uuid", "missing": "0" * 32}[who]
    session = await sync_to_async(new_session_key)() if who == "stranger" else key
    communicator = chat_socket(chat_id, session)
    await communicator.connect()
    output = await communicator.receive_output(5)
    assert output == {"type": "websocket.close", "code": 4404}
    await communicator.wait()


async def test_a_foreign_origin_cannot_open_a_socket(owned_chat: tuple[Chat, str]) -> None:
    chat, key = owned_chat
    communicator = chat_socket(chat.pk, key, origin=b"https://evil.example")
    connected, _ = await communicator.connect()
    assert not connected


async def test_a_turn_acks_streams_in_order_and_completes_after_saving(
    owned_chat: tuple[Chat, str], connect: Connect, llm: object
) -> None:
    server = await llm(sse_reply(TOKENS, delay=0.01))  # type: ignore[operator]
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="Hello, Captain")

    events = await client.receive_until("complete")
    ack, *streams, complete = events
    assert ack["type"] == "ack"
    assert ack["message"]["content"] == "Hello, Captain"
    assert ack["message"]["role"] == "user"
    assert ack["reply"]["status"] == "streaming"
    assert ack["removed"] == []
    assert {e["type"] for e in streams} == {"stream"}
    assert [e["seq"] for e in streams] == list(range(1, len(streams) + 1))
    assert streams[0]["content"] == TOKENS[0]  # the first delta is not held back
    assert joined(streams) == "".join(TOKENS)

    final = complete["message"]
    assert final["status"] == "complete"
    assert final["content"] == "".join(TOKENS)
    assert final["usage"] == {"prompt_tokens": 11, "completion_tokens": len(TOKENS)}
    assert final["timings"]["ttft_ms"] is not None
    saved = await stored(final["id"])  # saved before complete was sent
    assert (saved.status, saved.content, saved.backend) == ("complete", "".join(TOKENS), "openai")

    prompt = server.requests[0].json()["messages"]
    assert prompt[0]["role"] == "system"
    assert prompt[0]["content"].startswith("You are Kaladin Stormblessed")
    assert prompt[1]["role"] == "assistant"  # the greeting
    assert prompt[-1] == {"role": "user", "content": "Hello, Captain"}


async def test_a_long_reply_is_saved_as_it_streams(
    owned_chat: tuple[Chat, str], connect: Connect, llm: object, settings: object
) -> None:
    settings.STREAM_FLUSH_SECONDS = 0.2  # type: ignore[attr-defined]
    await llm(sse_reply(["word "] * 40, delay=0.05))  # type: ignore[operator]
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="Tell me everything")
    ack = await client.receive()
    await asyncio.sleep(1)
    partial = await stored(ack["reply"]["id"])
    assert partial.status == "streaming"
    assert partial.content.startswith("word word")
    assert len(partial.content) < len("word " * 40)
    events = await client.receive_until("complete")
    assert events[-1]["message"]["content"] == "word " * 40


async def test_deltas_are_coalesced_into_few_stream_events(
    owned_chat: tuple[Chat, str], connect: Connect, llm: object
) -> None:
    tokens = [f" t{i}" for i in range(300)]
    await llm(sse_reply(tokens, delay=0.001))  # type: ignore[operator]
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="Count")
    events = await client.receive_until("complete")
    streams = [e for e in events if e["type"] == "stream"]
    assert joined(streams) == "".join(tokens)
    assert len(streams) < len(tokens) / 3


async def test_stop_cancels_and_keeps_the_partial_text(
    owned_chat: tuple[Chat, str], connect: Connect, llm: object
) -> None:
    server = await llm(sse_reply(TOKENS * 50, delay=0.05))  # type: ignore[operator]
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="Tell me everything")
    events = await client.receive_until("stream")
    await client.send(type="stop")
    events += await client.receive_until("complete")
    complete = events[-1]["message"]
    assert complete["status"] == "cancelled"
    assert complete["content"] == joined(events)
    assert 0 < len(complete["content"]) < len("".join(TOKENS * 50))
    assert (await stored(complete["id"])).content == complete["content"]
    await asyncio.wait_for(server.client_hung_up.wait(), 5)  # the upstream was closed


async def test_a_backend_failure_mid_reply_sends_error_then_failed_complete(
    owned_chat: tuple[Chat, str], connect: Connect, llm: object
) -> None:
    wire = openai_sse(TOKENS)
    error = b'data: {"error": {"message": "GPU fell over"}}\n\n'
    await llm(Reply(body=[*wire[:4], error]))  # type: ignore[operator]
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="Hi")
    events = await client.receive_until("complete")
    types = [e["type"] for e in events]
    assert types.index("error") < types.index("complete")
    error_event = next(e for e in events if e["type"] == "error")
    assert error_event["code"] == "backend_reported_error"
    assert "GPU fell over" in error_event["message"]
    final = events[-1]["message"]
    assert final["status"] == "failed"
    assert final["content"] == "".join(TOKENS[:3])
    saved = await stored(final["id"])
    assert saved.status == "failed"
    assert "GPU fell over" in saved.error
    assert await Message.objects.filter(chat=chat, role="user", content="Hi").aexists()


async def test_a_backend_that_is_down_fails_cleanly_and_keeps_the_users_message(
    owned_chat: tuple[Chat, str], connect: Connect, settings: object
) -> None:
    settings.LLM_BACKEND = "ollama"  # type: ignore[attr-defined]
    settings.LLM_BASE_URL = "http://127.0.0.1:9"  # type: ignore[attr-defined]
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="Anyone there?")
    events = await client.receive_until("complete")
    assert [e["code"] for e in events if e["type"] == "error"] == ["backend_unreachable"]
    assert events[-1]["message"]["status"] == "failed"
    # Everyone's error names the problem, never the server's internal address.
    assert "127.0.0.1" not in json.dumps(events)
    assert await Message.objects.filter(chat=chat, content="Anyone there?").aexists()
    await client.send(type="ping")
    assert (await client.receive())["type"] == "pong"


async def test_a_second_message_while_streaming_is_refused(
    owned_chat: tuple[Chat, str], connect: Connect, llm: object
) -> None:
    await llm(sse_reply(TOKENS, delay=0.05))  # type: ignore[operator]
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="One")
    await client.receive_until("ack")
    await client.send(type="chat", content="Two")
    events = await client.receive_until("complete")
    errors = [e for e in events if e["type"] == "error"]
    assert [e["code"] for e in errors] == ["busy"]
    assert [e["type"] for e in events if e["type"] == "ack"] == []
    assert joined(events) in "".join(TOKENS)
    assert not await Message.objects.filter(chat=chat, content="Two").aexists()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json at all", "bad_json"),
        ("[1, 2, 3]", "bad_request"),
        ('{"content": "no type"}', "bad_request"),
        ('{"type": 7}', "bad_request"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "chat"}', "invalid_content"),
        ('{"type": "chat", "content": "   "}', "invalid_content"),
        ('{"type": "chat", "content": ["list"]}', "invalid_content"),
        (json.dumps({"type": "chat", "content": "x" * 8001}), "too_long"),
        (json.dumps({"type": "chat", "content": "x" * 70_000}), "too_long"),
        ("[" * 40_000 + "]" * 40_000, "too_long"),
        ("[" * 5000 + "]" * 5000, "bad_json"),
        ('{"type": "edit", "message_id": 999999, "content": "x"}', "not_editable"),
        ('{"type": "regenerate"}', "nothing_to_regenerate"),
        ('{"type": "stop"}', "not_streaming"),
    ],
)
async def test_bad_frames_get_error_events_and_the_socket_stays_open(
    owned_chat: tuple[Chat, str], connect: Connect, frame: str, code: str
) -> None:
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.ws.send_to(text_data=frame)
    error = await client.receive()
    assert (error["type"], error["code"]) == ("error", code)
    assert error["message"]
    await client.send(type="ping")
    assert (await client.receive())["type"] == "pong"


async def test_binary_garbage_is_an_error_not_a_crash(
    owned_chat: tuple[Chat, str], connect: Connect
) -> None:
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.ws.send_to(bytes_data=b"\xff\xfe\x00garbage")
    assert (await client.receive())["code"] == "bad_json"


async def test_regenerate_writes_a_new_alternative_of_the_last_reply(
    owned_chat: tuple[Chat, str], connect: Connect, llm: object
) -> None:
    await llm(sse_reply(TOKENS))  # type: ignore[operator]
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="Hi")
    first = (await client.receive_until("complete"))[-1]["message"]
    await client.receive_until("title")  # the first exchange's title, written after it
    await client.send(type="regenerate")
    events = await client.receive_until("complete")
    ack = events[0]  # the turn is acknowledged before anything else of it
    assert ack["type"] == "ack"
    assert [e["type"] for e in events].count("ack") == 1
    assert ack["message"] is None
    assert ack["removed"] == []
    reply = ack["reply"]
    assert (reply["id"], reply["swipes"], reply["swipe"]) == (first["id"], 2, 1)
    assert {e["message_id"] for e in events if e["type"] == "stream"} == {first["id"]}
    done = events[-1]["message"]
    assert (done["content"], done["swipes"], done["swipe"]) == ("".join(TOKENS), 2, 1)
    roles = [m.role async for m in Message.objects.filter(chat=chat).order_by("position")]
    assert roles == ["assistant", "user", "assistant"]


async def test_edit_rewrites_a_user_message_and_drops_what_followed(
    owned_chat: tuple[Chat, str], connect: Connect, llm: object
) -> None:
    server = await llm(sse_reply(TOKENS))  # type: ignore[operator]
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="First question")
    first = await client.receive_until("complete")
    user_id, reply_id = first[0]["message"]["id"], first[-1]["message"]["id"]
    await client.send(type="chat", content="Second question")
    second = await client.receive_until("complete")
    await client.send(type="edit", message_id=user_id, content="Better question")
    events = await client.receive_until("complete")
    ack = next(e for e in events if e["type"] == "ack")
    assert ack["message"]["content"] == "Better question"
    second_ack = next(e for e in second if e["type"] == "ack")
    assert set(ack["removed"]) == {
        reply_id,
        second_ack["message"]["id"],
        second[-1]["message"]["id"],
    }
    contents = [m.content async for m in Message.objects.filter(chat=chat).order_by("position")]
    assert contents[1:] == ["Better question", "".join(TOKENS)]
    assert server.requests[-1].json()["messages"][-1]["content"] == "Better question"


async def test_clear_empties_the_chat_back_to_the_greeting(
    owned_chat: tuple[Chat, str], connect: Connect, llm: object
) -> None:
    await llm(sse_reply(TOKENS))  # type: ignore[operator]
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="Hi")
    await client.receive_until("complete")
    await client.send(type="clear")
    cleared = (await client.receive_until("cleared"))[-1]  # the auto-title may come first
    assert [m["role"] for m in cleared["messages"]] == ["assistant"]
    assert cleared["greeting_index"] == 0
    assert await Message.objects.filter(chat=chat).acount() == 1


async def test_a_greeting_swipe_redraws_every_open_socket(
    owned_chat: tuple[Chat, str], connect: Connect
) -> None:
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    browser = Client()
    browser.cookies["sessionid"] = key
    swiped = await sync_to_async(browser.post)(f"/chats/{chat.pk}/greeting/", {"index": "1"})
    assert swiped.status_code == 200
    cleared = await client.receive()
    assert cleared["type"] == "cleared"
    assert cleared["greeting_index"] == 1
    assert cleared["messages"][0]["content"].startswith("*Kaladin sets down a spear")


async def test_two_tabs_see_the_same_reply(
    owned_chat: tuple[Chat, str], connect: Connect, llm: object
) -> None:
    await llm(sse_reply(TOKENS, delay=0.02))  # type: ignore[operator]
    chat, key = owned_chat
    first, second = await connect(chat.pk, key), await connect(chat.pk, key)
    await first.receive()
    await second.receive()
    await first.send(type="chat", content="Both of you")
    seen_first = await first.receive_until("complete")
    seen_second = await second.receive_until("complete")
    assert seen_second[0]["type"] == "ack"
    assert joined(seen_first) == joined(seen_second) == "".join(TOKENS)


async def test_reconnecting_mid_stream_resumes_with_no_gap_or_duplicate(
    owned_chat: tuple[Chat, str], connect: Connect, llm: object
) -> None:
    tokens = [f" w{i}" for i in range(60)]
    await llm(sse_reply(tokens, delay=0.02))  # type: ignore[operator]
    chat, key = owned_chat
    first = await connect(chat.pk, key)
    await first.receive()
    await first.send(type="chat", content="Long story")
    for _ in range(4):
        await first.receive_until("stream")
    await first.close()
    await asyncio.sleep(0.15)  # deltas published while nobody is connected

    second = await connect(chat.pk, key)
    welcome = await second.receive()
    live = welcome["messages"][-1]
    assert live["status"] == "streaming"
    assert live["seq"] > 0
    text, seq = live["content"], live["seq"]
    events = await second.receive_until("complete")
    for event in events:
        if event["type"] == "stream" and event["seq"] > seq:
            assert event["seq"] == seq + 1
            text, seq = text + event["content"], event["seq"]
    final = events[-1]["message"]
    assert text == final["content"] == "".join(tokens)
    assert (await stored(final["id"])).content == text


async def test_closing_the_socket_does_not_stop_the_reply(
    owned_chat: tuple[Chat, str], connect: Connect, llm: object
) -> None:
    await llm(sse_reply(TOKENS, delay=0.02))  # type: ignore[operator]
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="Then I leave")
    reply_id = (await client.receive_until("ack"))[-1]["reply"]["id"]
    await client.close()
    async with asyncio.timeout(10):
        while (await stored(reply_id)).status == "streaming":
            await asyncio.sleep(0.05)
    saved = await stored(reply_id)
    assert (saved.status, saved.content) == ("complete", "".join(TOKENS))


async def test_a_reply_waiting_on_a_silent_backend_keeps_its_heartbeat(
    owned_chat: tuple[Chat, str],
    connect: Connect,
    llm: object,
    settings: Settings,
) -> None:
    # The heartbeat outlasts its TTL only if the run refreshes it while the backend is
    # quiet; without that, the sweep would take the reply for an orphan.
    settings.REPLY_HEARTBEAT_TTL = 2
    wire = openai_sse(TOKENS)
    await llm(Reply(body=[*wire[:2], 3.5, *wire[2:]]))  # type: ignore[operator]
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="Take your time")
    reply_id = (await client.receive_until("stream"))[0]["reply"]["id"]
    await asyncio.sleep(3.0)  # a second past the TTL, still before the next token

    state = await live.live_get(reply_id)

    assert state is not None
    assert state.text == TOKENS[0]
    assert await live.live_beating([reply_id]) == {reply_id}
    events = await client.receive_until("complete")
    assert events[-1]["message"]["content"] == "".join(TOKENS)


async def test_a_runaway_reply_is_cut_at_the_limit_and_upstream_closed(
    owned_chat: tuple[Chat, str], connect: Connect, llm: object, settings: object
) -> None:
    settings.MAX_REPLY_CHARS = 50  # type: ignore[attr-defined]
    settings.STREAM_MAX_BATCH_CHARS = 7  # type: ignore[attr-defined]
    server = await llm(sse_reply(["abcdefghijkl"] * 100, delay=0.01))  # type: ignore[operator]
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="Go")
    events = await client.receive_until("complete")
    streams = [e for e in events if e["type"] == "stream"]
    assert max(len(e["content"]) for e in streams) <= 7
    assert [e["seq"] for e in streams] == list(range(1, len(streams) + 1))
    final = events[-1]["message"]
    assert final["status"] == "complete"
    assert final["content"] == ("abcdefghijkl" * 5)[:50] == joined(streams)
    await asyncio.wait_for(server.client_hung_up.wait(), 5)


async def test_the_snapshot_is_bounded_however_long_the_chat(
    owned_chat: tuple[Chat, str], connect: Connect, settings: object
) -> None:
    settings.SNAPSHOT_MAX_CHARS = 10_000  # type: ignore[attr-defined]
    chat, key = owned_chat
    await Message.objects.abulk_create(
        Message(chat=chat, role="user", content="y" * 3000, position=p) for p in range(2, 40)
    )
    client = await connect(chat.pk, key)
    welcome = await client.receive()
    assert [m["position"] for m in welcome["messages"]] == [37, 38, 39]
    assert welcome["has_more"] is True


async def test_the_first_exchange_titles_the_chat(
    owned_chat: tuple[Chat, str], connect: Connect, llm: object
) -> None:
    def router(request: object) -> Reply:
        messages = request.json()["messages"]  # type: ignore[attr-defined]
        if "name conversations" in messages[0]["content"]:
            return Reply(body=openai_sse(['"Oaths', " and", ' Storms"']))
        return Reply(body=openai_sse(TOKENS))

    await llm(router)  # type: ignore[operator]
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="Tell me about the Ideals")
    title = (await client.receive_until("title"))[-1]
    assert title["title"] == "Oaths and Storms"
    await chat.arefresh_from_db()
    assert chat.title == "Oaths and Storms"


async def test_a_failed_title_falls_back_to_the_users_words(
    owned_chat: tuple[Chat, str], connect: Connect, llm: object
) -> None:
    def router(request: object) -> Reply:
        messages = request.json()["messages"]  # type: ignore[attr-defined]
        if "name conversations" in messages[0]["content"]:
            return Reply(status=500, content_type="application/json", body=[b"{}"])
        return Reply(body=openai_sse(TOKENS))

    await llm(router)  # type: ignore[operator]
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="What happened at the Tower on the plains today")
    title = (await client.receive_until("title"))[-1]
    assert title["title"] == "What happened at the Tower on"


async def test_the_page_gets_html_fragments_without_duplicates(
    owned_chat: tuple[Chat, str], llm: object
) -> None:
    await llm(sse_reply(TOKENS, delay=0.01))  # type: ignore[operator]
    chat, key = owned_chat
    communicator = chat_socket(chat.pk, key, html=True)
    assert (await communicator.connect())[0]
    welcome = await communicator.receive_from()
    assert 'id="messages" hx-swap-oob="innerHTML"' in welcome
    assert "Kaladin looks up" in welcome
    await communicator.send_to(text_data=json.dumps({"type": "chat", "content": "<b>hi</b>"}))
    frames = []
    while 'data-event="complete"' not in (frames[-1] if frames else ""):
        frames.append(await communicator.receive_from(timeout=10))
    ack = next(f for f in frames if 'data-event="ack"' in f)
    assert "&lt;b&gt;hi&lt;/b&gt;" in ack  # user text is escaped
    streamed = [f for f in frames if 'data-event="stream"' in f]
    assert streamed
    assert all('hx-swap-oob="beforeend:#message-' in f for f in streamed)
    # No text twice: the appended pieces are the reply exactly once, and each event once.
    pieces = [re.search(r'#message-\d+-text">(.*)</span>', f, re.S)[1] for f in streamed]
    assert "".join(pieces) == html.escape("".join(TOKENS), quote=True)
    events = [re.search(r'data-event="(\w+)"', f)[1] for f in frames]
    assert events.count("ack") == 1
    assert events.count("complete") == 1
    complete = frames[-1]
    assert 'data-status="complete"' in complete
    await communicator.disconnect()


async def test_a_frame_for_a_chat_deleted_behind_its_back_is_not_found(
    owned_chat: tuple[Chat, str], connect: Connect
) -> None:
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    # Deleted without its event reaching this socket (as when it was missed).
    await Chat.objects.filter(pk=chat.pk).adelete()
    for frame in ({"type": "chat", "content": "Hello?"}, {"type": "regenerate"}, {"type": "clear"}):
        await client.send(**frame)
        error = await client.receive()
        assert (error["type"], error["code"]) == ("error", "not_found")
    await client.send(type="ping")
    assert (await client.receive())["type"] == "pong"  # still open, no traceback


async def test_deleting_a_chat_tells_its_sockets_and_closes_them(
    owned_chat: tuple[Chat, str], connect: Connect
) -> None:
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    response = await sync_to_async(page_client(key).delete)(f"/api/chats/{chat.pk}/")
    assert response.status_code == 200
    assert await client.receive() == {"type": "deleted", "chat_id": str(chat.pk)}
    assert await client.ws.receive_output(5) == {"type": "websocket.close", "code": 4404}


def page_client(key: str) -> Client:
    client = Client()
    client.cookies["sessionid"] = key
    return client


async def test_page_sockets_share_each_events_rendering(
    owned_chat: tuple[Chat, str], llm: object
) -> None:
    await llm(sse_reply(TOKENS, delay=0.01))  # type: ignore[operator]
    chat, key = owned_chat
    pages = [chat_socket(chat.pk, key, html=True) for _ in range(4)]
    for page in pages:
        assert (await page.connect())[0]
        await page.receive_from()  # welcome: each its own snapshot
    before = fragment_cache.renders
    await pages[0].send_to(text_data=json.dumps({"type": "chat", "content": "Hello"}))
    received: list[list[str]] = []
    for page in pages:
        frames = [await page.receive_from(timeout=10)]
        while 'data-event="complete"' not in frames[-1]:
            frames.append(await page.receive_from(timeout=10))
        received.append(frames)
        await page.disconnect()
    assert all(frames == received[0] for frames in received)  # the same page everywhere
    assert fragment_cache.renders - before == len(received[0])  # rendered once, not 4 times


@pytest.mark.parametrize("message_id", ["²", "9" * 5000, -1, 2**63, 1.5, None])
async def test_an_edit_with_a_bad_message_id_is_a_bad_request_not_a_crash(
    owned_chat: tuple[Chat, str], connect: Connect, message_id: object
) -> None:
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="edit", message_id=message_id, content="x")
    assert (await client.receive())["code"] == "bad_request"  # was a 1011 close
    await client.send(type="ping")
    assert (await client.receive())["type"] == "pong"


async def test_a_connection_that_missed_batches_gets_a_fresh_snapshot(
    owned_chat: tuple[Chat, str], connect: Connect, llm: object
) -> None:
    await llm(sse_reply(TOKENS * 20, delay=0.02))  # type: ignore[operator]
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="Go on")
    last = (await client.receive_until("stream"))[-1]
    # A batch far ahead of what this connection has seen: the ones between were lost
    # (a channel layer that restarted, or a queue that overflowed).
    skipped = stream_event(message_id=last["message_id"], seq=last["seq"] + 5, content="?")
    await publish(chat_group(chat.pk), skipped)
    event = await client.receive()
    while event["type"] == "stream":  # batches the run published meanwhile
        event = await client.receive()
    assert event["type"] == "welcome"  # the chat as it is now, not a gap
    streaming = event["messages"][-1]
    assert streaming["status"] == "streaming"
    assert "?" not in streaming["content"]
    events = await client.receive_until("complete")
    text = streaming["content"] + "".join(
        e["content"] for e in events if e["type"] == "stream" and e["seq"] > streaming["seq"]
    )
    assert text == events[-1]["message"]["content"] == "".join(TOKENS * 20)


async def test_events_after_a_socket_was_closed_are_ignored(
    owned_chat: tuple[Chat, str], connect: Connect
) -> None:
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await client.receive()
    await sync_to_async(page_client(key).delete)(f"/api/chats/{chat.pk}/")
    assert (await client.receive())["type"] == "deleted"
    assert await client.ws.receive_output(5) == {"type": "websocket.close", "code": 4404}
    # Still in the group until daphne reports the disconnect: a batch for a reply this
    # socket never saw must not send it a snapshot of a chat that is gone (nor crash it).
    await publish(chat_group(chat.pk), stream_event(message_id=1, seq=3, content="late"))
    assert await client.ws.receive_nothing(0.3)
