"""The shared client's network layer: TLS, trust, and pooled connections, over real sockets."""

from __future__ import annotations

import asyncio
import gc
import socket
import ssl
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from chat.backends.base import BackendConfig, GenerationOptions, GenerationSummary
from chat.backends.http import http_client, run_closing_client
from chat.backends.ollama import OllamaBackend
from chat.backends.openai_compat import OpenAICompatBackend
from chat.errors import BackendUnreachable
from tests.fakes.llm_server import Reply, ollama_ndjson, openai_sse

from ..conftest import StartServer

TOKENS = ["Journey", " before", " destination", "."]

MESSAGES = [{"role": "user", "content": "Hi"}]


@pytest.fixture
def private_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def server_tls(private_ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    private_ca.issue_cert("localhost").configure_cert(context)
    return context


@pytest.fixture
def trusted_ca(
    private_ca: trustme.CA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Operators point SSL_CERT_FILE at their own CA (an Ollama behind an internal proxy)."""
    path = tmp_path / "ca.pem"
    private_ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))


async def stream_text(backend: OllamaBackend | OpenAICompatBackend) -> str:
    deltas = []
    async for item in backend.stream(MESSAGES, GenerationOptions(model="m1")):
        if not isinstance(item, GenerationSummary):
            deltas.append(item)
    return "".join(deltas)


@pytest.mark.usefixtures("trusted_ca")
async def test_replies_stream_over_tls_from_a_server_signed_by_a_trusted_ca(
    fake_llm: StartServer, server_tls: ssl.SSLContext
) -> None:
    ollama = await fake_llm(
        Reply(content_type="application/x-ndjson", body=ollama_ndjson(TOKENS)), server_tls
    )
    openai = await fake_llm(Reply(body=openai_sse(TOKENS)), server_tls)
    assert ollama.url.startswith("https://")

    from_ollama = await stream_text(
        OllamaBackend(BackendConfig(name="ollama", base_url=ollama.url))
    )
    from_openai = await stream_text(
        OpenAICompatBackend(BackendConfig(name="openai", base_url=openai.url + "/v1"))
    )

    assert from_ollama == from_openai == "".join(TOKENS)


async def test_an_untrusted_certificate_is_refused_with_a_clear_error(
    fake_llm: StartServer, server_tls: ssl.SSLContext
) -> None:
    server = await fake_llm(Reply(body=openai_sse(TOKENS)), server_tls)
    backend = OpenAICompatBackend(BackendConfig(name="openai", base_url=server.url + "/v1"))

    with pytest.raises(BackendUnreachable, match="cannot be reached") as refused:
        await stream_text(backend)
    assert "CERTIFICATE_VERIFY_FAILED" in refused.value.detail  # for operators, not people
    assert "127.0.0.1" not in refused.value.message
    assert server.requests == []


class KeepAliveServer:
    """Answers every request on a connection with a small JSON body and keeps it open.

    With ``close_idle`` it hangs up on a connection right after each answer, the way a
    server with a short keep-alive timeout does between requests.
    """

    def __init__(self, close_idle: bool = False) -> None:
        self.close_idle = close_idle
        self.connections = 0
        self.requests = 0
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                self.requests += 1
                body = b'{"models": []}'
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()
                if self.close_idle:
                    await asyncio.sleep(0.05)
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> KeepAliveServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.close()


@pytest.fixture
async def keep_alive_server() -> AsyncIterator[KeepAliveServer]:
    async with KeepAliveServer() as server:
        yield server


async def test_requests_to_one_backend_reuse_a_pooled_connection(
    keep_alive_server: KeepAliveServer,
) -> None:
    for _ in range(5):
        response = await http_client().get(keep_alive_server.url + "/api/tags")
        assert response.json() == {"models": []}

    assert (keep_alive_server.requests, keep_alive_server.connections) == (5, 1)


async def test_a_pooled_connection_the_server_closed_is_replaced_not_reused() -> None:
    async with KeepAliveServer(close_idle=True) as server:
        for _ in range(3):
            response = await http_client().get(server.url + "/api/tags")
            assert response.status_code == 200
            await asyncio.sleep(0.2)  # the server hangs up on the idle connection

    assert (server.requests, server.connections) == (3, 3)


class HangUpWatcher:
    """A keep-alive server on its own thread, which notes when the client hangs up."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.hung_up = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        with connection:
            connection.recv(65536)
            body = b'{"models": []}'
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            while connection.recv(65536):
                pass
        self.hung_up.set()


def test_a_command_closes_its_connections_before_its_loop_ends() -> None:
    watcher = HangUpWatcher()

    async def ask() -> int:
        return (await http_client().get(watcher.url + "/api/tags")).status_code

    assert run_closing_client(ask()) == 200
    assert watcher.hung_up.wait(5)


def test_a_new_event_loop_gets_a_new_client_and_the_old_one_goes_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def ask_twice() -> tuple[int, int]:
        async with KeepAliveServer() as server:
            for _ in range(2):
                await http_client().get(server.url + "/api/tags")
            return server.requests, server.connections

    assert asyncio.run(ask_twice()) == (2, 1)
    assert asyncio.run(ask_twice()) == (2, 1)  # the first loop's client is not reused
    gc.collect()

    assert "Unclosed" not in caplog.text
