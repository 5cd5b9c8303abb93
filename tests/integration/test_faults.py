"""Faults, for real: a process killed mid-reply, and Redis restarted mid-stream.

Two daphne processes on their own PostgreSQL database share a ``redis-server`` that this
module starts itself on a spare port; the tests stop only that Redis and those daphne
processes, by PID, never the machine's own services. Default sweep settings: an orphan
must be found within 20 s of the crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import psycopg
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.fakes.llm_server import Reply, openai_sse, paced, serve_in_thread

from .servers import (
    daphne,
    free_port,
    new_visitor_chat,
    open_chat_socket,
    own_postgres_database,
)

pytestmark = [pytest.mark.services, pytest.mark.slow]
TOKENS = [f" word{i:03d}" for i in range(400)]  # 10 s at 40 tokens a second
WHOLE = "".join(TOKENS)


@contextmanager
def own_redis(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A redis-server of this test's own on ``port``, keeping nothing on disk."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while (
            subprocess.run(
                ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True
            ).stdout.strip()
            != "PONG"
        ):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def redis_port() -> int:
    return free_port()


@pytest.fixture
def database(service_urls: dict[str, str]) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database just for these processes."""
    with own_postgres_database(service_urls["DATABASE_URL"], "stormchat_fault") as url:
        yield url


@pytest.fixture
def backend() -> Iterator[str]:
    with serve_in_thread(Reply(body=paced(openai_sse(TOKENS), 0.025))) as server:
        yield f"{server.url}/v1"


def site_env(database: str, redis_port: int, backend: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "LLM_BACKEND": "openai",
        "LLM_BASE_URL": backend,
        "LLM_MODEL": "fake-model",
        "DEBUG": "1",
        "RATE_LIMIT_MESSAGES": "1000",
    }


async def read_until(ws: ClientConnection, kind: str, timeout: float) -> list[dict[str, Any]]:
    events = []
    async with asyncio.timeout(timeout):
        while True:
            event = json.loads(await ws.recv())
            events.append(event)
            if event["type"] == kind:
                return events


def saved_reply(database: str, chat_id: str) -> tuple[str, str]:
    with psycopg.connect(database) as conn:
        row = conn.execute(
            "SELECT status, content FROM chat_message WHERE chat_id = %s AND role = 'assistant' "
            "ORDER BY position DESC LIMIT 1",
            (uuid.UUID(chat_id),),
        ).fetchone()
    assert row is not None
    return row[0], row[1]


async def test_killing_the_process_writing_a_reply_is_healed_by_the_other(
    database: str, redis_port: int, backend: str
) -> None:
    env = site_env(database, redis_port, backend)
    ports = free_port(), free_port()
    with own_redis(redis_port), daphne(ports[1], env):
        hosts = f"127.0.0.1:{ports[0]}", f"127.0.0.1:{ports[1]}"
        with daphne(ports[0], env) as writer:
            chat_id, cookie = new_visitor_chat(hosts[0])
            sender = await open_chat_socket(hosts[0], chat_id, cookie)
            viewer = await open_chat_socket(hosts[1], chat_id, cookie)
            await sender.send(json.dumps({"type": "chat", "content": "Tell me everything"}))
            seen = ""
            for event in await read_until(viewer, "ack", 10):
                assert event["type"] == "ack"
            while len(seen) < 20 * len(TOKENS[0]):  # about half a second of the reply
                event = json.loads(await viewer.recv())
                if event["type"] == "stream":
                    seen += event["content"]
            writer.send_signal(signal.SIGKILL)  # no clean-up, no last flush
            writer.wait(10)
            killed_at = time.monotonic()

            # The living process finds the orphan and tells its clients.
            events = await read_until(viewer, "complete", 25)
            found_after = time.monotonic() - killed_at
            seen += "".join(e["content"] for e in events if e["type"] == "stream")
            final = events[-1]["message"]
            assert final["status"] == "interrupted"
            assert found_after < 20, f"found {found_after:.1f} s after the crash"
            # The text people saw is kept: at least what the viewer had, less a second.
            assert final["content"].startswith(seen[: len(seen) - 40 * len(TOKENS[0])])
            assert saved_reply(database, chat_id) == ("interrupted", final["content"])

            # The chat takes new turns again, on the living process.
            await viewer.send(json.dumps({"type": "chat", "content": "Are you still there?"}))
            events = await read_until(viewer, "complete", 30)
            assert events[0]["type"] == "ack"
            assert events[-1]["message"]["status"] == "complete"
            await viewer.close()
            with contextlib.suppress(ConnectionClosed):
                await sender.close()


async def reconnect(host: str, chat_id: str, cookie: str, within: float) -> ClientConnection:
    """A socket as soon as the server takes one again (the page retries the same way)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await open_chat_socket(host, chat_id, cookie)
        except (OSError, ConnectionClosed, InvalidStatus, json.JSONDecodeError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def test_a_redis_restart_mid_stream_loses_nothing(
    database: str, redis_port: int, backend: str
) -> None:
    env = site_env(database, redis_port, backend)
    ports = free_port(), free_port()
    hosts = f"127.0.0.1:{ports[0]}", f"127.0.0.1:{ports[1]}"
    with ExitStack() as stack:
        redis = stack.enter_context(own_redis(redis_port))
        stack.enter_context(daphne(ports[0], env))
        stack.enter_context(daphne(ports[1], env))
        chat_id, cookie = new_visitor_chat(hosts[0])
        sender = await open_chat_socket(hosts[0], chat_id, cookie)
        await sender.send(json.dumps({"type": "chat", "content": "A long story, please"}))
        await read_until(sender, "stream", 10)

        redis.terminate()  # our own Redis, by PID; mid-stream
        redis.wait(10)
        await asyncio.sleep(2)
        stack.enter_context(own_redis(redis_port))
        back_at = time.monotonic()

        # The run outlived the outage: the whole reply is saved.
        deadline = time.monotonic() + 30
        while saved_reply(database, chat_id)[0] == "streaming":
            assert time.monotonic() < deadline, "the reply never finished"
            await asyncio.sleep(0.2)
        assert saved_reply(database, chat_id) == ("complete", WHOLE)

        # A new connection (on either process) sees it, and a new turn works, soon.
        fresh = await reconnect(hosts[1], chat_id, cookie, within=10)
        shown = fresh.welcome["messages"][-1]  # type: ignore[attr-defined]
        assert (shown["status"], shown["content"]) == ("complete", WHOLE)
        while True:
            await fresh.send(json.dumps({"type": "chat", "content": "And then?"}))
            first = json.loads(await fresh.recv())
            if first["type"] == "ack":
                break
            assert time.monotonic() - back_at < 10, first
            await asyncio.sleep(0.5)
        events = await read_until(fresh, "complete", 30)
        assert events[-1]["message"]["status"] == "complete"
        assert time.monotonic() - back_at < 45
        await fresh.close()
        with contextlib.suppress(ConnectionClosed):
            await sender.close()


async def test_a_reply_is_finished_and_saved_even_if_redis_stays_down(
    database: str, redis_port: int, backend: str
) -> None:
    env = site_env(database, redis_port, backend)
    port = free_port()
    host = f"127.0.0.1:{port}"
    with ExitStack() as stack:
        redis = stack.enter_context(own_redis(redis_port))
        server = stack.enter_context(daphne(port, env))
        chat_id, cookie = new_visitor_chat(host)
        sender = await open_chat_socket(host, chat_id, cookie)
        await sender.send(json.dumps({"type": "chat", "content": "Keep going"}))
        await read_until(sender, "stream", 10)
        redis.terminate()  # and it does not come back
        redis.wait(10)

        deadline = time.monotonic() + 30
        while saved_reply(database, chat_id)[0] == "streaming":
            assert time.monotonic() < deadline, "the reply never finished"
            await asyncio.sleep(0.2)
        assert saved_reply(database, chat_id) == ("complete", WHOLE)
        assert server.poll() is None  # the server is still up
        with contextlib.suppress(ConnectionClosed):
            await sender.close()
