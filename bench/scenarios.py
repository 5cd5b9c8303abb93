"""The benchmark scenarios S1-S7. Each returns a dict of figures."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
import wave
from collections.abc import Awaitable
from typing import Any

import httpx
import psycopg
from websockets.asyncio.client import ClientConnection

from bench.fake_backend import expected_text
from bench.harness import (
    APP_CORE,
    REDIS_URL,
    ROOT,
    Session,
    Turn,
    app_env,
    configure_backend,
    cpu_seconds,
    cpu_split,
    daphne_command,
    direct_turn,
    free_port,
    gather_limited,
    new_session,
    open_socket,
    percentile,
    pinned,
    process,
    rss_bytes,
    run_turn,
    summary_ms,
    table_writes,
    turn_rows,
    watch_turn,
)

SCALE = float(os.environ.get("BENCH_SCALE", "1"))


def scaled(n: int) -> int:
    return max(1, int(n * SCALE))


def check_texts(turns: list[Turn], tokens: int) -> int:
    """How many replies differ from what the backend sent (should be 0)."""
    expected = expected_text(tokens)
    return sum(1 for t in turns if t.text != expected)


async def s1_idle(ctx: dict[str, Any]) -> dict[str, Any]:
    """200 sequential turns on an idle server: the app's added time to first token."""
    turns_wanted, tokens = scaled(200), 20
    await configure_backend(ctx["backend_port"], tokens=tokens, rate=2000, ttft_ms=0, jitter=0)
    session: Session = await new_session(ctx["app"], 10)
    app, direct, relay = [], [], []
    async with httpx.AsyncClient(timeout=None) as client:
        sockets = [await open_socket(ctx["app"], c, session.cookie) for c in session.chats]
        for ws in sockets:
            await ws.recv()
        relay_ws = await open_socket(ctx["relay"], "", "", path="/")
        await relay_ws.recv()
        for i in range(turns_wanted):
            app.append(await run_turn(sockets[i % len(sockets)]))
            direct.append(await direct_turn(client, ctx["backend_url"]))
            relay.append(await run_turn(relay_ws))
        for ws in [*sockets, relay_ws]:
            await ws.close()
    app_ttft = [t.ttft for t in app]
    direct_ttft = [t.ttft for t in direct]
    relay_ttft = [t.ttft for t in relay]
    return {
        "turns": len(app),
        "app_ttft": summary_ms(app_ttft),
        # Of the app's TTFT, the part before the ack: the turn checked and saved.
        "app_ack": summary_ms([t.ack for t in app if t.ack is not None]),
        "direct_ttft": summary_ms(direct_ttft),
        "relay_ttft": summary_ms(relay_ttft),
        "added_ttft_p50_ms": (percentile(app_ttft, 0.5) - percentile(direct_ttft, 0.5)) * 1000,
        "added_ttft_p99_ms": (percentile(app_ttft, 0.99) - percentile(direct_ttft, 0.99)) * 1000,
        "relay_added_p50_ms": (percentile(relay_ttft, 0.5) - percentile(direct_ttft, 0.5)) * 1000,
        "wrong_texts": check_texts(app, tokens),
    }


async def concurrent_streams(
    ctx: dict[str, Any],
    *,
    streams: int,
    rate: float,
    tokens: int,
    html: bool = False,
    rounds: int = 1,
) -> dict[str, Any]:
    """``streams`` replies at once: TTFT, delivery, CPU, memory, frames, bytes, DB writes.
    ``html``: the clients are browser pages (HTML fragments), one visitor each (a page also
    hears its owner's history list, so one visitor with 200 tabs would be another test).
    ``rounds``: bursts of the app, each followed by the same burst through the relay; the
    delivery against the relay is each round's, and their median (one burst's p50 moves
    with whatever else the machine does in that second)."""
    await configure_backend(ctx["backend_port"], tokens=tokens, rate=rate, ttft_ms=0, jitter=0.1)
    if html:
        sessions = await gather_limited([new_session(ctx["app"], 1) for _ in range(streams)], 20)
    else:
        sessions = [await new_session(ctx["app"], streams)]
    visits = [(chat, session.cookie) for session in sessions for chat in session.chats]
    sockets = await app_sockets(ctx, visits, html=html)
    pid = ctx["app_pid"]
    rss_idle = rss_bytes(pid)
    await asyncio.sleep(1.5)  # let PostgreSQL publish the stats of creating the chats
    writes_before = table_writes(ctx["database_url"])
    cpu_before = cpu_seconds(pid)
    user_before, _ = cpu_split(pid)
    peak = [rss_idle]

    async def sample() -> None:
        while True:
            peak.append(rss_bytes(pid))
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample())
    app = await asyncio.gather(*(run_turn(ws, html=html) for ws in sockets))
    sampler.cancel()
    cpu = cpu_seconds(pid) - cpu_before
    user_cpu = cpu_split(pid)[0] - user_before
    await asyncio.sleep(1.5)  # PostgreSQL publishes table stats within a second
    writes_after = table_writes(ctx["database_url"])
    writes = {k: (writes_after[k] - writes_before[k]) / streams for k in writes_after}
    turn_writes = turn_rows(ctx["database_url"], [chat for chat, _ in visits]) / streams + 1
    for ws in sockets:
        await ws.close()

    # The floor for reading the backend at all: this process's CPU while it only streams
    # the same replies straight from the backend with httpx (what every token costs
    # before the app does anything with it).
    direct_cpu_before = time.process_time()
    async with httpx.AsyncClient(timeout=None, limits=httpx.Limits(max_connections=None)) as client:
        direct = await asyncio.gather(
            *(direct_turn(client, ctx["backend_url"]) for _ in range(streams))
        )
    direct_cpu = time.process_time() - direct_cpu_before
    relay = await relay_burst(ctx, streams)

    def total(turn: Turn) -> float:
        return turn.ttft + turn.duration

    def against_relay(app: list[Turn], relay: list[Turn]) -> float:
        """The app's delivery as a share of the relay's (ratio of p50 totals)."""
        return percentile([total(t) for t in relay], 0.5) / percentile([total(t) for t in app], 0.5)

    def totals_ms(app: list[Turn], relay: list[Turn]) -> list[float]:
        return [
            round(percentile([total(t) for t in turns], 0.5) * 1000, 1) for turns in (app, relay)
        ]

    paired, paired_ms = [against_relay(app, relay)], [totals_ms(app, relay)]
    for _ in range(rounds - 1):
        again, relayed = await app_burst(ctx, visits, html=html), await relay_burst(ctx, streams)
        paired.append(against_relay(again, relayed))
        paired_ms.append(totals_ms(again, relayed))

    delivered_tokens = streams * tokens

    # Delivery: how long the whole reply took to reach the client, against the backend
    # streamed straight to httpx (ratio of p50 totals; 1.0 means no slower than direct).
    direct_total = percentile([total(t) for t in direct], 0.5)
    return {
        "streams": streams,
        "rate": rate,
        "tokens": tokens,
        "app_ttft": summary_ms([t.ttft for t in app]),
        "app_ack": summary_ms([t.ack for t in app if t.ack is not None]),
        "direct_ttft": summary_ms([t.ttft for t in direct]),
        "relay_ttft": summary_ms([t.ttft for t in relay]),
        # First token to the end: what a reply's pace (and its last batch) adds.
        "app_duration": summary_ms([t.duration for t in app]),
        "direct_duration": summary_ms([t.duration for t in direct]),
        "added_ttft_p50_ms": (
            percentile([t.ttft for t in app], 0.5) - percentile([t.ttft for t in direct], 0.5)
        )
        * 1000,
        "added_ttft_p99_ms": (
            percentile([t.ttft for t in app], 0.99) - percentile([t.ttft for t in direct], 0.99)
        )
        * 1000,
        "delivery_ratio_p50": direct_total / percentile([total(t) for t in app], 0.5),
        "delivery_ratio_worst": direct_total / max(total(t) for t in app),
        "relay_delivery_ratio_p50": direct_total / percentile([total(t) for t in relay], 0.5),
        # The S3 target: the app's delivery as a share of the relay's, per round.
        "delivery_vs_relay_rounds": [round(r, 4) for r in paired],
        # Each round's p50 reply (send to complete), app and relay, in ms.
        "delivery_vs_relay_totals_ms": paired_ms,
        "delivery_vs_relay_p50": statistics.median(paired),
        "cpu_ms_per_1000_tokens": cpu * 1000 / delivered_tokens * 1000,
        "direct_httpx_cpu_ms_per_1000_tokens": direct_cpu * 1000 / delivered_tokens * 1000,
        # The rest of the server's CPU is the kernel's (its sockets, on the same core).
        "cpu_user_ms_per_1000_tokens": user_cpu * 1000 / delivered_tokens * 1000,
        "rss_per_active_stream_kb": (max(peak) - rss_idle) / streams / 1024,
        "frames_per_s_per_stream": percentile([t.frames / max(t.duration, 1e-9) for t in app], 0.5),
        "bytes_per_stream": percentile([float(t.bytes) for t in app], 0.5),
        # A turn writes two message rows (user message and reply) and the reply's final
        # state once; every other message update is a flush of streaming text.
        "db_turn_writes": turn_writes,
        "db_flushes_per_reply_second": (writes["message_upd"] - 1)
        / statistics.fmean(t.duration for t in app),
        # The chat row: updated_at (history order) and, on a first exchange, the title.
        "db_chat_updates_per_turn": writes["chat_upd"],
        "wrong_texts": check_texts(list(app), tokens),
    }


async def welcomed(opening: list[Awaitable[ClientConnection]]) -> list[ClientConnection]:
    """The sockets opened (50 at a time), each past its ``welcome``."""
    sockets = await gather_limited(opening, 50)
    for ws in sockets:
        await ws.recv()
    return sockets


async def app_sockets(
    ctx: dict[str, Any], visits: list[tuple[str, str]], *, html: bool = False
) -> list[ClientConnection]:
    """A socket to each visited chat, welcomed."""
    return await welcomed(
        [open_socket(ctx["app"], chat, cookie, html=html) for chat, cookie in visits]
    )


async def burst(sockets: list[ClientConnection], *, html: bool = False) -> list[Turn]:
    """One turn on every socket at once; the sockets are closed after."""
    turns = await asyncio.gather(*(run_turn(ws, html=html) for ws in sockets))
    for ws in sockets:
        await ws.close()
    return list(turns)


async def app_burst(
    ctx: dict[str, Any], visits: list[tuple[str, str]], *, html: bool = False
) -> list[Turn]:
    """One turn in each visited chat at once, on fresh sockets."""
    return await burst(await app_sockets(ctx, visits, html=html), html=html)


async def relay_burst(ctx: dict[str, Any], streams: int) -> list[Turn]:
    """``streams`` turns at once through the relay (the transport floor)."""
    opening = [open_socket(ctx["relay"], "", "", path="/") for _ in range(streams)]
    return await burst(await welcomed(opening))


async def s2_load(ctx: dict[str, Any]) -> dict[str, Any]:
    """200 concurrent streams at 50 tokens/s, 400 tokens each."""
    return await concurrent_streams(ctx, streams=scaled(200), rate=50, tokens=400)


async def s2_html(ctx: dict[str, Any]) -> dict[str, Any]:
    """S2 as the browser page sees it: 200 HTML sockets (?format=html) at 50 tokens/s."""
    return await concurrent_streams(ctx, streams=scaled(200), rate=50, tokens=400, html=True)


async def reference_load(ctx: dict[str, Any]) -> dict[str, Any]:
    """100 concurrent streams at 50 tokens/s: the load of the issue's reference figures."""
    return await concurrent_streams(ctx, streams=scaled(100), rate=50, tokens=400)


async def s3_fast(ctx: dict[str, Any]) -> dict[str, Any]:
    """20 concurrent streams at 500 tokens/s, five bursts, each paired with the relay's."""
    return await concurrent_streams(ctx, streams=scaled(20), rate=500, tokens=400, rounds=5)


async def s4_idle_and_churn(ctx: dict[str, Any]) -> dict[str, Any]:
    """5,000 idle authenticated connections, then 10,000 connect/disconnect cycles."""
    idle, churn = scaled(5000), scaled(10000)
    session = await new_session(ctx["app"], 20)
    pid = ctx["app_pid"]

    async def open_one(index: int) -> Any:
        ws = await open_socket(
            ctx["app"], session.chats[index % len(session.chats)], session.cookie
        )
        await ws.recv()
        return ws

    async def cycle(index: int) -> None:
        ws = await open_one(index)
        await ws.close()

    # Warm up the code paths first so the baseline isn't mostly first-use allocation.
    await gather_limited([cycle(i) for i in range(200)], 50)
    base = rss_bytes(pid)
    started = time.perf_counter()
    sockets = await gather_limited([open_one(i) for i in range(idle)], 100)
    opened = time.perf_counter() - started
    await asyncio.sleep(2)
    with_idle = rss_bytes(pid)
    started = time.perf_counter()
    await gather_limited([cycle(i) for i in range(churn)], 100)
    churned = time.perf_counter() - started
    await asyncio.sleep(2)
    after_churn = rss_bytes(pid)
    # A second round tells a leak (grows again) from a one-off high-water mark (doesn't).
    # Half as long is enough to tell, and keeps the suite to a few minutes.
    await gather_limited([cycle(i) for i in range(churn // 2)], 100)
    await asyncio.sleep(2)
    after_second_churn = rss_bytes(pid)
    for ws in sockets:
        await ws.close()
    return {
        "idle_connections": idle,
        "churn_cycles": churn,
        "kb_per_idle_connection": (with_idle - base) / idle / 1024,
        "growth_after_churn_pct": (after_churn - with_idle) / with_idle * 100,
        "growth_in_second_churn_pct": (after_second_churn - after_churn) / after_churn * 100,
        "connects_per_s": idle / opened,
        "churn_cycles_per_s": churn / churned,
    }


async def s5_two_processes(ctx: dict[str, Any]) -> dict[str, Any]:
    """Two daphne processes sharing Redis: each stream's viewer is on the other process."""
    streams, tokens, rate = scaled(50), 200, 50.0
    await configure_backend(ctx["backend_port"], tokens=tokens, rate=rate, ttft_ms=0, jitter=0.1)
    ports = free_port(), free_port()
    env = app_env(ctx["database_url"], ctx["backend_url"], REDIS_URL=REDIS_URL)
    with (
        process(daphne_command(ports[0]), ports[0], env, APP_CORE),
        process(daphne_command(ports[1]), ports[1], env, APP_CORE),
    ):
        hosts = f"127.0.0.1:{ports[0]}", f"127.0.0.1:{ports[1]}"
        session = await new_session(hosts[0], streams)
        senders = [await open_socket(hosts[0], c, session.cookie) for c in session.chats]
        viewers = [await open_socket(hosts[1], c, session.cookie) for c in session.chats]
        for ws in [*senders, *viewers]:
            await ws.recv()
        results = await asyncio.gather(
            *(run_turn(ws) for ws in senders), *(watch_turn(ws) for ws in viewers)
        )
        for ws in [*senders, *viewers]:
            await ws.close()
    watched = list(results[streams:])
    sent = list(results[:streams])
    ideal = (tokens - 1) / rate
    # The viewer's reply should take as long as the sender's (same process) does.
    sender_total = percentile([t.ttft + t.duration for t in sent], 0.5)
    return {
        "streams": streams,
        "viewer_delivery_ratio_p50": ideal
        / max(percentile([t.duration for t in watched], 0.5), 1e-9),
        "viewer_delivery_ratio_worst": ideal / max(max(t.duration for t in watched), 1e-9),
        "viewer_first_frame_after_ack": summary_ms([t.ttft for t in watched]),
        "sender_total_p50_ms": sender_total * 1000,
        "wrong_texts": check_texts(watched, tokens),
    }


COPY_MESSAGES = (
    "COPY chat_message (chat_id, role, content, status, position, backend, model, error, "
    "created_at) FROM STDIN"
)


async def s6_long_chat(ctx: dict[str, Any]) -> dict[str, Any]:
    """A chat of 10,000 messages: page render time and snapshot size stay flat."""
    figures: dict[str, Any] = {}
    for count in (10, scaled(10000)):
        session = await new_session(ctx["app"], 1)
        chat_id = session.chats[0]
        with (
            psycopg.connect(ctx["database_url"], autocommit=True) as conn,
            conn.cursor() as cur,
            cur.copy(COPY_MESSAGES) as copy,
        ):
            for position in range(2, count + 2):
                role = "user" if position % 2 else "assistant"
                copy.write_row(
                    (
                        chat_id,
                        role,
                        f"message {position} " * 20,
                        "complete",
                        position,
                        "",
                        "",
                        "",
                        "2026-01-01T00:00:00Z",
                    )
                )
        async with httpx.AsyncClient(
            base_url=f"http://{ctx['app']}", cookies={"sessionid": session.cookie}
        ) as client:
            times, server_times = [], []
            for _ in range(20):
                started = time.perf_counter()
                response = await client.get(f"/chats/{chat_id}/")
                times.append(time.perf_counter() - started)
                response.raise_for_status()
                server_times.append(server_timing_seconds(response))
        ws = await open_socket(ctx["app"], chat_id, session.cookie)
        welcome = await ws.recv()
        await ws.close()
        figures[f"messages_{count}"] = {
            "page": summary_ms(times),
            "page_server": summary_ms(server_times),
            "snapshot_bytes": len(welcome),
            "snapshot_messages": len(json.loads(welcome)["messages"]),
        }
    # The figure the target is about: the longest chat's page in server time (the app's
    # Server-Timing header); "page" adds daphne's HTTP handling and the loopback trip.
    longest = figures[f"messages_{scaled(10000)}"]
    figures["long_chat_page_p50_ms"] = longest["page_server"]["p50_ms"]
    figures["long_chat_page_client_p50_ms"] = longest["page"]["p50_ms"]
    return figures


def server_timing_seconds(response: httpx.Response) -> float:
    """The app's own time for a response, from its ``Server-Timing: app;dur=<ms>``."""
    for metric in response.headers.get("server-timing", "").split(","):
        name, _, params = metric.strip().partition(";")
        if name != "app":
            continue
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip() == "dur":
                return float(value) / 1000
    raise RuntimeError("the app sent no Server-Timing app;dur metric")


RAW_SCRIPT = """
import time
from chat.backends.local import default_model_path
from llama_cpp import Llama
from personas.models import Persona
from personas.prompts import persona_system_text, persona_greeting
# The same prompt the app sends for a first turn: persona text, greeting, the question.
kaladin = Persona.objects.get(slug="kaladin")
messages = [
    {"role": "system", "content": persona_system_text(kaladin)},
    {"role": "assistant", "content": persona_greeting(kaladin)},
    {"role": "user", "content": "Tell me about Bridge Four."},
]
llm = Llama(model_path=str(default_model_path()), n_ctx=4096, verbose=False)
rates = []
for _ in range(3):
    first = None
    n = 0
    chunks = llm.create_chat_completion(
        messages=messages, stream=True, max_tokens=kaladin.max_tokens,
        temperature=kaladin.temperature, top_p=kaladin.top_p)
    for chunk in chunks:
        if chunk["choices"][0]["delta"].get("content"):
            n += 1
            first = first or time.perf_counter()
    rates.append((n - 1) / (time.perf_counter() - first))
print(sorted(rates)[1])
"""


async def s7_embedded(ctx: dict[str, Any]) -> dict[str, Any]:
    """The embedded model through the app, against llama-cpp-python on its own."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "stormchat.settings",
        "DEBUG": "1",
        "DATABASE_URL": ctx["database_url"],
    }
    raw = subprocess.run(  # noqa: ASYNC221 - nothing else runs while it measures
        pinned([sys.executable, "-c", "import django; django.setup()\n" + RAW_SCRIPT], APP_CORE),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    raw_rate = float(raw.stdout.strip().splitlines()[-1])
    port = free_port()
    app_env_local = app_env(ctx["database_url"], "", LLM_BACKEND="local")
    app_rates = []
    with process(daphne_command(port), port, app_env_local, APP_CORE):
        host = f"127.0.0.1:{port}"
        session = await new_session(host, 4)
        for chat_id in session.chats:
            ws = await open_socket(host, chat_id, session.cookie)
            await ws.recv()
            turn = await run_turn(ws, "Tell me about Bridge Four.")
            await ws.close()
            # Client-side: tokens the model produced over the time their frames took.
            if turn.usage_tokens and turn.usage_tokens > 1 and turn.duration > 0:
                app_rates.append((turn.usage_tokens - 1) / turn.duration)
    app_rate = percentile(app_rates, 0.5)
    return {
        "raw_tokens_per_s": raw_rate,
        "app_tokens_per_s": app_rate,
        "ratio": app_rate / raw_rate,
    }


def measured_in_process(module: str) -> dict[str, Any]:
    """Run ``python -m <module>`` pinned like the app and return the JSON it prints last."""
    done = subprocess.run(
        pinned([sys.executable, "-m", module], APP_CORE),
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "stormchat.settings", "DEBUG": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def s8_lore(ctx: dict[str, Any]) -> dict[str, Any]:
    """Prompt assembly with a 1,000-entry lorebook, scan depth 10, 200-message chat."""
    return measured_in_process("bench.lore")  # nothing else runs while it measures


async def s9_fidelity(ctx: dict[str, Any]) -> dict[str, Any]:
    """Persona fidelity on the embedded model: 8 personas by 5 prompts (bench.fidelity)."""
    return measured_in_process("bench.fidelity")


SPOKEN_REPLY = (
    "*Kaladin sets down his bowl and studies you for a moment.* You want to know about "
    "Bridge Four? We carried bridges because nobody else would. Every run, men died. "
    "Then we stopped waiting to die, and started looking after each other. That's all."
)


async def s10_speech(ctx: dict[str, Any]) -> dict[str, Any]:
    """A 40-word reply read aloud by the local voice: first audio byte, audio per CPU."""
    runs = scaled(5)
    pid = ctx["app_pid"]
    firsts, totals, cached, audio_seconds, cpu = [], [], [], [], []
    async with httpx.AsyncClient(base_url=f"http://{ctx['app']}", timeout=120) as client:
        await client.get("/")
        headers = {"X-CSRFToken": client.cookies["csrftoken"]}
        for run in range(runs):
            made = await client.post("/api/chats/", json={"persona": "kaladin"}, headers=headers)
            chat = made.json()
            greeting = chat["messages"][0]["id"]
            url = f"/api/chats/{chat['id']}/messages/{greeting}/"
            text = SPOKEN_REPLY.replace("That's all.", f"That's all, {run + 1} times over.")
            edited = await client.patch(url, json={"content": text}, headers=headers)
            edited.raise_for_status()
            for attempt in range(2):  # made, then kept
                cpu_before = cpu_seconds(pid)
                sent = time.perf_counter()
                async with client.stream("GET", url + "speech/") as response:
                    response.raise_for_status()
                    first = None
                    body = b""
                    async for chunk in response.aiter_bytes():
                        first = first or time.perf_counter()
                        body += chunk
                done = time.perf_counter()
                if attempt == 0:
                    firsts.append((first or done) - sent)
                    totals.append(done - sent)
                    cpu.append(cpu_seconds(pid) - cpu_before)
                    with wave.open(io.BytesIO(body)) as wav:
                        audio_seconds.append(wav.getnframes() / wav.getframerate())
                else:
                    cached.append((first or done) - sent)
    return {
        "words": len(SPOKEN_REPLY.split()),
        "first_audio_byte": summary_ms(firsts),
        "first_audio_byte_p50_ms": percentile(firsts, 0.5) * 1000,
        "whole_audio": summary_ms(totals),
        "kept_first_byte_p50_ms": percentile(cached, 0.5) * 1000,
        "audio_seconds_p50": percentile(audio_seconds, 0.5),
        "audio_seconds_per_cpu_second": sum(audio_seconds) / max(sum(cpu), 1e-9),
    }


SCENE = ["kaladin", "shallan", "adolin", "dalinar"]


async def s11_scene(ctx: dict[str, Any]) -> dict[str, Any]:
    """A four-member scene talking among themselves for 20 replies: the hand-off from one
    speaker's complete to the next one's first token."""
    replies, tokens, ttft_ms = 20, 40, 0
    await configure_backend(ctx["backend_port"], tokens=tokens, rate=500, ttft_ms=ttft_ms, jitter=0)
    async with httpx.AsyncClient(base_url=f"http://{ctx['app']}", timeout=60) as client:
        await client.get("/")
        made = await client.post(
            "/api/chats/",
            json={"personas": SCENE},
            headers={"X-CSRFToken": client.cookies["csrftoken"]},
        )
        made.raise_for_status()
        chat_id, cookie = made.json()["id"], client.cookies["sessionid"]
    ws = await open_socket(ctx["app"], chat_id, cookie)
    await ws.recv()  # welcome
    await ws.send(json.dumps({"type": "auto", "turns": replies}))
    handoffs: list[float] = []
    speakers: list[str] = []
    completed_at: float | None = None
    current: int | None = None
    async with asyncio.timeout(120):
        while len(speakers) < replies:
            event = json.loads(await ws.recv())
            now = time.perf_counter()
            if event["type"] == "stream" and event["message_id"] != current:
                current = event["message_id"]
                if completed_at is not None:
                    handoffs.append(now - completed_at)
            elif event["type"] == "complete":
                completed_at = now
                speakers.append(event["message"]["persona"])
    await ws.close()
    p50 = percentile(handoffs, 0.5) * 1000
    return {
        "replies": len(speakers),
        "members": len(SCENE),
        "backend_ttft_ms": ttft_ms,
        "handoff": summary_ms(handoffs),
        # The target: the next speaker's first token within 20 ms of the last complete,
        # beyond the backend's own time to first token.
        "handoff_added_p50_ms": p50 - ttft_ms,
        "same_speaker_twice": sum(a == b for a, b in itertools.pairwise(speakers)),
    }
