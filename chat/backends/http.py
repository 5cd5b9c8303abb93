"""What the HTTP backends share: one client per process, and errors mapped to ours."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
import orjson
from django.utils import timezone

from chat.backends.base import Backend, ChatMessage, ReadPace
from chat.backends.framing import EventStreamDecoder
from chat.backends.transport import Transport, paced_body
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

MAX_ERROR_BODY = 64 * 1024

T = TypeVar("T")


class _SharedClient:
    """One AsyncClient (one connection pool) per process, for its event loop.

    A daphne process has one loop, so this is one client per process. A client is bound
    to the loop it first ran on; a new loop (tests run many) gets a new client.
    """

    client: httpx.AsyncClient | None = None
    transport: Transport | None = None
    loop: asyncio.AbstractEventLoop | None = None


def http_client() -> httpx.AsyncClient:
    """The process-wide client for the running event loop."""
    loop = asyncio.get_running_loop()
    shared = _SharedClient
    if shared.client is None or shared.loop is not loop or shared.client.is_closed:
        if shared.transport is not None and shared.loop is not loop:
            shared.transport.abandon()
        shared.transport = Transport()
        shared.client = httpx.AsyncClient(
            transport=shared.transport, headers={"User-Agent": "Stormchat"}
        )
        shared.loop = loop
    return shared.client


@functools.lru_cache(maxsize=256)
def parsed_url(url: str) -> httpx.URL:
    """The URL, parsed once: a backend posts every turn to the same few (httpx parses a
    string in Python on every request, a tenth of a request's CPU)."""
    return httpx.URL(url)


async def close_http_client() -> None:
    """Close the running loop's client and its connections (before a command's loop ends)."""
    shared = _SharedClient
    if shared.client is not None and shared.loop is asyncio.get_running_loop():
        await shared.client.aclose()
        shared.client = shared.transport = shared.loop = None


def run_closing_client(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` for management commands: the client's connections are closed
    before the loop ends."""

    async def body() -> T:
        try:
            return await main
        finally:
            await close_http_client()

    return asyncio.run(body())


async def read_bounded(response: httpx.Response, limit: int = MAX_ERROR_BODY) -> bytes:
    """At most ``limit`` bytes of a response body, so a hostile server can't flood us."""
    body = b""
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) >= limit:
            break
    return body[:limit]


def error_detail(body: bytes) -> str:
    """The human part of an error body in any of the backends' shapes."""
    text = body[:MAX_ERROR_BODY].decode("utf-8", "replace").strip()
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text[:300] or "no details given"
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error)[:300]
        if error:
            return str(error)[:300]
        errors = data.get("errors")
        if isinstance(errors, list) and errors:
            first = errors[0]
            return str(first.get("message", first) if isinstance(first, dict) else first)[:300]
    return text[:300]


def retry_after_seconds(value: str | None) -> float | None:
    """Parse a Retry-After header given as seconds or as an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
    except (TypeError, ValueError):
        return None


def error_for_status(label: str, model: str, response: httpx.Response, body: bytes) -> BackendError:
    """Our exception for an HTTP error status from a backend."""
    status = response.status_code
    detail = error_detail(body)
    if status in (401, 403):
        return BackendAuthFailed(
            f"{label} refused the credentials (HTTP {status}: {detail}). Check LLM_API_KEY."
        )
    if status == 404:
        return ModelNotFound(
            f"{label} has no model '{model}' at this address (HTTP 404: {detail}). "
            "Check the model name (LLM_MODEL or the persona's model) and LLM_BASE_URL."
        )
    if status == 429:
        retry_after = retry_after_seconds(response.headers.get("retry-after"))
        hint = f" Retry after {retry_after:g} s." if retry_after is not None else ""
        return BackendRateLimited(
            f"{label} is rate limiting requests (HTTP 429: {detail}).{hint}",
            retry_after=retry_after,
        )
    if status in (408, 504):
        return BackendTimeout(f"{label} timed out (HTTP {status}: {detail}). Try again.")
    return BackendReportedError(f"{label} failed with HTTP {status}: {detail}")


def parse_json(raw: bytes | str, label: str) -> dict[str, Any]:
    """One JSON object from a stream line or event, or a protocol error."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BackendProtocolError(
            f"{label} sent something that is not JSON: {_preview(raw)!r}. "
            "Is LLM_BASE_URL pointing at the right kind of server?"
        ) from None
    if not isinstance(data, dict):
        raise BackendProtocolError(f"{label} sent JSON that is not an object: {_preview(raw)!r}.")
    return data


def _preview(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return text[:120]


class HttpBackend(Backend):
    """A backend reached over HTTP with the shared client."""

    label: str = "The LLM backend"
    # Added to "did not answer with an event stream" errors: the likely misconfiguration.
    stream_hint: str = ""

    def headers(self) -> dict[str, str]:
        """Request headers, with the Bearer key when one is configured."""
        if self.config.api_key:
            return {"Authorization": f"Bearer {self.config.api_key}"}
        return {}

    def timeout(self) -> httpx.Timeout:
        """httpx's own timeouts: connect is bounded here, reads by the stream deadlines."""
        connect = self.config.timeouts.connect
        return httpx.Timeout(connect=connect, read=None, write=connect, pool=connect)

    @asynccontextmanager
    async def open_stream(
        self, url: str, *, payload: dict[str, Any], model: str
    ) -> AsyncIterator[httpx.Response]:
        """POST and hold the streaming response open, mapping every failure to our errors.

        Leaving the block (normally, by error or by cancellation) closes the response and
        its connection, so the backend stops generating.
        """
        headers = {"Content-Type": "application/json", **self.headers()}
        try:
            async with http_client().stream(
                "POST",
                parsed_url(url),
                content=orjson.dumps(payload),
                headers=headers,
                timeout=self.timeout(),
            ) as response:
                if response.status_code >= 400:
                    body = await read_bounded(response)
                    raise error_for_status(self.label, model, response, body)
                yield response
        except httpx.ConnectTimeout:
            raise BackendTimeout(
                f"{self.label} did not accept a connection within "
                f"{self.config.timeouts.connect:g} s. Is it running and reachable?"
            ) from None
        except httpx.ConnectError as error:
            raise BackendUnreachable(
                f"{self.label} cannot be reached. Is it running, and is LLM_BASE_URL right?",
                detail=f"{httpx.URL(url).host}: {error}",
            ) from None
        except httpx.TimeoutException:
            raise BackendTimeout(f"{self.label} timed out. Try again.") from None
        except (httpx.RemoteProtocolError, httpx.ReadError) as error:
            raise BackendProtocolError(
                f"{self.label} closed the connection in the middle of the reply.",
                detail=str(error),
            ) from None
        except httpx.TransportError as error:
            raise BackendUnreachable(
                f"{self.label} could not be reached.", detail=f"{httpx.URL(url).host}: {error}"
            ) from None

    async def sse_objects(
        self, url: str, *, payload: dict[str, Any], model: str, pace: ReadPace | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """POST, then yield each Server-Sent Event's JSON object until ``[DONE]``.

        An error object inside the stream, a body that is not an event stream, and a
        stream that ends without ``[DONE]`` all become our errors.
        """
        async with self.open_stream(url, payload=payload, model=model) as response:
            content_type = response.headers.get("content-type", "")
            if "text/event-stream" not in content_type:
                raise BackendProtocolError(
                    f"{self.label} did not answer with an event stream (it sent "
                    f"{content_type or 'no content type'!r}). {self.stream_hint}".strip()
                )
            decoder = EventStreamDecoder(self.label)
            async for chunk in paced_body(response, pace):
                for data in decoder.feed(chunk):
                    if data == b"[DONE]":
                        return
                    if not data:
                        continue
                    event = parse_json(data, self.label)
                    if event.get("error") or event.get("errors"):
                        detail = error_detail(data)
                        raise BackendReportedError(f"{self.label} reported an error: {detail}")
                    yield event
        raise BackendProtocolError(
            f"{self.label}'s stream ended without [DONE]; the reply may be cut short."
        )

    async def get_json(self, url: str) -> dict[str, Any]:
        """GET a JSON document, mapping failures like ``open_stream`` does."""
        try:
            response = await http_client().get(url, headers=self.headers(), timeout=self.timeout())
        except httpx.TimeoutException:
            raise BackendTimeout(f"{self.label} did not answer in time.") from None
        except httpx.TransportError as error:
            raise BackendUnreachable(
                f"{self.label} cannot be reached. Is it running, and is LLM_BASE_URL right?",
                detail=f"{httpx.URL(url).host}: {error}",
            ) from None
        if response.status_code >= 400:
            raise error_for_status(self.label, self.model, response, response.content)
        return parse_json(response.text, self.label)

    @staticmethod
    def wire_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
        """Messages as OpenAI's chat format has them: role and content, and a turn with
        pictures as content parts (its text, then each picture as a data URL)."""
        wire: list[dict[str, Any]] = []
        for message in messages:
            images = message.get("images")
            if not images:
                wire.append({"role": message["role"], "content": message["content"]})
                continue
            parts: list[dict[str, Any]] = [{"type": "text", "text": message["content"]}]
            parts += [
                {
                    "type": "image_url",
                    "image_url": {"url": f"data:{image.content_type};base64,{image.base64()}"},
                }
                for image in images
            ]
            wire.append({"role": message["role"], "content": parts})
        return wire
