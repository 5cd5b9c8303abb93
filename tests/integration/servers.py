"""Real server processes for integration tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[2]


def prepare_database(env: dict[str, str], *, collectstatic: bool = False) -> None:
    """Migrate and seed the database ``env`` points at (and collect static files for a
    production-mode site), each as its own ``manage.py`` process."""
    commands = [["migrate", "-v0"], ["seed_personas"]]
    if collectstatic:
        commands.append(["collectstatic", "--noinput", "-v0"])
    for command in commands:
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *command],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )


@contextmanager
def own_postgres_database(server_url: str, prefix: str) -> Iterator[str]:
    """A fresh, migrated and seeded PostgreSQL database on the server of ``server_url``,
    dropped afterwards; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    base = server_url.rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{base}/{name}"
    try:
        prepare_database({**os.environ, "DATABASE_URL": url, "REDIS_URL": ""})
        yield url
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def daphne(port: int, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """A daphne process serving Stormchat on loopback, ready when its port answers."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stormchat.serve",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "stormchat.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            # A file, not a pipe: an unread pipe fills up and blocks the server's logging.
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/api/personas/", timeout=1)
                    break
                except httpx.TransportError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise RuntimeError(log.read().decode(errors="replace")) from None
                    time.sleep(0.2)
            yield process
        finally:
            process.terminate()
            process.wait(10)


@contextmanager
def stormchat_on_sqlite(database: Path, llm_url: str, **settings: str) -> Iterator[str]:
    """A migrated, seeded Stormchat under daphne on its own SQLite file, answering with the
    OpenAI-compatible backend at ``llm_url``; yields ``host:port``."""
    with stormchat_process_on_sqlite(database, llm_url, **settings) as (host, _):
        yield host


@contextmanager
def stormchat_process_on_sqlite(
    database: Path, llm_url: str, **settings: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``stormchat_on_sqlite``, yielding its daphne process too: ``(host:port, process)``."""
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    env |= {
        "DATABASE_URL": f"sqlite:///{database}",
        "LLM_BACKEND": "openai",
        "LLM_BASE_URL": llm_url,
        "LLM_MODEL": "fake-model",
        **settings,
    }
    # Production mode (DEBUG=0) serves collected, hashed static files.
    prepare_database(env, collectstatic=settings.get("DEBUG") == "0")
    port = free_port()
    with daphne(port, env) as process:
        yield f"127.0.0.1:{port}", process


def new_visitor_chat(host: str, persona: str = "kaladin") -> tuple[str, str]:
    """A new anonymous visitor of a real server, with one chat made through the JSON API:
    (chat id, session cookie)."""
    with httpx.Client(base_url=f"http://{host}") as client:
        client.get("/")
        created = client.post(
            "/api/chats/",
            json={"persona": persona},
            headers={"X-CSRFToken": client.cookies["csrftoken"]},
        )
        assert created.status_code == 201, created.text
        return created.json()["id"], client.cookies["sessionid"]


async def visitor_makes_a_chat(host: str, persona: str = "kaladin") -> int:
    """A new anonymous visitor of a real server opens the home page and makes a chat
    through the JSON API: the status code of that."""
    async with httpx.AsyncClient(base_url=f"http://{host}", timeout=30) as client:
        await client.get("/")
        created = await client.post(
            "/api/chats/",
            json={"persona": persona},
            headers={"X-CSRFToken": client.cookies["csrftoken"]},
        )
        return created.status_code


async def open_chat_socket(host: str, chat_id: str, cookie: str) -> ClientConnection:
    """A JSON socket to a chat on a real server, its ``welcome`` read into ``.welcome``."""
    ws = await connect(
        f"ws://{host}/ws/chats/{chat_id}/",
        additional_headers={"Cookie": f"sessionid={cookie}", "Origin": f"http://{host}"},
    )
    ws.welcome = json.loads(await ws.recv())  # type: ignore[attr-defined]
    assert ws.welcome["type"] == "welcome"  # type: ignore[attr-defined]
    return ws
