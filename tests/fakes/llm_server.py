"""A real HTTP/1.1 server on loopback that stands in for an upstream LLM.

Each request is answered by a ``Reply`` script: a status, headers, and a list of body
pieces (bytes are sent as one chunk each; floats pause that many seconds). It can also
hang without answering, or cut the connection mid-body. It records every request and
notices when the client hangs up early, which is how tests prove cancellation reaches the
upstream connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    """How to answer one request."""

    status: int = 200
    content_type: str = "text/event-stream"
    body: list[bytes | float] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    drop: bool = False


@dataclass
class Request:
    """A request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Router = Callable[[Request], Reply]


class FakeLLMServer:
    """Serve ``Reply`` scripts chosen by ``router`` until closed."""

    def __init__(self, router: Router | Reply, tls: ssl.SSLContext | None = None) -> None:
        self.router: Router = router if callable(router) else (lambda _request: router)
        self.tls = tls
        self.requests: list[Request] = []
        self.client_hung_up = asyncio.Event()
        self.finished_replies = 0
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        # TLS certificates name "localhost"; plain servers are reached by address.
        return f"https://localhost:{port}" if self.tls else f"http://127.0.0.1:{port}"

    async def start(self) -> FakeLLMServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while request := await _read_request(reader):
                self.requests.append(request)
                if not await self._answer(self.router(request), reader, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _answer(
        self, reply: Reply, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Send one reply; False when the connection must end."""
        hangup = asyncio.ensure_future(reader.read(1))
        try:
            if reply.hang:
                await hangup
                self.client_hung_up.set()
                return False
            head = [f"HTTP/1.1 {reply.status} X", f"Content-Type: {reply.content_type}"]
            head += [f"{k}: {v}" for k, v in reply.headers.items()]
            # One request per connection: the hang-up watcher reads from the socket, so
            # keeping it alive could swallow the start of the next request.
            head += ["Transfer-Encoding: chunked", "Connection: close"]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
            for piece in reply.body:
                if hangup.done():
                    self.client_hung_up.set()
                    return False
                if isinstance(piece, float):
                    await asyncio.wait([hangup], timeout=piece)
                    continue
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
            if reply.drop:
                writer.transport.abort()
                return False
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            self.finished_replies += 1
            return False
        finally:
            hangup.cancel()


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Request(method, path, headers, body)


# --- Wire formats ------------------------------------------------------------------------


def openai_sse(tokens: Iterable[str], *, model: str = "fake-model") -> list[bytes]:
    """A chat.completions stream: role chunk, content chunks, finish, usage, [DONE]."""
    tokens = list(tokens)

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        payload = {"id": "c1", "object": "chat.completion.chunk", "model": model}
        return b"data: " + json.dumps({**payload, "choices": choices, **extra}).encode() + b"\n\n"

    events = [chunk([{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}])]
    events += [
        chunk([{"index": 0, "delta": {"content": t}, "finish_reason": None}]) for t in tokens
    ]
    events.append(chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    events.append(chunk([], usage={"prompt_tokens": 11, "completion_tokens": len(tokens)}))
    events.append(b"data: [DONE]\n\n")
    return events


def ollama_ndjson(tokens: Iterable[str], *, model: str = "fake-model") -> list[bytes]:
    """An /api/chat stream: one JSON line per token, then the ``done`` line."""
    tokens = list(tokens)
    lines = [
        json.dumps(
            {"model": model, "message": {"role": "assistant", "content": t}, "done": False}
        ).encode()
        + b"\n"
        for t in tokens
    ]
    final = {
        "model": model,
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": 11,
        "eval_count": len(tokens),
    }
    lines.append(json.dumps(final).encode() + b"\n")
    return lines


def cloudflare_sse(tokens: Iterable[str]) -> list[bytes]:
    """A Workers AI stream: ``{"response": ...}`` events, usage, then [DONE]."""
    tokens = list(tokens)
    events = [
        b"data: " + json.dumps({"response": t, "p": "abc"}).encode() + b"\n\n" for t in tokens
    ]
    usage = {"prompt_tokens": 11, "completion_tokens": len(tokens), "total_tokens": 11}
    events.append(b"data: " + json.dumps({"response": "", "usage": usage}).encode() + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return events


def rechunk(pieces: list[bytes], size: int) -> list[bytes]:
    """The same bytes cut every ``size`` bytes, so lines and events split across chunks."""
    data = b"".join(pieces)
    return [data[i : i + size] for i in range(0, len(data), size)]


def paced(pieces: list[bytes], delay: float) -> list[bytes | float]:
    """The pieces with a pause before each one."""
    out: list[bytes | float] = []
    for piece in pieces:
        out += [delay, piece]
    return out


@contextlib.contextmanager
def serve_in_thread(router: Router | Reply) -> Iterator[FakeLLMServer]:
    """Run a fake server on its own loop in a thread, for code that runs its own loop."""
    import threading

    loop = asyncio.new_event_loop()
    server = FakeLLMServer(router)
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(5)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
