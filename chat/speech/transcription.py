"""Recordings turned into text by an OpenAI-compatible transcription server
(``STT_BACKEND=openai``): ``POST {STT_BASE_URL}/audio/transcriptions``, multipart, as
OpenAI, faster-whisper-server, whisper.cpp's server, Groq and LocalAI take it.

A recording is checked by its first bytes (WebM, Ogg, WAV, MP3, MP4/M4A or FLAC, whatever
its name or declared type says) and its size before anything is sent.
"""

from __future__ import annotations

from django.conf import settings

from chat.errors import (
    AttachmentTooLarge,
    TranscriptionDisabled,
    TranscriptionFailed,
    TranscriptionUnavailable,
    UnsupportedAudio,
)
from chat.speech.service import service_post

EXTENSIONS = {
    "audio/webm": "webm",
    "audio/ogg": "ogg",
    "audio/wav": "wav",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "audio/flac": "flac",
}


def audio_type(data: bytes) -> str | None:
    """The recording's type from its first bytes, or None if it is not audio we take."""
    head = data[:16]
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "audio/webm"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if head[4:8] == b"ftyp":
        return "audio/mp4"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    return None


async def transcribe(data: bytes) -> str:
    """The words in the recording."""
    if settings.STT_BACKEND != "openai":
        raise TranscriptionDisabled(
            "This site recognises speech in the browser, not on the server."
            if settings.STT_BACKEND == "browser"
            else "Speech input is switched off on this site (STT_BACKEND=none)."
        )
    if len(data) > settings.STT_MAX_BYTES:
        limit = settings.STT_MAX_BYTES // 1024 // 1024
        raise AttachmentTooLarge(f"Recordings are limited to {limit} MB.")
    kind = audio_type(data)
    if kind is None:
        raise UnsupportedAudio("That is not a recording (WebM, Ogg, WAV, MP3, M4A or FLAC).")
    response = await service_post(
        settings.STT_BASE_URL.rstrip("/") + "/audio/transcriptions",
        label="transcription",
        setting="STT_BASE_URL",
        unavailable=TranscriptionUnavailable,
        failed=TranscriptionFailed,
        api_key=settings.STT_API_KEY,
        seconds=settings.STT_TIMEOUT,
        files={"file": (f"speech.{EXTENSIONS[kind]}", data, kind)},
        data={"model": settings.STT_MODEL, "response_format": "json"},
    )
    try:
        text = response.json().get("text")
    except (ValueError, AttributeError):
        text = None
    if not isinstance(text, str):
        raise TranscriptionFailed("The transcription server answered without any text.")
    return text.strip()
