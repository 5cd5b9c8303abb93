"""Processes, clients and measurements shared by the benchmark scenarios."""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
APP_CORE, LOAD_CORE = "0", "1"
STATIC_ROOT = str(ROOT / "bench" / "results" / "static")


def raise_fd_limit() -> None:
    """Thousands of sockets need more than the default 1024 descriptors."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(65536, target), hard))


def pin_self() -> None:
    """The load generator and the fake backend share the core the app doesn't use."""
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:  # type: ignore[operator]
        os.sched_setaffinity(0, {int(LOAD_CORE)})


def pinned(command: list[str], core: str) -> list[str]:
    """The command pinned to one core where taskset exists."""
    return ["taskset", "-c", core, *command] if shutil.which("taskset") else command


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} did not open")


@contextmanager
def process(
    command: list[str], port: int, env: dict[str, str], core: str, startup: float = 60
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server process pinned to a core until the block ends (``startup``: seconds
    it may take to open its port)."""
    log = open(ROOT / "bench" / "results" / f"process-{port}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        pinned(command, core),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=raise_fd_limit,
    )
    try:
        wait_for_port(port, proc, startup)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    return sum(cpu_split(pid))


def cpu_split(pid: int) -> tuple[float, float]:
    """User and system CPU time of a process so far (the kernel's share is its sockets)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def rss_bytes(pid: int) -> int:
    """Resident memory of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def prepare_database(url: str) -> None:
    """Migrate, seed and collect static files for a production-mode (DEBUG=0) app."""
    env = {**os.environ, "DATABASE_URL": url, "STATIC_ROOT": STATIC_ROOT, "DEBUG": "0"}
    env["SECRET_KEY"] = "bench-" + "x" * 50
    for command in (["migrate", "-v0"], ["seed_personas"], ["collectstatic", "--noinput", "-v0"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )


@contextmanager
def bench_database() -> Iterator[str]:
    """A fresh database for the app: PostgreSQL (default) or SQLite (BENCH_DATABASE=sqlite)."""
    if os.environ.get("BENCH_DATABASE") == "sqlite":
        path = ROOT / "bench" / "results" / f"bench-{uuid.uuid4().hex[:8]}.sqlite3"
        prepare_database(f"sqlite:///{path}")
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = f"stormchat_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    prepare_database(url)
    try:
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def turn_rows(database_url: str, chat_ids: list[str]) -> float:
    """Message rows the turns inserted in these chats (everything after the greeting)."""
    if not database_url.startswith("postgres"):
        return float("nan")
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM chat_message WHERE chat_id = ANY(%s::uuid[]) AND position > 1",
            (chat_ids,),
        ).fetchone()
    return float(row[0]) if row else 0.0


def table_writes(database_url: str) -> dict[str, float]:
    """Rows written so far (PostgreSQL stats): message inserts and updates, chat updates."""
    if not database_url.startswith("postgres"):
        return {"message_ins": float("nan"), "message_upd": float("nan"), "chat_upd": float("nan")}
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT relname, n_tup_ins, n_tup_upd FROM pg_stat_user_tables "
            "WHERE relname IN ('chat_chat', 'chat_message')"
        ).fetchall()
    stats = {name: (ins, upd) for name, ins, upd in rows}
    return {
        "message_ins": stats.get("chat_message", (0, 0))[0],
        "message_upd": stats.get("chat_message", (0, 0))[1],
        "chat_upd": stats.get("chat_chat", (0, 0))[1],
    }


def app_env(database_url: str, backend_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL"}}
    env |= {
        "DATABASE_URL": database_url,
        "LLM_BACKEND": "openai",
        "LLM_BASE_URL": backend_url,
        "LLM_MODEL": "bench",
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "STATIC_ROOT": STATIC_ROOT,
        "MAX_MESSAGE_CHARS": "8000",
        "LLM_FIRST_TOKEN_TIMEOUT": "120",
        "LLM_IDLE_TIMEOUT": "120",
        # Plain HTTP on loopback: production's HTTPS-only defaults would redirect.
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        # One visitor drives hundreds of chats here: the abuse limits stay on (their cost
        # is measured) but far above what the load needs.
        "RATE_LIMIT_MESSAGES": "1000000",
        "ANON_MAX_CHATS": "1000000",
        "RATE_LIMIT_ANON_SESSIONS": "1000000",
        "RATE_LIMIT_ANON_CHATS": "1000000",
        "RATE_LIMIT_ANON_MESSAGES": "1000000",
        "WS_MAX_SOCKETS_PER_OWNER": "1000000",
        # S11's scene talks among itself for 20 replies in one go.
        "GROUP_AUTO_MAX_TURNS": "20",
    }
    return env | extra


def daphne_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "stormchat.serve",
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "stormchat.asgi:application",
    ]


async def configure_backend(backend_port: int, **config: float) -> None:
    async with httpx.AsyncClient() as client:
        await client.post(f"http://127.0.0.1:{backend_port}/_config", content=json.dumps(config))


@dataclass
class Session:
    """An anonymous visitor: its cookie and chats."""

    host: str
    cookie: str
    chats: list[str] = field(default_factory=list)


async def new_session(host: str, chats: int, persona: str = "kaladin") -> Session:
    """A visitor with ``chats`` new chats, made through the JSON API."""
    async with httpx.AsyncClient(base_url=f"http://{host}", timeout=60) as client:
        await client.get("/")
        token = client.cookies["csrftoken"]
        made = []
        for _ in range(chats):
            response = await client.post(
                "/api/chats/", json={"persona": persona}, headers={"X-CSRFToken": token}
            )
            response.raise_for_status()
            made.append(response.json()["id"])
        return Session(host, client.cookies["sessionid"], made)


async def open_socket(
    host: str, chat_id: str, cookie: str, path: str | None = None, *, html: bool = False
) -> ClientConnection:
    """A chat's socket as a JSON client (or, ``html``, as the browser page) opens it."""
    url = f"ws://{host}" + (path or f"/ws/chats/{chat_id}/" + ("?format=html" if html else ""))
    headers = {"Cookie": f"sessionid={cookie}", "Origin": f"http://{host}"}
    return await connect(
        url, additional_headers=headers, max_size=None, open_timeout=60, ping_interval=None
    )


@dataclass
class Turn:
    """What one client saw of one reply."""

    ttft: float
    duration: float  # first stream frame to complete
    frames: int
    bytes: int
    text: str
    status: str
    usage_tokens: int | None = None
    ack: float | None = None  # send to ack: the turn saved, before the backend is asked


_HTML_EVENT = re.compile(r'data-event="(\w+)"')
_HTML_STREAM = re.compile(r'-text">(.*)</span>', re.S)
_HTML_STATUS = re.compile(r'data-status="(\w+)"')


def html_event(raw: str) -> dict[str, Any]:
    """A page socket's HTML frame read back as the protocol event it renders."""
    found = _HTML_EVENT.search(raw)
    kind = found[1] if found else "?"
    if kind == "stream":
        text = _HTML_STREAM.search(raw)
        return {"type": kind, "content": html.unescape(text[1]) if text else ""}
    if kind == "complete":
        status = _HTML_STATUS.search(raw)
        return {"type": kind, "message": {"status": status[1] if status else "?"}}
    if kind == "error":
        code = re.search(r'data-code="(\w*)"', raw)
        message_id = re.search(r'data-message-id="(\d+)"', raw)
        event: dict[str, Any] = {"type": kind, "code": code[1] if code else "?"}
        return event | ({"message_id": int(message_id[1])} if message_id else {})
    return {"type": kind}


async def run_turn(
    ws: ClientConnection, content: str = "Tell me a story", *, html: bool = False
) -> Turn:
    """Send ``chat`` and read until ``complete``; times are from the send. ``html`` reads
    the page's HTML frames instead of JSON events."""
    decode = html_event if html else json.loads
    sent = time.perf_counter()
    await ws.send(json.dumps({"type": "chat", "content": content}))
    first = None
    frames = size = 0
    parts: list[str] = []
    status = "?"
    usage_tokens = None
    acked = None
    while True:
        raw = await ws.recv()
        size += len(raw)
        event = decode(raw)
        kind = event["type"]
        if kind == "ack" and acked is None:
            acked = time.perf_counter() - sent
        elif kind == "stream":
            frames += 1
            parts.append(event["content"])
            if first is None:
                first = time.perf_counter()
        elif kind == "complete":
            message = event.get("message", {})
            status = message.get("status", "complete")
            usage_tokens = (message.get("usage") or {}).get("completion_tokens")
            break
        elif kind == "error" and "message_id" not in event:
            raise RuntimeError(event)
    done = time.perf_counter()
    first = first or done
    return Turn(
        first - sent, done - first, frames, size, "".join(parts), status, usage_tokens, acked
    )


async def watch_turn(ws: ClientConnection) -> Turn:
    """Read one reply someone else started (from its ack to complete)."""
    start = first = None
    frames = size = 0
    parts: list[str] = []
    while True:
        raw = await ws.recv()
        event = json.loads(raw)
        if event["type"] == "ack":
            start = time.perf_counter()
        elif event["type"] == "stream":
            size += len(raw)
            frames += 1
            parts.append(event["content"])
            first = first or time.perf_counter()
        elif event["type"] == "complete":
            done = time.perf_counter()
            return Turn(
                (first or done) - (start or done),
                done - (first or done),
                frames,
                size,
                "".join(parts),
                "complete",
            )


async def direct_turn(client: httpx.AsyncClient, backend_url: str) -> Turn:
    """The backend's own TTFT and duration, streamed straight from it with httpx."""
    return await sse_turn(client, f"{backend_url}/chat/completions")


async def sse_turn(
    client: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None
) -> Turn:
    """One streamed chat completion from an OpenAI-compatible endpoint: TTFT, duration
    and the text of its content deltas (events without choices are skipped)."""
    payload = {"model": "bench", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    sent = time.perf_counter()
    first = None
    parts: list[str] = []
    async with client.stream("POST", url, json=payload, headers=headers) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: {"):
                continue
            choices = json.loads(line[6:]).get("choices") or [{}]
            delta = (choices[0].get("delta") or {}).get("content")
            if delta:
                first = first or time.perf_counter()
                parts.append(delta)
    done = time.perf_counter()
    first = first or done
    return Turn(first - sent, done - first, len(parts), 0, "".join(parts), "complete")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary_ms(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": percentile(values, 0.5) * 1000,
        "p99_ms": percentile(values, 0.99) * 1000,
        "mean_ms": statistics.fmean(values) * 1000 if values else float("nan"),
    }


def gather_limited(coros: list[Any], limit: int) -> Any:
    """asyncio.gather with at most ``limit`` coroutines in flight."""
    semaphore = asyncio.Semaphore(limit)

    async def run(coro: Any) -> Any:
        async with semaphore:
            return await coro

    return asyncio.gather(*(run(c) for c in coros))
