from __future__ import annotations

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from chat.backends.cloudflare import CloudflareBackend
from chat.backends.local import LocalBackend
from chat.backends.ollama import OllamaBackend
from chat.backends.openai_compat import OpenAICompatBackend
from chat.backends.registry import backend_for_persona, get_backend
from chat.errors import BackendMisconfigured
from personas.models import Persona


def test_default_is_the_embedded_model(settings: SettingsWrapper) -> None:
    settings.LLM_BACKEND = "local"
    assert isinstance(get_backend(), LocalBackend)


def test_llm_variables_configure_the_default_backend(settings: SettingsWrapper) -> None:
    settings.LLM_BACKEND = "openai"
    settings.LLM_BASE_URL = "http://127.0.0.1:8080/v1"
    settings.LLM_API_KEY = "sk-abcdefghijkl"
    settings.LLM_MODEL = "qwen3"
    backend = get_backend()
    assert isinstance(backend, OpenAICompatBackend)
    assert backend.base == "http://127.0.0.1:8080/v1"
    assert backend.model == "qwen3"
    described = backend.describe()
    assert described["api_key"] == "set (****ijkl)"
    assert "sk-abcdefghijkl" not in str(described)
    assert "sk-abcdefghijkl" not in repr(backend.config)


def test_ollama_uses_ollama_host_and_defaults(settings: SettingsWrapper) -> None:
    settings.LLM_BACKEND = "local"
    settings.OLLAMA_HOST = "http://gpu-box:11434/"
    assert get_backend("ollama").root == "http://gpu-box:11434"  # type: ignore[attr-defined]
    settings.OLLAMA_HOST = ""
    assert get_backend("ollama").root == "http://localhost:11434"  # type: ignore[attr-defined]


def test_cloudflare_needs_an_account_and_defaults_to_llama_31(settings: SettingsWrapper) -> None:
    settings.LLM_BACKEND = "cloudflare"
    settings.LLM_MODEL = ""
    settings.CLOUDFLARE_ACCOUNT_ID = ""
    backend = get_backend()
    assert isinstance(backend, CloudflareBackend)
    assert backend.model == "@cf/meta/llama-3.1-8b-instruct"
    with pytest.raises(BackendMisconfigured, match="CLOUDFLARE_ACCOUNT_ID"):
        _ = backend.account_root
    settings.CLOUDFLARE_ACCOUNT_ID = "abc"
    assert get_backend().account_root == (  # type: ignore[attr-defined]
        "https://api.cloudflare.com/client/v4/accounts/abc"
    )


def test_unknown_backend_is_a_clear_error(settings: SettingsWrapper) -> None:
    settings.LLM_BACKEND = "gpt5000"
    with pytest.raises(BackendMisconfigured, match="Unknown LLM backend 'gpt5000'"):
        get_backend()


@pytest.mark.django_db
def test_persona_overrides_backend_model_and_sampling(
    settings: SettingsWrapper, kaladin: Persona
) -> None:
    settings.LLM_BACKEND = "local"
    settings.OLLAMA_API_KEY = "ollama-cloud-key"
    kaladin.backend = "ollama"
    kaladin.model = "gpt-oss:20b"
    kaladin.temperature = 0.3
    kaladin.max_tokens = 99
    backend, options = backend_for_persona(kaladin)
    assert isinstance(backend, OllamaBackend)
    assert backend.config.api_key == "ollama-cloud-key"
    assert (options.model, options.temperature, options.max_tokens) == ("gpt-oss:20b", 0.3, 99)
    assert options.top_p == kaladin.top_p


@pytest.mark.django_db
def test_persona_without_overrides_uses_the_site_default(
    settings: SettingsWrapper, kaladin: Persona
) -> None:
    settings.LLM_BACKEND = "openai"
    settings.LLM_MODEL = "site-model"
    backend, options = backend_for_persona(kaladin)
    assert isinstance(backend, OpenAICompatBackend)
    assert options.model == "site-model"
