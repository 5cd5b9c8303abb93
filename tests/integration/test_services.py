"""The real services answer when their URLs are set (PostgreSQL and Redis on loopback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import asyncio, django
django.setup()
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import connection

async def roundtrip():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("probe", channel)
    await layer.group_send("probe", {"type": "probe.hello", "n": 7})
    message = await asyncio.wait_for(layer.receive(channel), 5)
    await layer.group_discard("probe", channel)
    return message["n"]

with connection.cursor() as cursor:
    cursor.execute("SELECT version()")
    print(cursor.fetchone()[0].split()[0])
cache.set("probe", "ok", 10)
print(cache.get("probe"))
print(asyncio.run(roundtrip()))
"""


@pytest.mark.services
def test_postgresql_redis_layer_and_cache_work_together(service_urls: dict[str, str]) -> None:
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "stormchat.settings", "DEBUG": "1"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env | service_urls,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["PostgreSQL", "ok", "7"]
