"""Two real daphne processes sharing PostgreSQL and Redis, each client on its own process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from websockets.asyncio.client import ClientConnection

from tests.fakes.llm_server import Reply, openai_sse, paced, serve_in_thread

from .servers import (
    daphne,
    free_port,
    new_visitor_chat,
    open_chat_socket,
    own_postgres_database,
    visitor_makes_a_chat,
)

pytestmark = [pytest.mark.services, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
TOKENS = [f" word{i}" for i in range(80)]


@pytest.fixture(scope="module")
def fake_backend() -> Iterator[str]:
    """An OpenAI-compatible upstream streaming 80 tokens at about 40 per second."""
    with serve_in_thread(Reply(body=paced(openai_sse(TOKENS), 0.025))) as server:
        yield f"{server.url}/v1"


@pytest.fixture(scope="module")
def database(service_urls: dict[str, str]) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database just for these processes."""
    with own_postgres_database(service_urls["DATABASE_URL"], "stormchat_it") as url:
        yield url


@pytest.fixture(scope="module")
def servers(
    database: str, fake_backend: str, service_urls: dict[str, str]
) -> Iterator[tuple[str, str]]:
    """Two daphne processes sharing the database and Redis."""
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "REDIS_URL": service_urls["REDIS_URL"],
        "LLM_BACKEND": "openai",
        "LLM_BASE_URL": fake_backend,
        "LLM_MODEL": "fake-model",
        "DEBUG": "1",
        # The machine's Redis keeps per-address counts between runs: every run of this
        # module is a few new visitors from 127.0.0.1, which must not add up to a refusal.
        "RATE_LIMIT_ANON_SESSIONS": "100000",
        "RATE_LIMIT_ANON_CHATS": "100000",
        "RATE_LIMIT_ANON_MESSAGES": "100000",
    }
    ports = free_port(), free_port()
    with daphne(ports[0], env), daphne(ports[1], env):
        yield f"127.0.0.1:{ports[0]}", f"127.0.0.1:{ports[1]}"


@pytest.fixture
def session(servers: tuple[str, str]) -> tuple[str, str]:
    """A new chat created over HTTP on the first process: its id and session cookie."""
    return new_visitor_chat(servers[0])


async def events_until(
    ws: ClientConnection, kind: str, timeout: float = 20
) -> list[dict[str, Any]]:
    events = []
    async with asyncio.timeout(timeout):
        while True:
            event = json.loads(await ws.recv())
            events.append(event)
            if event["type"] == kind:
                return events


def streamed(events: list[dict[str, Any]]) -> str:
    return "".join(e["content"] for e in events if e["type"] == "stream")


async def test_a_viewer_on_the_other_process_gets_every_token(
    servers: tuple[str, str], session: tuple[str, str]
) -> None:
    chat_id, cookie = session
    sender = await open_chat_socket(servers[0], chat_id, cookie)
    viewer = await open_chat_socket(servers[1], chat_id, cookie)
    await sender.send(json.dumps({"type": "chat", "content": "Hello across processes"}))
    sent, seen = await asyncio.gather(
        events_until(sender, "complete"), events_until(viewer, "complete")
    )
    assert streamed(seen) == streamed(sent) == "".join(TOKENS)
    assert seen[0]["type"] == "ack"
    assert seen[-1]["message"]["content"] == "".join(TOKENS)
    await sender.close()
    await viewer.close()


async def test_reconnecting_to_the_other_process_mid_stream_ends_with_the_saved_reply(
    servers: tuple[str, str], session: tuple[str, str]
) -> None:
    chat_id, cookie = session
    sender = await open_chat_socket(servers[0], chat_id, cookie)
    await sender.send(json.dumps({"type": "chat", "content": "Tell me a long story"}))
    for _ in range(5):
        await events_until(sender, "stream")
    await sender.close()
    await asyncio.sleep(0.3)

    again = await open_chat_socket(servers[1], chat_id, cookie)
    live = again.welcome["messages"][-1]  # type: ignore[attr-defined]
    assert live["status"] == "streaming"
    text, seq = live["content"], live["seq"]
    assert seq > 0
    for event in await events_until(again, "complete"):
        if event["type"] == "stream" and event["seq"] > seq:
            assert event["seq"] == seq + 1
            text, seq = text + event["content"], event["seq"]
    await again.close()

    async with httpx.AsyncClient(
        base_url=f"http://{servers[1]}", cookies={"sessionid": cookie}
    ) as client:
        saved = (await client.get(f"/api/chats/{chat_id}/")).json()["messages"][-1]
    assert saved["status"] == "complete"
    assert text == saved["content"] == "".join(TOKENS)


async def test_stop_from_the_other_process_cancels_the_run(
    servers: tuple[str, str], session: tuple[str, str]
) -> None:
    chat_id, cookie = session
    sender = await open_chat_socket(servers[0], chat_id, cookie)
    other = await open_chat_socket(servers[1], chat_id, cookie)
    await sender.send(json.dumps({"type": "chat", "content": "Go on"}))
    await events_until(other, "stream")
    await other.send(json.dumps({"type": "stop"}))
    complete = (await events_until(sender, "complete"))[-1]["message"]
    assert complete["status"] == "cancelled"
    assert 0 < len(complete["content"]) < len("".join(TOKENS))
    await sender.close()
    await other.close()


async def test_an_idle_connection_survives_past_redis_socket_timeouts(
    servers: tuple[str, str], session: tuple[str, str]
) -> None:
    chat_id, cookie = session
    ws = await open_chat_socket(servers[1], chat_id, cookie)
    await asyncio.sleep(7)  # redis-py 8's default socket timeout is 5 s
    await ws.send(json.dumps({"type": "ping"}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"type": "pong"}
    await ws.close()


def new_scene(host: str, personas: list[str], activation: str) -> tuple[str, str]:
    """A new visitor's scene made through the JSON API: (chat id, session cookie)."""
    with httpx.Client(base_url=f"http://{host}") as client:
        client.get("/")
        token = {"X-CSRFToken": client.cookies["csrftoken"]}
        made = client.post("/api/chats/", json={"personas": personas}, headers=token)
        assert made.status_code == 201, made.text
        chat_id = made.json()["id"]
        changed = client.patch(
            f"/api/chats/{chat_id}/", json={"activation": activation}, headers=token
        )
        assert changed.status_code == 200, changed.text
        return chat_id, client.cookies["sessionid"]


async def quiet_for(ws: ClientConnection, seconds: float) -> list[dict[str, Any]]:
    """Whatever arrives within ``seconds``."""
    heard: list[dict[str, Any]] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                heard.append(json.loads(await ws.recv()))
    return heard


async def test_a_scene_runs_across_processes_and_stops_from_the_other(
    servers: tuple[str, str],
) -> None:
    chat_id, cookie = new_scene(servers[0], ["kaladin", "shallan", "adolin"], "list")
    sender = await open_chat_socket(servers[0], chat_id, cookie)
    viewer = await open_chat_socket(servers[1], chat_id, cookie)

    await sender.send(json.dumps({"type": "chat", "content": "Report, all of you."}))
    first = await events_until(viewer, "complete")
    second_started = await events_until(viewer, "stream")
    await viewer.send(json.dumps({"type": "stop"}))
    await events_until(sender, "complete")  # Kaladin's, seen by the sender too
    stopped = await events_until(sender, "complete")
    after = await quiet_for(sender, 1.5)

    queued = [(e["persona"], e["position"]) for e in first if e["type"] == "queued"]
    assert queued == [("shallan", 1), ("adolin", 2)]
    assert first[-1]["message"]["persona"] == "kaladin"
    ack = next(e for e in second_started if e["type"] == "ack")
    assert ack["reply"]["persona"] == "shallan"
    assert (stopped[-1]["message"]["persona"], stopped[-1]["message"]["status"]) == (
        "shallan",
        "cancelled",
    )
    assert not [e for e in after if e["type"] == "ack"]  # Adolin's turn went with the stop
    await sender.close()
    await viewer.close()


async def test_a_crowd_of_visitors_borrows_pooled_connections(
    servers: tuple[str, str], database: str
) -> None:
    # Every HTTP request runs its database work on a thread of its own. Each used to open
    # a connection and leave it open: 120 visitors ran PostgreSQL out of connections.
    host = servers[0]
    at_once = asyncio.Semaphore(40)

    async def visit() -> int:
        async with at_once:
            return await visitor_makes_a_chat(host)

    statuses = await asyncio.gather(*(visit() for _ in range(120)))

    assert statuses == [201] * 120
    name = database.rsplit("/", 1)[1]
    with psycopg.connect(database.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [name]
        ).fetchone()
    assert row is not None
    assert row[0] <= 2 * 20  # two processes, DB_POOL_SIZE each
