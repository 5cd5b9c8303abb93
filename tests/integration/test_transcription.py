"""The microphone's words: recordings checked, then sent to an OpenAI-compatible
transcription server on loopback in its own wire format."""

from __future__ import annotations

import io
import json
import wave
from collections.abc import AsyncIterator
from typing import Any

import pytest
from django.test import AsyncClient
from pytest_django.fixtures import Settings

from tests.fakes.llm_server import FakeLLMServer, Reply

pytestmark = pytest.mark.django_db(transaction=True)


def recording(seconds: float = 0.5) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\x00\x01" * int(16000 * seconds))
    return out.getvalue()


async def send(data: bytes) -> Any:
    upload = io.BytesIO(data)
    upload.name = "speech.webm"
    return await AsyncClient().post("/api/transcriptions/", {"file": upload})


@pytest.fixture
async def whisper(settings: Settings) -> AsyncIterator[FakeLLMServer]:
    answer = json.dumps({"text": " Life before death. "}).encode()
    server = await FakeLLMServer(Reply(content_type="application/json", body=[answer])).start()
    settings.STT_BACKEND, settings.STT_BASE_URL = "openai", f"{server.url}/v1"
    settings.STT_API_KEY, settings.STT_MODEL = "sk-ears", "whisper-large-v3"
    yield server
    await server.close()


async def test_a_recording_becomes_text_in_the_whisper_wire_format(
    whisper: FakeLLMServer,
) -> None:
    audio = recording()
    response = await send(audio)
    assert response.status_code == 200, response.content
    assert response.json() == {"text": "Life before death."}
    [request] = whisper.requests
    assert request.path == "/v1/audio/transcriptions"
    assert request.headers["authorization"] == "Bearer sk-ears"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="model"\r\n\r\nwhisper-large-v3' in request.body
    assert b'name="file"; filename="speech.wav"' in request.body  # named by its content
    assert audio in request.body


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"<html>not audio</html>", 400, "unsupported_audio"),
        (b"PK\x03\x04 a zip file", 400, "unsupported_audio"),
    ],
)
async def test_what_is_not_a_recording_is_refused_before_sending(
    whisper: FakeLLMServer, data: bytes, status: int, code: str
) -> None:
    response = await send(data)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert not whisper.requests


async def test_a_long_recording_is_413(whisper: FakeLLMServer, settings: Settings) -> None:
    settings.STT_MAX_BYTES = 1000
    response = await send(recording(1))
    assert response.status_code == 413
    assert not whisper.requests


async def test_recordings_are_rate_limited(whisper: FakeLLMServer, settings: Settings) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "transcriptions": (1, 60)}
    assert (await send(recording())).status_code == 200
    limited = await send(recording())
    assert limited.status_code == 429
    assert len(whisper.requests) == 1


@pytest.mark.parametrize(
    ("backend", "base_url", "status", "code"),
    [
        ("openai", "http://127.0.0.1:9/v1", 503, "stt_unavailable"),
        ("browser", "", 404, "stt_disabled"),
        ("none", "", 404, "stt_disabled"),
    ],
)
async def test_no_server_transcription_is_a_clear_error(
    settings: Settings, backend: str, base_url: str, status: int, code: str
) -> None:
    settings.STT_BACKEND, settings.STT_BASE_URL = backend, base_url
    response = await send(recording())
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_a_server_that_answers_without_text_is_stt_failed(settings: Settings) -> None:
    server = await FakeLLMServer(Reply(content_type="text/html", body=[b"<p>hi</p>"])).start()
    try:
        settings.STT_BACKEND, settings.STT_BASE_URL = "openai", f"{server.url}/v1"
        response = await send(recording())
        assert response.status_code == 502
        assert response.json()["error"]["code"] == "stt_failed"
    finally:
        await server.close()
