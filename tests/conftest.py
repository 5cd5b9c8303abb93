"""Shared fixtures."""

from __future__ import annotations

import os
import socket
from typing import Any
from urllib.parse import urlparse

import pytest
from django.contrib.auth.models import User

from personas.models import Persona
from personas.services import personas_seed

PG_URL = os.environ.get("STORMCHAT_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/stormchat")
REDIS_URL = os.environ.get("STORMCHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=2):
            return True
    except OSError:
        return False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests last, after every asyncio test."""
    items.sort(key=lambda item: "tests/browser/" in str(item.path))


@pytest.fixture(scope="session")
def service_urls() -> dict[str, str]:
    """Loopback PostgreSQL and Redis. In CI (STORMCHAT_REQUIRE_SERVICES=1) absence fails."""
    missing = [url for url in (PG_URL, REDIS_URL) if not _reachable(url)]
    if missing:
        message = f"services not reachable: {', '.join(missing)} (run ./scripts/services.sh)"
        if os.environ.get("STORMCHAT_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return {"DATABASE_URL": PG_URL, "REDIS_URL": REDIS_URL}


@pytest.fixture
def personas(db: None) -> list[Persona]:
    """The shipped Stormlight personas."""
    personas_seed()
    return list(Persona.objects.all())


@pytest.fixture
def kaladin(personas: list[Persona]) -> Persona:
    """Kaladin, the first shipped persona."""
    return Persona.objects.get(slug="kaladin")


@pytest.fixture
def alice(db: None) -> User:
    """An ordinary user."""
    return User.objects.create_user("alice", password="correct horse battery staple")


@pytest.fixture
def staff(db: None) -> User:
    """A superuser who can use the admin."""
    return User.objects.create_superuser("staff", "staff@example.com", "staff-pass-123!")


@pytest.fixture(autouse=True)
def media_in_tmp(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Uploaded files (imported card portraits) go to a temporary folder, never the repo."""
    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    """Each test starts with empty rate-limit counters (they live in the cache)."""
    from django.core.cache import cache

    cache.clear()
