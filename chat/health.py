"""``GET /health``: database, channel layer and LLM backend, as JSON; 503 when one is down."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, JsonResponse

from chat.backends.base import Backend
from chat.backends.registry import get_backend
from chat.errors import BackendError

LLM_CHECK_TTL = 15.0
_llm_cache: dict[str, tuple[float, dict[str, Any]]] = {}


def _database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True, "vendor": connection.vendor}


async def _channel_layer() -> dict[str, Any]:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "health.ping"})
    await asyncio.wait_for(layer.receive(channel), 3)
    return {"ok": True, "backend": type(layer).__name__}


async def _llm() -> dict[str, Any]:
    """Whether the default backend answers (cached briefly so probes don't hammer it), and
    how busy it is now. A busy embedded model is up: its queue length says how busy."""
    backend = get_backend()
    return {**await _llm_reachable(backend), **backend.load()}


async def _llm_reachable(backend: Backend) -> dict[str, Any]:
    cached = _llm_cache.get(backend.name)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    try:
        models = await asyncio.wait_for(backend.list_models(), 5)
        result = {
            "ok": True,
            "backend": backend.name,
            "model": backend.model,
            "models": len(models),
        }
    except BackendError as error:
        result = {"ok": False, "backend": backend.name, "code": error.code, "error": error.message}
        if error.detail:
            result["detail"] = error.detail
    except TimeoutError:
        result = {"ok": False, "backend": backend.name, "code": "backend_timeout"}
    _llm_cache[backend.name] = (time.monotonic() + LLM_CHECK_TTL, result)
    return result


async def _guard(check: Any) -> dict[str, Any]:
    try:
        return await check
    except Exception as error:  # a health probe reports failures, it never raises
        return {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}


async def health(request: HttpRequest) -> JsonResponse:
    """200 when every dependency is up, else 503. Anyone sees the status and which checks
    passed; staff also see the details (backends, models, errors and addresses), which
    operators otherwise find with ``llm_check`` and in the logs."""
    database, layer, llm = await asyncio.gather(
        _guard(database_sync_to_async(_database)()),
        _guard(_channel_layer()),
        _guard(_llm()),
    )
    checks = {"database": database, "channel_layer": layer, "llm": llm}
    ok = all(check["ok"] for check in checks.values())
    user = await request.auser()
    if not user.is_staff:
        checks = {name: {"ok": check["ok"]} for name, check in checks.items()}
    return JsonResponse({"status": "ok" if ok else "degraded", **checks}, status=200 if ok else 503)
