"""Values every page's templates need."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from chat.models import Activation


def limits(request: HttpRequest | None = None) -> dict[str, Any]:
    """The limits the composer enforces in the browser (the server enforces them too)."""
    return {
        "max_message_chars": settings.MAX_MESSAGE_CHARS,
        "attachment_max_bytes": settings.ATTACHMENT_MAX_BYTES,
        "speech_enabled": settings.TTS_BACKEND != "none",
        "stt_backend": settings.STT_BACKEND,
        # Group scenes: who answers, and how many replies one press of Auto asks for.
        "activations": Activation.choices,
        "auto_max_turns": settings.GROUP_AUTO_MAX_TURNS,
    }
