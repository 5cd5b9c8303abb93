"""Speech already made, kept through Django's storage API: a reply is synthesized once,
however often and by whomever it is played, and every server process shares the files
(django-storages works unchanged). Keyed by a hash of everything that shapes the audio."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

from asgiref.sync import sync_to_async
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from chat.speech.engines import Audio, SpeechEngine, VoiceSpec
from chat.speech.text import Spoken


def speech_path(engine: SpeechEngine, parts: list[Spoken], voice: VoiceSpec) -> str:
    """Where this speech is kept: a hash of the engine, the voice and the words."""
    key = json.dumps(
        [engine.fingerprint(), asdict(voice), [[p.text, p.narrator] for p in parts]],
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"speech/{digest[:2]}/{digest}.{engine.extension}"


async def spoken(engine: SpeechEngine, parts: list[Spoken], voice: VoiceSpec) -> Audio:
    """The speech from the store, or made now and kept."""
    path = speech_path(engine, parts, voice)
    kept = await sync_to_async(_read, thread_sensitive=False)(path)
    if kept is not None:
        return Audio(kept, engine.content_type)
    audio = await engine.speak(parts, voice)
    await sync_to_async(_keep, thread_sensitive=False)(path, audio.data)
    return audio


def _read(path: str) -> bytes | None:
    if not default_storage.exists(path):
        return None
    with default_storage.open(path, "rb") as handle:
        data: bytes = handle.read()
        return data


def _keep(path: str, data: bytes) -> None:
    if not default_storage.exists(path):  # another process may have just kept it
        default_storage.save(path, ContentFile(data))
