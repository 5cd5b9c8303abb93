"""Hypothesis throws random frames at the chat socket: it answers errors and stays up."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_django.fixtures import Settings

from chat.models import Chat
from chat.ownership import Owner
from chat.services import chat_create
from personas.models import Persona
from tests.fakes.llm_server import FakeLLMServer
from tests.integration.conftest import chat_socket, new_session_key, sse_reply

pytestmark = pytest.mark.django_db(transaction=True)
EVENT_TYPES = {"welcome", "ack", "stream", "complete", "error", "pong", "cleared", "title"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
wrong_types = st.fixed_dictionaries(
    {"type": st.sampled_from(["chat", "edit", "regenerate", "stop", "clear", "ping", "x"])},
    optional={"content": json_values, "message_id": json_values},
).map(json.dumps)
deep_json = st.tuples(st.integers(1, 100_000), st.sampled_from(["[]", "{}"])).map(
    lambda pair: (
        '{"a":' * pair[0] + "1" + "}" * pair[0]
        if pair[1] == "{}"
        else "[" * pair[0] + "]" * pair[0]
    )
)
huge_strings = st.integers(8_000, 300_000).map(
    lambda n: json.dumps({"type": "chat", "content": "ॐ" * n}, ensure_ascii=False)
)
unicode_edges = st.sampled_from(
    [
        '{"type": "chat", "content": "\\ud800"}',  # a lone surrogate
        '{"type": "chat", "content": "\\u0000"}',
        '{"type": "chat", "content": "\u202e\u2066 rtl"}',
        '{"type": "\\ud83d", "content": "x"}',
        '{"type": "chat", "content": "\ufeff"}',
        "\ufeff{}",
        '{"type": "chat", "content": "' + "\u0301" * 5000 + '"}',
    ]
)
frames = st.one_of(
    st.binary(max_size=3000),
    st.text(max_size=3000),
    json_values.map(json.dumps),
    wrong_types,
    deep_json,
    huge_strings,
    unicode_edges,
)


@pytest.fixture
def fuzz_chat(personas: list[Persona], settings: Settings) -> tuple[Chat, str]:
    # A backend that is down: any frame that does start a turn fails fast and cleanly.
    settings.LLM_BACKEND = "openai"
    settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"
    settings.LLM_CONNECT_TIMEOUT = 1
    key = new_session_key()
    chat = chat_create(owner=Owner(session_key=key), persona=Persona.objects.get(slug="kaladin"))
    return chat, key


async def exchange(chat_id: object, key: str, sent: list[str | bytes]) -> list[dict[str, Any]]:
    """Send the frames over one socket; return every event; fail if the app died."""
    ws = chat_socket(chat_id, key)
    assert (await ws.connect(timeout=10))[0]
    events = [json.loads(await ws.receive_from(10))]
    for frame in sent:
        kind = "bytes" if isinstance(frame, bytes) else "text"
        await ws.send_input({"type": "websocket.receive", kind: frame})
    await ws.send_json_to({"type": "ping"})
    while events[-1]["type"] != "pong":
        output = await ws.receive_output(10)
        assert output["type"] == "websocket.send", output  # never a close, never a crash
        events.append(json.loads(output["text"]))
    await ws.disconnect()
    return events


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sent=st.lists(frames, min_size=1, max_size=4))
def test_random_frames_get_error_events_and_never_break_the_socket(
    fuzz_chat: tuple[Chat, str], sent: list[str | bytes]
) -> None:
    chat, key = fuzz_chat
    events = async_to_sync(exchange)(chat.pk, key, sent)
    assert {e["type"] for e in events} <= EVENT_TYPES
    for event in events:
        if event["type"] == "error":
            assert isinstance(event["code"], str)
            assert event["message"]


async def test_after_the_fuzzing_a_normal_chat_still_works(
    fuzz_chat: tuple[Chat, str],
) -> None:
    chat, key = fuzz_chat
    garbage: list[str | bytes] = [b"\xff\x00", "[" * 50_000, '{"type": "chat", "content": 7}']
    await exchange(chat.pk, key, garbage)
    server = await FakeLLMServer(sse_reply(["Still ", "standing."])).start()
    try:
        from django.conf import settings as django_settings

        django_settings.LLM_BASE_URL = f"{server.url}/v1"
        ws = chat_socket(chat.pk, key)
        assert (await ws.connect())[0]
        await ws.receive_json_from(10)
        await ws.send_json_to({"type": "chat", "content": "Are you there?"})
        event: dict[str, Any] = {}
        while event.get("type") != "complete":
            event = await ws.receive_json_from(10)
        assert event["message"]["content"] == "Still standing."
        await ws.disconnect()
    finally:
        await server.close()
