"""A loopback LLM for benchmarks: OpenAI SSE and Ollama NDJSON at a configured pace.

Run: ``python -m bench.fake_backend --port 9100``. ``POST /_config`` with JSON
``{"tokens": 400, "rate": 50, "ttft_ms": 0, "jitter": 0.1}`` sets how every following
reply is paced. Token ``i`` of a reply is ``" t<i>"``, so clients can verify the text.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
from typing import Any

CONFIG: dict[str, float] = {"tokens": 400, "rate": 50.0, "ttft_ms": 0.0, "jitter": 0.0}


def token(index: int) -> str:
    """The text of token ``index``; every reply is ``token(0) + token(1) + ...``."""
    return f" t{index}"


def expected_text(tokens: int) -> str:
    """The full reply the backend sends for ``tokens`` tokens."""
    return "".join(token(i) for i in range(tokens))


def openai_chunk(text: str) -> bytes:
    body = {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": text}}],
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def ollama_line(text: str, done: bool = False, count: int = 0) -> bytes:
    body: dict[str, Any] = {"model": "bench", "message": {"role": "assistant", "content": text}}
    body["done"] = done
    if done:
        body |= {"done_reason": "stop", "prompt_eval_count": 10, "eval_count": count}
    return json.dumps(body).encode() + b"\n"


async def read_request(reader: asyncio.StreamReader) -> tuple[str, str, bytes] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    return method, path, await reader.readexactly(length)


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while request := await read_request(reader):
            _method, path, body = request
            if path == "/_config":
                CONFIG.update(json.loads(body))
                await respond_json(writer, CONFIG)
            elif path.endswith("/models") or path.endswith("/api/tags"):
                await respond_json(
                    writer, {"data": [{"id": "bench"}], "models": [{"name": "bench"}]}
                )
            else:
                await stream_reply(writer, ndjson=path.endswith("/api/chat"))
    except ConnectionError:
        pass
    finally:
        writer.close()


async def respond_json(writer: asyncio.StreamWriter, data: object) -> None:
    payload = json.dumps(data).encode()
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (len(payload), payload)
    )
    await writer.drain()


async def stream_reply(writer: asyncio.StreamWriter, *, ndjson: bool) -> None:
    kind = b"application/x-ndjson" if ndjson else b"text/event-stream"
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n" % kind
    )
    tokens, rate = int(CONFIG["tokens"]), float(CONFIG["rate"])
    jitter = float(CONFIG["jitter"])
    loop = asyncio.get_running_loop()
    start = loop.time() + CONFIG["ttft_ms"] / 1000
    for index in range(tokens):
        # Paced against the clock, so the backend's rate is exact however busy we are.
        due = start + index / rate if rate > 0 else start
        if jitter:
            due += random.uniform(-jitter, jitter) / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        text = token(index)
        chunk = ollama_line(text) if ndjson else openai_chunk(text)
        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await writer.drain()
    tail = ollama_line("", done=True, count=tokens) if ndjson else b"data: [DONE]\n\n"
    writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(tail), tail))
    await writer.drain()


async def main(port: int) -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9100)
    asyncio.run(main(parser.parse_args().port))
