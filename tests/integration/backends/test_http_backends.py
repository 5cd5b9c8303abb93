"""Each HTTP backend against a real loopback server speaking that backend's wire format."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from chat.backends.base import (
    Backend,
    BackendConfig,
    GenerationOptions,
    GenerationSummary,
    Timeouts,
)
from chat.backends.cloudflare import CloudflareBackend
from chat.backends.ollama import OllamaBackend
from chat.backends.openai_compat import OpenAICompatBackend
from chat.errors import (
    BackendAuthFailed,
    BackendError,
    BackendProtocolError,
    BackendRateLimited,
    BackendReportedError,
    BackendTimeout,
    BackendUnreachable,
    ModelNotFound,
)
from tests.fakes.llm_server import (
    Reply,
    cloudflare_sse,
    ollama_ndjson,
    openai_sse,
    paced,
    rechunk,
)

from .conftest import StartServer

SECRET = "sk-test-secret-0123456789"
TOKENS = ["Life", " before", " death", ",", " strength", " before", " weakness", "."]
TEXT = "".join(TOKENS)
MESSAGES = [{"role": "system", "content": "Be Kaladin."}, {"role": "user", "content": "Hi"}]
OPTIONS = GenerationOptions(model="m1", temperature=0.7, top_p=0.9, max_tokens=64, stop=("##",))


@dataclass(frozen=True)
class Flavour:
    backend: type[Backend]
    wire: Callable[[list[str]], list[bytes]]
    content_type: str
    path: str
    error_body: Callable[[str], bytes]
    mid_stream_error: bytes

    def make(self, url: str, *, read_window: float = 0.0, **timeouts: float) -> Backend:
        config = BackendConfig(
            name=self.backend.name,
            base_url=url + ("/v1" if self.backend is OpenAICompatBackend else ""),
            api_key=SECRET,
            account_id="acct123",
            timeouts=Timeouts(**{"connect": 2, "first_token": 2, "idle": 1, **timeouts}),
            read_window=read_window,
        )
        return self.backend(config)

    def reply(self, body: list[bytes | float], **kwargs: object) -> Reply:
        return Reply(content_type=self.content_type, body=body, **kwargs)


FLAVOURS = {
    "ollama": Flavour(
        OllamaBackend,
        ollama_ndjson,
        "application/x-ndjson",
        "/api/chat",
        lambda message: json.dumps({"error": message}).encode(),
        b'{"error":"model runner has unexpectedly stopped"}\n',
    ),
    "openai": Flavour(
        OpenAICompatBackend,
        openai_sse,
        "text/event-stream",
        "/v1/chat/completions",
        lambda message: json.dumps({"error": {"message": message, "type": "x"}}).encode(),
        b'data: {"error":{"message":"model runner has unexpectedly stopped"}}\n\n',
    ),
    "cloudflare": Flavour(
        CloudflareBackend,
        cloudflare_sse,
        "text/event-stream",
        "/accounts/acct123/ai/run/m1",
        lambda message: json.dumps({"success": False, "errors": [{"message": message}]}).encode(),
        b'data: {"errors":[{"code":3040,"message":"model runner has unexpectedly stopped"}]}\n\n',
    ),
}


@pytest.fixture(params=list(FLAVOURS))
def flavour(request: pytest.FixtureRequest) -> Flavour:
    return FLAVOURS[request.param]


async def collect(
    backend: Backend, options: GenerationOptions = OPTIONS
) -> tuple[list[str], GenerationSummary]:
    deltas: list[str] = []
    summary = None
    async for item in backend.stream(MESSAGES, options):
        if isinstance(item, GenerationSummary):
            summary = item
        else:
            deltas.append(item)
    assert summary is not None
    return deltas, summary


async def test_normal_stream_yields_every_token_then_a_summary(
    flavour: Flavour, fake_llm: StartServer
) -> None:
    server = await fake_llm(flavour.reply(flavour.wire(TOKENS)))
    deltas, summary = await collect(flavour.make(server.url))

    assert deltas == TOKENS
    assert summary.backend == flavour.backend.name
    assert (summary.prompt_tokens, summary.completion_tokens) == (11, len(TOKENS))
    assert summary.finish_reason == "stop"
    assert summary.ttft_ms is not None
    assert summary.duration_ms >= summary.ttft_ms

    request = server.requests[0]
    assert (request.method, request.path) == ("POST", flavour.path)
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    assert request.json()["stream"] is True
    assert request.json()["messages"] == MESSAGES


async def test_request_maps_options_to_each_backends_fields(fake_llm: StartServer) -> None:
    bodies = {}
    for name, flavour in FLAVOURS.items():
        server = await fake_llm(flavour.reply(flavour.wire(TOKENS)))
        await collect(flavour.make(server.url))
        bodies[name] = server.requests[0].json()

    ollama = bodies["ollama"]
    assert ollama["model"] == "m1"
    assert ollama["options"] == {
        "temperature": 0.7,
        "top_p": 0.9,
        "num_predict": 64,
        "stop": ["##"],
    }
    openai = bodies["openai"]
    assert openai["stream_options"] == {"include_usage": True}
    assert (openai["model"], openai["max_tokens"], openai["stop"]) == ("m1", 64, ["##"])
    cloudflare = bodies["cloudflare"]
    assert (cloudflare["max_tokens"], cloudflare["temperature"]) == (64, 0.7)
    assert "model" not in cloudflare  # the model is in the URL


EVERY_OPTION = replace(
    OPTIONS,
    repeat_penalty=1.15,
    frequency_penalty=0.2,
    presence_penalty=-0.1,
    min_p=0.05,
    top_k=40,
    seed=7,
)
BASICS = {"temperature": 0.7, "top_p": 0.9, "stop": ["##"]}


async def test_every_sampling_option_reaches_each_backend_under_its_own_name(
    fake_llm: StartServer,
) -> None:
    bodies = {}
    for name, flavour in FLAVOURS.items():
        server = await fake_llm(flavour.reply(flavour.wire(TOKENS)))
        await collect(flavour.make(server.url), EVERY_OPTION)
        bodies[name] = server.requests[0].json()

    assert bodies["ollama"]["options"] == BASICS | {
        "num_predict": 64,
        "repeat_penalty": 1.15,
        "frequency_penalty": 0.2,
        "presence_penalty": -0.1,
        "min_p": 0.05,
        "top_k": 40,
        "seed": 7,
    }
    # OpenAI refuses fields it doesn't know: no top_k, min_p or repeat_penalty.
    openai = {k: v for k, v in bodies["openai"].items() if k not in ("model", "messages")}
    assert openai == BASICS | {
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 64,
        "frequency_penalty": 0.2,
        "presence_penalty": -0.1,
        "seed": 7,
    }
    # Workers AI: repetition_penalty, top_k and seed, but no stop sequences or min_p.
    cloudflare = {k: v for k, v in bodies["cloudflare"].items() if k != "messages"}
    assert cloudflare == {
        "stream": True,
        "temperature": 0.7,
        "top_p": 0.9,
        "max_tokens": 64,
        "repetition_penalty": 1.15,
        "frequency_penalty": 0.2,
        "presence_penalty": -0.1,
        "top_k": 40,
        "seed": 7,
    }
    assert OpenAICompatBackend.unsupported_options() == ["repeat_penalty", "min_p", "top_k"]
    assert CloudflareBackend.unsupported_options() == ["stop", "min_p"]
    assert OllamaBackend.unsupported_options() == []


async def test_ollama_sends_num_ctx_when_configured(fake_llm: StartServer) -> None:
    server = await fake_llm(FLAVOURS["ollama"].reply(ollama_ndjson(TOKENS)))
    backend = OllamaBackend(BackendConfig(name="ollama", base_url=server.url, num_ctx=4096))
    await collect(backend)
    assert server.requests[0].json()["options"]["num_ctx"] == 4096
    assert "authorization" not in server.requests[0].headers


@pytest.mark.parametrize("size", [1, 3, 7, 50])
async def test_lines_split_across_chunks_lose_nothing(
    flavour: Flavour, fake_llm: StartServer, size: int
) -> None:
    tokens = [*TOKENS, " Ünïcode ☔", " 風"]
    server = await fake_llm(flavour.reply(rechunk(flavour.wire(tokens), size)))
    deltas, _ = await collect(flavour.make(server.url))
    assert "".join(deltas) == "".join(tokens)


async def test_slow_tokens_within_the_idle_timeout_arrive(
    flavour: Flavour, fake_llm: StartServer
) -> None:
    server = await fake_llm(flavour.reply(paced(flavour.wire(TOKENS[:4]), 0.3)))
    deltas, summary = await collect(flavour.make(server.url, idle=1.5))
    assert deltas == TOKENS[:4]
    assert summary.ttft_ms is not None
    assert summary.ttft_ms >= 250


async def test_a_stall_between_tokens_times_out(flavour: Flavour, fake_llm: StartServer) -> None:
    wire = flavour.wire(TOKENS)
    server = await fake_llm(flavour.reply([*wire[:3], 3.0, *wire[3:]]))
    with pytest.raises(BackendTimeout, match="next token"):
        await collect(flavour.make(server.url, idle=0.5))
    await asyncio.wait_for(server.client_hung_up.wait(), 3)


async def test_an_upstream_that_never_answers_times_out_and_is_closed(
    flavour: Flavour, fake_llm: StartServer
) -> None:
    server = await fake_llm(Reply(hang=True))
    with pytest.raises(BackendTimeout, match="first token"):
        await collect(flavour.make(server.url, first_token=0.5))
    await asyncio.wait_for(server.client_hung_up.wait(), 3)


@pytest.mark.parametrize(
    ("status", "error", "hint"),
    [
        (401, BackendAuthFailed, "LLM_API_KEY"),
        (403, BackendAuthFailed, "LLM_API_KEY"),
        (404, ModelNotFound, "model 'm1'"),
        (429, BackendRateLimited, "Retry after 7 s"),
        (500, BackendReportedError, "HTTP 500"),
        (502, BackendReportedError, "HTTP 502"),
        (503, BackendReportedError, "HTTP 503"),
        (504, BackendTimeout, "HTTP 504"),
        (400, BackendReportedError, "HTTP 400"),
    ],
)
async def test_error_statuses_become_our_errors_with_the_backends_message(
    flavour: Flavour,
    fake_llm: StartServer,
    status: int,
    error: type[BackendError],
    hint: str,
) -> None:
    body = flavour.error_body("the upstream explains itself")
    reply = Reply(
        status=status, content_type="application/json", body=[body], headers={"Retry-After": "7"}
    )
    server = await fake_llm(reply)
    with pytest.raises(error) as raised:
        await collect(flavour.make(server.url))
    assert hint in raised.value.message
    assert "the upstream explains itself" in raised.value.message
    assert SECRET not in raised.value.message
    if status == 429:
        assert raised.value.retry_after == 7


async def test_an_error_in_the_middle_of_the_stream_is_reported(
    flavour: Flavour, fake_llm: StartServer
) -> None:
    wire = flavour.wire(TOKENS)
    server = await fake_llm(flavour.reply([*wire[:3], flavour.mid_stream_error]))
    deltas: list[str] = []

    async def consume() -> None:
        async for item in flavour.make(server.url).stream(MESSAGES, OPTIONS):
            deltas.append(item)  # type: ignore[arg-type]

    with pytest.raises(BackendReportedError, match="unexpectedly stopped"):
        await consume()
    assert deltas  # what arrived before the error was delivered


async def test_a_connection_dropped_mid_stream_is_a_protocol_error(
    flavour: Flavour, fake_llm: StartServer
) -> None:
    wire = flavour.wire(TOKENS)
    server = await fake_llm(flavour.reply(wire[:3], drop=True))
    with pytest.raises(BackendProtocolError):
        await collect(flavour.make(server.url))


async def test_a_stream_that_ends_early_is_a_protocol_error(
    flavour: Flavour, fake_llm: StartServer
) -> None:
    wire = flavour.wire(TOKENS)
    server = await fake_llm(flavour.reply(wire[:3]))
    with pytest.raises(BackendProtocolError, match="ended"):
        await collect(flavour.make(server.url))


async def test_garbage_instead_of_a_stream_is_a_protocol_error(
    flavour: Flavour, fake_llm: StartServer
) -> None:
    garbage = [b"<html><body>Welcome to nginx!</body></html>\n\n"]
    server = await fake_llm(Reply(content_type=flavour.content_type, body=garbage))
    with pytest.raises(BackendProtocolError):
        await collect(flavour.make(server.url))


async def test_an_unreachable_backend_says_so(flavour: Flavour) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(BackendUnreachable, match="cannot be reached"):
        await collect(flavour.make(f"http://127.0.0.1:{port}"))


async def test_cancelling_the_consumer_closes_the_upstream_connection(
    flavour: Flavour, fake_llm: StartServer
) -> None:
    server = await fake_llm(flavour.reply(paced(flavour.wire(TOKENS * 20), 0.05)))
    received: list[str] = []
    three_received = asyncio.Event()

    async def consume() -> None:
        async for item in flavour.make(server.url).stream(MESSAGES, OPTIONS):
            received.append(item)  # type: ignore[arg-type]
            if len(received) == 3:
                three_received.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(three_received.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(server.client_hung_up.wait(), 2)
    assert server.finished_replies == 0


async def test_closing_the_stream_early_closes_the_upstream_connection(
    flavour: Flavour, fake_llm: StartServer
) -> None:
    server = await fake_llm(flavour.reply(paced(flavour.wire(TOKENS * 20), 0.05)))
    stream = flavour.make(server.url).stream(MESSAGES, OPTIONS)
    assert await anext(stream) == TOKENS[0]
    await stream.aclose()
    await asyncio.wait_for(server.client_hung_up.wait(), 2)


async def test_models_are_listed(flavour: Flavour, fake_llm: StartServer) -> None:
    documents = {
        "ollama": {"models": [{"name": "llama3.1:8b"}, {"name": "qwen3:4b"}]},
        "openai": {"object": "list", "data": [{"id": "llama3.1:8b"}, {"id": "qwen3:4b"}]},
        "cloudflare": {"success": True, "result": [{"name": "llama3.1:8b"}, {"name": "qwen3:4b"}]},
    }
    document = documents[flavour.backend.name]
    server = await fake_llm(
        Reply(content_type="application/json", body=[json.dumps(document).encode()])
    )
    assert await flavour.make(server.url).list_models() == ["llama3.1:8b", "qwen3:4b"]
    assert server.requests[0].method == "GET"
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"
