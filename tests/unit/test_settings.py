"""Settings follow the environment: defaults for development, real services when set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'db': s.DATABASES['default']['ENGINE'], "
    "'db_name': s.DATABASES['default']['NAME'], "
    "'layer': s.CHANNEL_LAYERS['default']['BACKEND'], "
    "'cache': s.CACHES['default']['BACKEND'], 'debug': s.DEBUG, "
    "'hosts': s.ALLOWED_HOSTS, 'llm': s.LLM_BACKEND, 'apps': s.INSTALLED_APPS}))"
)


def settings_with(**env: str) -> dict[str, object]:
    base = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "stormchat.settings", "ENV_FILE": ""}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=base | env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_debug_is_off_unless_asked_for() -> None:
    assert settings_with(SECRET_KEY="x" * 50)["debug"] is False
    assert settings_with(DEBUG="1")["debug"] is True


def test_defaults_are_sqlite_in_memory_and_local_model() -> None:
    s = settings_with(DEBUG="1")
    assert s["db"] == "django.db.backends.sqlite3"
    assert s["layer"] == "stormchat.layers.LocalChannelLayer"
    assert s["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert s["llm"] == "local"
    assert s["apps"][0] == "daphne"


def test_urls_switch_to_postgresql_and_redis() -> None:
    s = settings_with(
        DEBUG="1",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/stormchat",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    assert s["db"] == "django.db.backends.postgresql"
    assert s["db_name"] == "stormchat"
    assert s["layer"].startswith("channels_redis.")
    assert s["cache"] == "django.core.cache.backends.redis.RedisCache"


def test_production_requires_a_secret_key() -> None:
    with pytest.raises(subprocess.CalledProcessError) as error:
        settings_with()
    assert "SECRET_KEY" in error.value.stderr
    s = settings_with(DEBUG="0", SECRET_KEY="x" * 50, ALLOWED_HOSTS="chat.example.com")
    assert s["debug"] is False
    assert s["hosts"] == ["chat.example.com"]
