"""The names of the LLM backends, shared by settings, personas and the registry."""

from __future__ import annotations

from django.db import models


class BackendName(models.TextChoices):
    """Which LLM backend answers: the embedded model or one reached over HTTP."""

    LOCAL = "local", "Embedded local model (llama.cpp)"
    OLLAMA = "ollama", "Ollama (native API)"
    OPENAI = "openai", "OpenAI-compatible server"
    CLOUDFLARE = "cloudflare", "Cloudflare Workers AI"
