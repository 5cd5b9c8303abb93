"""The transport floor: a minimal WebSocket relay with the plain ``websockets`` library.

It does what Stormchat does on the wire and nothing else: on ``{"type": "chat"}`` it
streams from the backend with httpx and forwards every delta as a ``stream`` frame, then
``complete``. No auth, no database, no channel layer, no coalescing.
Run: ``python -m bench.relay --port 9200 --backend http://127.0.0.1:9100/v1``.
"""

from __future__ import annotations

import argparse
import asyncio
import json

import httpx
from websockets.asyncio.server import ServerConnection, serve


async def handle(ws: ServerConnection, client: httpx.AsyncClient, backend: str) -> None:
    await ws.send(json.dumps({"type": "welcome", "messages": []}))
    async for frame in ws:
        if json.loads(frame).get("type") != "chat":
            continue
        seq = 0
        payload = {"model": "bench", "stream": True, "messages": [{"role": "user", "content": "x"}]}
        async with client.stream("POST", f"{backend}/chat/completions", json=payload) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                delta = json.loads(line[6:])["choices"][0]["delta"].get("content")
                if delta:
                    seq += 1
                    await ws.send(json.dumps({"type": "stream", "seq": seq, "content": delta}))
        await ws.send(json.dumps({"type": "complete"}))


async def main(port: int, backend: str) -> None:
    limits = httpx.Limits(max_connections=None)
    async with (
        httpx.AsyncClient(timeout=None, limits=limits) as client,
        serve(lambda ws: handle(ws, client, backend), "127.0.0.1", port, max_size=None),
    ):
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9200)
    parser.add_argument("--backend", default="http://127.0.0.1:9100/v1")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.port, arguments.backend))
