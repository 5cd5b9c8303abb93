"""The peer people would pick instead, measured in the same run: Open WebUI.

Open WebUI runs under uvicorn, pinned to the app's core like daphne, with the same fake
upstream as its OpenAI connection and everything that would add upstream calls (titles,
tags, follow-ups, retrieval) switched off. Its own OpenAI-compatible endpoint
(``POST /api/chat/completions``, streamed) is driven at REF's load: 100 replies at once,
50 tokens/s, 400 tokens each. That is the cheapest path Open WebUI has (its web page
adds Socket.IO events on top), so the comparison favours the peer.

Open WebUI is not one of Stormchat's dependencies: install it in a virtualenv of its own
(``make bench-peer`` does) and point ``OPEN_WEBUI_PYTHON`` at that virtualenv's python.
Without it this scenario reports that it did not run.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from typing import Any

import httpx

from bench.fake_backend import expected_text
from bench.harness import (
    APP_CORE,
    Turn,
    configure_backend,
    cpu_seconds,
    direct_turn,
    free_port,
    percentile,
    process,
    sse_turn,
    summary_ms,
)

STREAMS, RATE, TOKENS = 100, 50, 400
# Open WebUI's options that would make calls of their own, or reach the network.
QUIET = {
    "ENABLE_OLLAMA_API": "false",
    "ENABLE_TITLE_GENERATION": "false",
    "ENABLE_TAGS_GENERATION": "false",
    "ENABLE_FOLLOW_UP_GENERATION": "false",
    "ENABLE_AUTOCOMPLETE_GENERATION": "false",
    "ENABLE_RETRIEVAL_QUERY_GENERATION": "false",
    "ENABLE_SEARCH_QUERY_GENERATION": "false",
    "BYPASS_EMBEDDING_AND_RETRIEVAL": "true",
    "RAG_EMBEDDING_MODEL_AUTO_UPDATE": "false",
    "RAG_RERANKING_MODEL_AUTO_UPDATE": "false",
    "ENABLE_VERSION_UPDATE_CHECK": "false",
    "OFFLINE_MODE": "true",
    "HF_HUB_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "false",
    "SCARF_NO_ANALYTICS": "true",
    "DO_NOT_TRACK": "true",
    "GLOBAL_LOG_LEVEL": "WARNING",
    "ENV": "prod",
}


async def openwebui(ctx: dict[str, Any]) -> dict[str, Any]:
    """Open WebUI at REF's load, with plain httpx reading the same streams beside it."""
    python = os.environ.get("OPEN_WEBUI_PYTHON", "")
    if not python or not os.path.exists(python):  # noqa: ASYNC240 - before any load
        return {"ran": False, "why": "OPEN_WEBUI_PYTHON is not set (make bench-peer sets it)"}
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))},
            **QUIET,
            "DATA_DIR": data,
            "WEBUI_SECRET_KEY": "bench-" + "x" * 40,
            "OPENAI_API_BASE_URL": ctx["backend_url"],
            "OPENAI_API_KEY": "bench",
            # What `open-webui serve` sets before starting uvicorn: the bundled frontend.
            "FROM_INIT_PY": "true",
        }
        command = [python, "-m", "uvicorn", "open_webui.main:app", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--log-level", "warning"]
        with process(command, port, env, APP_CORE, startup=300) as peer:
            base = f"http://127.0.0.1:{port}"
            token = await sign_up(base)
            return await measure(ctx, base, token, peer.pid)


async def sign_up(base: str) -> str:
    """The first account (an admin), and its token; Open WebUI answers 200 before its
    routes are all ready, so this retries for a while."""
    body = {"name": "Bench", "email": "bench@example.com", "password": "bench-Passw0rd!"}
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(120):
            try:
                response = await client.post(f"{base}/api/v1/auths/signup", json=body)
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code == 200:
                return str(response.json()["token"])
            await asyncio.sleep(1)
    raise RuntimeError("Open WebUI did not accept the sign-up")


async def peer_turn(client: httpx.AsyncClient, base: str, token: str) -> Turn:
    """One streamed reply through Open WebUI's chat completions endpoint."""
    headers = {"Authorization": f"Bearer {token}"}
    return await sse_turn(client, f"{base}/api/chat/completions", headers)


async def measure(ctx: dict[str, Any], base: str, token: str, pid: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    await configure_backend(ctx["backend_port"], tokens=20, rate=2000, ttft_ms=0, jitter=0)
    async with httpx.AsyncClient(timeout=None, limits=limits) as client:
        for _ in range(3):  # warm up: models list, first imports
            await peer_turn(client, base, token)
        await configure_backend(
            ctx["backend_port"], tokens=TOKENS, rate=RATE, ttft_ms=0, jitter=0.1
        )
        cpu_before = cpu_seconds(pid)
        peer = await asyncio.gather(*(peer_turn(client, base, token) for _ in range(STREAMS)))
        cpu = cpu_seconds(pid) - cpu_before
        direct_cpu_before = time.process_time()
        direct = await asyncio.gather(
            *(direct_turn(client, ctx["backend_url"]) for _ in range(STREAMS))
        )
        direct_cpu = time.process_time() - direct_cpu_before
    expected = expected_text(TOKENS)

    def total(turn: Turn) -> float:
        return turn.ttft + turn.duration

    direct_total = percentile([total(t) for t in direct], 0.5)
    return {
        "ran": True,
        "streams": STREAMS,
        "rate": RATE,
        "tokens": TOKENS,
        "wrong_texts": sum(t.text != expected for t in peer),
        "ttft": summary_ms([t.ttft for t in peer]),
        "added_ttft_p50_ms": (
            percentile([t.ttft for t in peer], 0.5) - percentile([t.ttft for t in direct], 0.5)
        )
        * 1000,
        "delivery_ratio_p50": direct_total / percentile([total(t) for t in peer], 0.5),
        "cpu_ms_per_1000_tokens": cpu * 1000 / (STREAMS * TOKENS) * 1000,
        "direct_httpx_cpu_ms_per_1000_tokens": direct_cpu * 1000 / (STREAMS * TOKENS) * 1000,
    }
