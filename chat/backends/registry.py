"""Which backend answers, configured from settings and, per persona, from the admin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

from chat.backends.base import Backend, BackendConfig, GenerationOptions, Timeouts
from chat.backends.cloudflare import CloudflareBackend
from chat.backends.local import LocalBackend
from chat.backends.ollama import OllamaBackend
from chat.backends.openai_compat import OpenAICompatBackend
from chat.errors import BackendMisconfigured
from personas.backends import BackendName, backend_api_key

if TYPE_CHECKING:
    from personas.models import Persona

BACKENDS: dict[str, type[Backend]] = {
    BackendName.LOCAL: LocalBackend,
    BackendName.OLLAMA: OllamaBackend,
    BackendName.OPENAI: OpenAICompatBackend,
    BackendName.CLOUDFLARE: CloudflareBackend,
}


def read_window(publishing_window: float) -> float:
    """How long to hold an upstream's reads for a stream published every
    ``publishing_window`` seconds: the same, unless ``STREAM_PACED_READS`` is off (0)."""
    return publishing_window if settings.STREAM_PACED_READS else 0.0


def backend_config(name: str) -> BackendConfig:
    """The configuration for a backend by name.

    The ``LLM_*`` variables describe the default backend (``LLM_BACKEND``). A persona that
    overrides the backend uses that backend's own variables (``OLLAMA_HOST``,
    ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``, ``OLLAMA_API_KEY``, ``CLOUDFLARE_API_TOKEN``).
    """
    is_default = name == settings.LLM_BACKEND
    own_base = {
        BackendName.OLLAMA: settings.OLLAMA_HOST,
        BackendName.OPENAI: settings.OPENAI_BASE_URL,
    }.get(name, "")
    local = name == BackendName.LOCAL
    return BackendConfig(
        name=name,
        base_url=(settings.LLM_BASE_URL if is_default else "") or own_base,
        api_key=backend_api_key(name),
        model=settings.LLM_MODEL if is_default else "",
        account_id=settings.CLOUDFLARE_ACCOUNT_ID,
        model_path=settings.LOCAL_MODEL_PATH,
        context_tokens=settings.LOCAL_CONTEXT_TOKENS if local else settings.LLM_CONTEXT_TOKENS,
        num_ctx=settings.LLM_NUM_CTX,
        timeouts=Timeouts(
            connect=settings.LLM_CONNECT_TIMEOUT,
            first_token=settings.LLM_FIRST_TOKEN_TIMEOUT,
            idle=settings.LLM_IDLE_TIMEOUT,
        ),
        read_window=read_window(settings.STREAM_COALESCE_MS / 1000),
    )


def get_backend(name: str | None = None) -> Backend:
    """The backend with this name, or the site default (``LLM_BACKEND``)."""
    name = name or settings.LLM_BACKEND
    if name not in BACKENDS:
        choices = ", ".join(BACKENDS)
        raise BackendMisconfigured(f"Unknown LLM backend {name!r}; choose one of: {choices}.")
    return BACKENDS[name](backend_config(name))


def backend_for_persona(
    persona: Persona, override: str | None = None
) -> tuple[Backend, GenerationOptions]:
    """The backend and options a persona answers with, its overrides applied (or another
    backend by name, whose own default model then answers)."""
    backend = get_backend(override or persona.backend or None)
    persona_model = persona.model if not override or override == persona.backend else ""
    options = GenerationOptions(
        model=persona_model or backend.model,
        temperature=persona.temperature,
        top_p=persona.top_p,
        max_tokens=persona.max_tokens,
        stop=tuple(persona.stop_sequences or ()),
        repeat_penalty=persona.repeat_penalty,
        frequency_penalty=persona.frequency_penalty,
        presence_penalty=persona.presence_penalty,
        min_p=persona.min_p,
        top_k=persona.top_k,
        seed=persona.seed,
    )
    return backend, options


# The backends whose wire format carries pictures (Ollama's ``images``, OpenAI's
# ``image_url`` parts); the embedded model and Workers AI's text models see none.
VISION_BACKENDS = {BackendName.OLLAMA, BackendName.OPENAI}


def sees_images(persona: Persona, backend: Backend) -> bool:
    """Whether the persona's backend and model see pictures: a persona with a backend of
    its own says so itself (``vision``); otherwise the site's ``LLM_VISION`` does."""
    if backend.name not in VISION_BACKENDS:
        return False
    return persona.vision if persona.backend else settings.LLM_VISION
