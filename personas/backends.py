"""The LLM backends a persona can answer with, by name, and whether each sends a key.

These live with personas (their ``backend`` field chooses one) so that ``personas`` never
imports ``chat``; ``chat.backends.registry`` maps each name to its class.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class BackendName(models.TextChoices):
    """Which LLM backend answers: the embedded model or one reached over HTTP."""

    LOCAL = "local", "Embedded local model (llama.cpp)"
    OLLAMA = "ollama", "Ollama (native API)"
    OPENAI = "openai", "OpenAI-compatible server"
    CLOUDFLARE = "cloudflare", "Cloudflare Workers AI"


def backend_api_key(name: str) -> str:
    """The API key this backend sends: ``LLM_API_KEY`` for the default backend, else the
    backend's own variable (``OLLAMA_API_KEY``, ``OPENAI_API_KEY``, ``CLOUDFLARE_API_TOKEN``)."""
    own_key = {
        BackendName.OLLAMA: settings.OLLAMA_API_KEY,
        BackendName.OPENAI: settings.OPENAI_API_KEY,
        BackendName.CLOUDFLARE: settings.CLOUDFLARE_API_TOKEN,
    }.get(name, "")
    return (settings.LLM_API_KEY if name == settings.LLM_BACKEND else "") or own_key


def uses_api_key(backend: str) -> bool:
    """Whether a persona with this ``backend`` field (blank: the default) sends a key."""
    name = backend or settings.LLM_BACKEND
    return name in BackendName.values and bool(backend_api_key(name))
