"""The shared client's transport: httpx's API over aiohttp's connections.

On its own transport (httpcore and h11), httpx parses a streamed body in Python, one HTTP
chunk at a time, and an LLM server sends every token as a chunk of its own: reading was the
largest share of the CPU a streamed token cost (README, "Performance"). aiohttp parses HTTP
in C (llhttp) and hands over whatever has arrived in one piece. httpx-aiohttp, the transport
the OpenAI SDK offers for this, puts httpx's API on top, so requests, errors and timeouts
stay httpx's and only the wire work changes.

httpx-aiohttp maps every aiohttp connection error to ``httpx.ConnectTimeout`` (a refused
connection, a bad certificate and a server that hung up mid-reply alike), so this module
maps them again, from the aiohttp error it keeps as the cause, to the httpx error that
says what happened; ``chat.backends.http`` turns those into ours.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from chat.backends.base import ReadPace

# How long an idle pooled connection to an LLM server is kept for the next request.
KEEPALIVE_SECONDS = 30.0
# The response extension that holds aiohttp's reader of the body (for paced reads).
BODY_READER = "stormchat.body_reader"


def precise_error(error: httpx.TransportError) -> httpx.TransportError:
    """The httpx error for the aiohttp error behind ``error`` (itself if none fits)."""
    cause = error.__cause__
    if not isinstance(cause, aiohttp.ClientError):
        return error
    message = str(cause) or type(cause).__name__
    if isinstance(cause, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message)
    if isinstance(cause, aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout(message)
    if isinstance(cause, aiohttp.ClientConnectorError):  # refused, DNS, certificate
        return httpx.ConnectError(message)
    if isinstance(cause, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(message)
    if isinstance(cause, aiohttp.ClientOSError):
        return httpx.ReadError(message)
    return error


class _Body(httpx.AsyncByteStream):
    """A response body whose errors say what happened."""

    def __init__(self, stream: httpx.AsyncByteStream) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except httpx.TransportError as error:
            raise precise_error(error) from error.__cause__

    async def aclose(self) -> None:
        await self._stream.aclose()


class Transport(AiohttpTransport):
    """httpx-aiohttp's transport with precise errors, and no connection limit (each
    streaming reply holds a connection), trusting the system's CAs or ``SSL_CERT_FILE`` /
    ``SSL_CERT_DIR`` when set."""

    def __init__(self) -> None:
        ssl_context = httpx.create_ssl_context(trust_env=True)

        def session() -> aiohttp.ClientSession:  # made on first use, in the running loop
            connector = aiohttp.TCPConnector(
                limit=0, ssl=ssl_context, keepalive_timeout=KEEPALIVE_SECONDS
            )
            return aiohttp.ClientSession(connector=connector)

        super().__init__(verify=ssl_context, client=session)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await super().handle_async_request(request)
        except httpx.TransportError as error:
            raise precise_error(error) from error.__cause__
        stream = response.stream
        response.stream = _Body(stream)
        # For paced reads: aiohttp's reader of the body, which says when the body ends.
        aiohttp_response = getattr(stream, "_aiohttp_response", None)
        response.extensions[BODY_READER] = getattr(aiohttp_response, "content", None)
        return response

    def abandon(self) -> None:
        """Let go of the connections of an event loop that has ended (tests and management
        commands run one loop after another), without warnings about an unclosed session."""
        session = self.client
        if isinstance(session, aiohttp.ClientSession) and not session.closed:
            connector = session.connector
            session.detach()
            if connector is not None:
                connector._close()  # the loop is gone, so there is nothing to await


async def paced_body(response: httpx.Response, pace: ReadPace | None) -> AsyncIterator[bytes]:
    """The response body's chunks, read as ``pace`` says.

    While paced, each chunk is followed by a wait of one window, or until the body ends if
    that comes first: what the server sends meanwhile is gathered by aiohttp's parser
    (in C) and the next read takes all of it, one chunk up this stack instead of one per
    token. Stopping the run cancels the wait at once; the stream's watchdog still times
    out a stalled server.
    """
    end = _BodyEnd(response) if pace is not None else None
    async for chunk in response.aiter_bytes():
        yield chunk
        if end is None or pace is None or not pace.paced or end.reached:
            continue
        pace.held = True
        await end.wait(pace.window)


class _BodyEnd:
    """Waits of up to a window that end early when the body's last byte arrives."""

    __slots__ = ("_waiter", "reached")

    def __init__(self, response: httpx.Response) -> None:
        self.reached = False
        self._waiter: asyncio.Future[None] | None = None
        reader = response.extensions.get(BODY_READER)
        if reader is None or not hasattr(reader, "on_eof"):
            self.reached = True  # not our transport: read as bytes arrive
            return
        reader.on_eof(self._ended)

    def _ended(self) -> None:
        self.reached = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        timer = loop.call_later(seconds, self._wake)
        try:
            await self._waiter
        finally:
            timer.cancel()
            self._waiter = None
