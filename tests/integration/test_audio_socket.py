"""``ws/audio/<chat_id>/``: a recording in, its words and the spoken reply out."""

from __future__ import annotations

import io
import json
import wave
from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from pytest_django.fixtures import Settings

from chat.models import Chat, Message
from tests.fakes.llm_server import FakeLLMServer, Reply

from .conftest import Connect, application, sse_reply

pytestmark = pytest.mark.django_db(transaction=True)
REPLY = [
    "The highstorm is coming, so get inside right now. ",
    "Bar the door behind you, ",
    "and wait.",
]


def recording() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\x00\x01" * 8000)
    return out.getvalue()


def audio_socket(chat_id: object, key: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        application,
        f"/ws/audio/{chat_id}/",
        headers=[
            (b"host", b"localhost"),
            (b"origin", b"http://localhost"),
            (b"cookie", f"sessionid={key}".encode()),
        ],
    )
    communicator.scope["client"] = ("127.0.0.1", 50000)
    return communicator


async def events_until(ws: WebsocketCommunicator, kind: str) -> list[Any]:
    """Text events (dicts) and binary frames (bytes) up to the first ``kind`` event."""
    seen: list[Any] = []
    while True:
        frame = await ws.receive_output(timeout=20)
        if frame.get("bytes") is not None:
            seen.append(frame["bytes"])
            continue
        event = json.loads(frame["text"])
        seen.append(event)
        if event["type"] == kind:
            return seen


@pytest.fixture
async def whisper(settings: Settings) -> AsyncIterator[FakeLLMServer]:
    answer = json.dumps({"text": "Is a storm coming?"}).encode()
    server = await FakeLLMServer(Reply(content_type="application/json", body=[answer])).start()
    settings.STT_BACKEND, settings.STT_BASE_URL = "openai", f"{server.url}/v1"
    settings.TTS_BACKEND = "local"
    yield server
    await server.close()


async def test_speech_in_words_out_and_the_reply_spoken_as_it_is_written(
    owned_chat: tuple[Chat, str], connect: Connect, llm: Any, whisper: FakeLLMServer
) -> None:
    await llm(sse_reply(REPLY, delay=0.05))
    chat, key = owned_chat
    tab = await connect(chat.pk, key)  # a page open on the same chat
    await tab.receive()
    ws = audio_socket(chat.pk, key)
    assert (await ws.connect())[0]
    assert json.loads(await ws.receive_from())["type"] == "ready"
    audio = recording()
    for start in range(0, len(audio), 4096):  # as MediaRecorder's timeslices arrive
        await ws.send_to(bytes_data=audio[start : start + 4096])
    await ws.send_json_to({"type": "end", "send": True})
    seen = await events_until(ws, "audio_end")
    transcript = seen[0]
    assert transcript == {"type": "transcript", "text": "Is a storm coming?"}
    assert audio in whisper.requests[0].body

    announced = [e for e in seen if isinstance(e, dict) and e["type"] == "audio"]
    frames = [e for e in seen if isinstance(e, bytes)]
    assert len(announced) == len(frames) >= 2  # spoken in parts, as the reply was written
    for event, frame in zip(announced, frames, strict=True):
        assert event["size"] == len(frame)
        assert event["content_type"] == "audio/wav"
        with wave.open(io.BytesIO(frame)) as wav:
            assert wav.getnframes() > 0
    ack = (await tab.receive_until("ack"))[-1]  # the same turn every tab sees
    assert ack["message"]["content"] == "Is a storm coming?"
    assert await Message.objects.filter(chat=chat, content="Is a storm coming?").aexists()
    await ws.disconnect()


async def test_an_existing_reply_can_be_spoken_and_bad_frames_are_errors(
    owned_chat: tuple[Chat, str], whisper: FakeLLMServer
) -> None:
    chat, key = owned_chat
    greeting = await Message.objects.aget(chat=chat, position=1)
    ws = audio_socket(chat.pk, key)
    assert (await ws.connect())[0]
    await ws.receive_from()
    await ws.send_json_to({"type": "speak", "message_id": greeting.pk})
    seen = await events_until(ws, "audio_end")
    assert [type(item) for item in seen] == [dict, bytes, dict]
    for frame, code in (
        ("not json", "bad_json"),
        ('{"type": "dance"}', "bad_request"),
        ('{"type": "end"}', "unsupported_audio"),  # nothing recorded
    ):
        await ws.send_to(text_data=frame)
        error = json.loads(await ws.receive_from())
        assert (error["type"], error["code"]) == ("error", code)
    assert not whisper.requests
    await ws.send_json_to({"type": "ping"})
    assert json.loads(await ws.receive_from())["type"] == "pong"
    await ws.disconnect()


async def test_a_recording_over_the_limit_is_dropped(
    owned_chat: tuple[Chat, str], whisper: FakeLLMServer, settings: Settings
) -> None:
    settings.STT_MAX_BYTES = 10_000
    chat, key = owned_chat
    ws = audio_socket(chat.pk, key)
    assert (await ws.connect())[0]
    await ws.receive_from()
    await ws.send_to(bytes_data=b"\x00" * 12_000)
    error = json.loads(await ws.receive_from())
    assert error["code"] == "too_large"
    await ws.disconnect()


async def test_someone_elses_chat_is_closed_4404(owned_chat: tuple[Chat, str]) -> None:
    chat, _ = owned_chat
    ws = audio_socket(chat.pk, "someone-else")
    connected, _ = await ws.connect()
    assert connected
    assert (await ws.receive_output())["code"] == 4404
