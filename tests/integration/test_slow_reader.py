"""A client that stops reading is dropped, not buffered without bound (real daphne)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.fakes.llm_server import Reply, openai_sse, serve_in_thread

from .servers import stormchat_on_sqlite

pytestmark = pytest.mark.slow
TOKENS = ["x" * 3995 + f"{i:05d}" for i in range(50)]  # 200,000 characters per reply
TURNS = 30  # about 6 MB in all: more than the kernel's socket buffers can hold


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = Path(tmp_path_factory.mktemp("slow")) / "db.sqlite3"
    limits = {
        "WS_MAX_BUFFERED_BYTES": "262144",
        "WS_MAX_FRAME_BYTES": "65536",
        "RATE_LIMIT_MESSAGES": "1000",  # 30 turns in well under a minute
    }
    with (
        serve_in_thread(Reply(body=openai_sse(TOKENS))) as upstream,
        stormchat_on_sqlite(database, f"{upstream.url}/v1", **limits) as host,
    ):
        yield host


async def test_a_client_that_stops_reading_is_dropped_and_the_server_carries_on(
    server: str,
) -> None:
    async with httpx.AsyncClient(base_url=f"http://{server}") as client:
        await client.get("/")
        created = await client.post(
            "/api/chats/",
            json={"persona": "kaladin"},
            headers={"X-CSRFToken": client.cookies["csrftoken"]},
        )
        chat_id, cookie = created.json()["id"], client.cookies["sessionid"]
    headers = {"Cookie": f"sessionid={cookie}", "Origin": f"http://{server}"}
    url = f"ws://{server}/ws/chats/{chat_id}/"

    # A tiny receive buffer and a tiny frame queue: this client soon stops reading.
    sock = socket.create_connection(server.split(":"))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow = await connect(url, additional_headers=headers, sock=sock, max_queue=1, max_size=None)

    watcher = await connect(url, additional_headers=headers, max_size=None)
    assert json.loads(await watcher.recv())["type"] == "welcome"
    for turn in range(TURNS):
        request = {"type": "regenerate"} if turn else {"type": "chat", "content": "Go on"}
        await watcher.send(json.dumps(request))
        final = None
        async with asyncio.timeout(60):
            while final is None:
                event = json.loads(await watcher.recv())
                if event["type"] == "complete":
                    final = event["message"]
        assert final["status"] == "complete"
        # A long reply's complete event carries a preview; the whole text is one GET away.
        assert final["truncated"] is True
        assert "".join(TOKENS).startswith(final["content"])
    async with httpx.AsyncClient(base_url=f"http://{server}", cookies={"sessionid": cookie}) as api:
        whole = await api.get(f"/api/chats/{chat_id}/messages/{final['id']}/")
    assert whole.json()["content"] == "".join(TOKENS)

    async def drain() -> None:
        async with asyncio.timeout(30):
            while True:
                await slow.recv()

    with pytest.raises(ConnectionClosed):  # the slow client was cut off, not buffered for
        await drain()
    await watcher.close()
