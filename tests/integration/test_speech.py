"""Replies read aloud: the local engine for real, an OpenAI-compatible speech server on
loopback, and every failure a clear error that leaves text chat alone."""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.test import AsyncClient
from pytest_django.fixtures import Settings

from chat.models import Chat, Message
from tests.fakes.llm_server import FakeLLMServer, Reply

from .conftest import Connect, sse_reply

pytestmark = pytest.mark.django_db(transaction=True)
MP3 = b"\xff\xfb\x90\x64" + b"\x00" * 400  # an MP3 frame header and silence


@pytest.fixture
async def speech_server(settings: Settings) -> AsyncIterator[FakeLLMServer]:
    """An OpenAI-compatible speech server on loopback answering MP3, as the site's
    speech backend."""
    server = await FakeLLMServer(Reply(content_type="audio/mpeg", body=[MP3])).start()
    settings.TTS_BACKEND, settings.TTS_BASE_URL = "openai", f"{server.url}/v1"
    yield server
    await server.close()


def visitor(key: str) -> AsyncClient:
    client = AsyncClient()
    client.cookies["sessionid"] = key
    return client


async def greeting(chat: Chat) -> Message:
    return await Message.objects.aget(chat=chat, position=1)


def speech_url(chat: Chat, message: Message) -> str:
    return f"/api/chats/{chat.pk}/messages/{message.pk}/speech/"


async def test_the_local_voice_reads_a_reply_as_wav_once(
    owned_chat: tuple[Chat, str], settings: Settings
) -> None:
    settings.TTS_BACKEND = "local"
    chat, key = owned_chat
    message = await greeting(chat)
    response = await visitor(key).get(speech_url(chat, message))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 22050)
        seconds = wav.getnframes() / wav.getframerate()
    assert seconds > 3  # Kaladin's greeting is a few sentences long
    stored = [name for name in _stored_speech() if name.endswith(".wav")]
    assert len(stored) == 1  # kept for the next time
    again = await visitor(key).get(speech_url(chat, message))
    assert again.content == response.content
    assert len(list(_stored_speech())) == 1


async def test_personas_sound_different_on_the_local_voice(
    owned_chat: tuple[Chat, str], settings: Settings
) -> None:
    settings.TTS_BACKEND = "local"
    chat, key = owned_chat
    message = await greeting(chat)
    first = (await visitor(key).get(speech_url(chat, message))).content
    persona = await chat.persona.__class__.objects.aget(pk=chat.persona_id)
    persona.voice_pitch, persona.voice_speed = 1.3, 1.5
    await persona.asave()
    second = (await visitor(key).get(speech_url(chat, message))).content
    assert first != second
    with wave.open(io.BytesIO(first)) as a, wave.open(io.BytesIO(second)) as b:
        assert b.getnframes() < a.getnframes()  # faster


async def test_an_openai_compatible_server_gets_the_request_it_expects(
    owned_chat: tuple[Chat, str], settings: Settings, speech_server: FakeLLMServer
) -> None:
    settings.TTS_API_KEY, settings.TTS_MODEL = "sk-speech", "kokoro"
    chat, key = owned_chat
    persona = await chat.persona.__class__.objects.aget(pk=chat.persona_id)
    persona.voice = "am_michael"
    await persona.asave()
    message = await greeting(chat)
    response = await visitor(key).get(speech_url(chat, message))
    assert response.status_code == 200, response.content
    assert (response["Content-Type"], response.content) == ("audio/mpeg", MP3)
    [request] = speech_server.requests
    assert request.path == "/v1/audio/speech"
    assert request.headers["authorization"] == "Bearer sk-speech"
    body = request.json()
    assert (body["model"], body["voice"], body["response_format"]) == (
        "kokoro",
        "am_michael",
        "mp3",
    )
    assert body["speed"] == persona.voice_speed
    assert body["input"].startswith("Kaladin looks up")  # the action, read in his voice
    assert "*" not in body["input"]


async def test_a_narrator_voice_reads_the_actions(
    owned_chat: tuple[Chat, str], settings: Settings, speech_server: FakeLLMServer
) -> None:
    settings.TTS_NARRATOR_VOICE, settings.TTS_VOICE = "fable", "onyx"
    chat, key = owned_chat
    response = await visitor(key).get(speech_url(chat, await greeting(chat)))
    assert response.content == MP3 * len(speech_server.requests)
    spoken = [(r.json()["voice"], r.json()["input"]) for r in speech_server.requests]
    assert spoken[0][0] == "fable"
    assert spoken[0][1].startswith("Kaladin looks up")
    assert spoken[1][0] == "onyx"
    assert {voice for voice, _ in spoken} == {"fable", "onyx"}


@pytest.mark.parametrize(
    ("backend", "base_url", "status", "code"),
    [
        ("openai", "http://127.0.0.1:9/v1", 503, "tts_unavailable"),
        ("none", "", 404, "tts_disabled"),
    ],
)
async def test_speech_failures_are_clear_and_text_chat_goes_on(
    owned_chat: tuple[Chat, str],
    connect: Connect,
    llm: Any,
    settings: Settings,
    backend: str,
    base_url: str,
    status: int,
    code: str,
) -> None:
    await llm(sse_reply(["Still ", "here."]))
    settings.TTS_BACKEND, settings.TTS_BASE_URL = backend, base_url
    chat, key = owned_chat
    response = await visitor(key).get(speech_url(chat, await greeting(chat)))
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="Hello?")
    complete = (await client.receive_until("complete"))[-1]
    assert complete["message"]["content"] == "Still here."


async def test_a_server_that_answers_garbage_is_tts_failed(
    owned_chat: tuple[Chat, str], settings: Settings
) -> None:
    page = Reply(content_type="text/html", body=[b"<html>oops</html>"])
    server = await FakeLLMServer(page).start()
    try:
        settings.TTS_BACKEND, settings.TTS_BASE_URL = "openai", f"{server.url}/v1"
        chat, key = owned_chat
        response = await visitor(key).get(speech_url(chat, await greeting(chat)))
        assert response.status_code == 502
        assert response.json()["error"]["code"] == "tts_failed"
    finally:
        await server.close()


async def test_only_the_owner_hears_a_reply_and_only_a_finished_one(
    owned_chat: tuple[Chat, str], settings: Settings
) -> None:
    settings.TTS_BACKEND = "local"
    chat, key = owned_chat
    message = await greeting(chat)
    stranger = await visitor("nobody").get(speech_url(chat, message))
    assert stranger.status_code == 404
    await Message.objects.filter(pk=message.pk).aupdate(status="streaming")
    writing = await visitor(key).get(speech_url(chat, message))
    assert writing.status_code == 400
    assert writing.json()["error"]["code"] == "nothing_to_say"


def _stored_speech() -> list[str]:
    names: list[str] = []
    if not default_storage.exists("speech"):
        return names
    for folder in default_storage.listdir("speech")[0]:
        names += default_storage.listdir(f"speech/{folder}")[1]
    return names


async def test_a_part_of_a_reply_being_written_can_be_read(
    owned_chat: tuple[Chat, str], settings: Settings
) -> None:
    settings.TTS_BACKEND = "local"
    chat, key = owned_chat
    message = await greeting(chat)
    written = "The storm is coming. Get inside, and bar the door behind you."
    await Message.objects.filter(pk=message.pk).aupdate(status="streaming", content=written)
    url = speech_url(chat, message)
    part = await visitor(key).get(url, {"text": "The storm is coming."})
    assert part.status_code == 200, part.content
    assert part["Content-Type"] == "audio/wav"
    whole = await visitor(key).get(url)
    assert whole.json()["error"]["code"] == "nothing_to_say"  # not until it is finished
    for stranger_text in ("Something the reply never said.", "x" * 5000):
        refused = await visitor(key).get(url, {"text": stranger_text})
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "nothing_to_say"


async def test_auto_read_is_a_chat_setting_on_every_interface(
    owned_chat: tuple[Chat, str], connect: Connect
) -> None:
    chat, key = owned_chat
    first, second = await connect(chat.pk, key), await connect(chat.pk, key)
    await first.receive()
    await second.receive()
    await first.send(type="auto_read", auto_read=True)
    for tab in (first, second):
        assert (await tab.receive_until("settings"))[-1]["chat"]["auto_read"] is True
    response = await visitor(key).patch(
        f"/api/chats/{chat.pk}/", {"auto_read": False}, content_type="application/json"
    )
    assert response.status_code == 200
    for tab in (first, second):
        assert (await tab.receive_until("settings"))[-1]["chat"]["auto_read"] is False
    page = visitor(key)
    await page.post(f"/chats/{chat.pk}/settings/", {"auto_read": ["0", "1"]})
    assert (await first.receive_until("settings"))[-1]["chat"]["auto_read"] is True
    refreshed = await Chat.objects.aget(pk=chat.pk)
    assert refreshed.auto_read
    assert refreshed.authors_note == ""  # a form with one field leaves the others alone


async def test_reading_aloud_is_rate_limited(
    owned_chat: tuple[Chat, str], settings: Settings
) -> None:
    settings.TTS_BACKEND = "local"
    # A day-long window: the first reading (Piper, on a busy machine) can take seconds, and
    # three requests straddling a fixed window's edge would start counting afresh.
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "speech": (2, 86_400)}
    chat, key = owned_chat
    url = speech_url(chat, await greeting(chat))
    for _ in range(2):
        assert (await visitor(key).get(url)).status_code == 200
    limited = await visitor(key).get(url)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
