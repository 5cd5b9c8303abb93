"""Splitting a streamed response body into records: NDJSON lines and Server-Sent Events.

Both read the raw bytes as they arrive and hand back whole records as bytes, which
``orjson`` parses without a decode step. This is the per-token hot path, so it does the
least work it can: one split per network chunk, no per-line text decoding. (It replaced
``aiter_lines`` and httpx-sse, which cost about a third of the CPU spent per token.)
A record may be split across chunks at any byte; what is left over waits for the next.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from chat.errors import BackendProtocolError

# A backend that sends this much without a line break is not speaking either format.
MAX_PENDING_BYTES = 4 * 1024 * 1024


class _LineSplitter:
    """Whole lines from a byte stream, whatever the line ending (LF, CRLF or CR)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.pending = b""

    def lines(self, chunk: bytes) -> list[bytes]:
        """The lines this chunk completes, without their endings."""
        buffer = self.pending + chunk if self.pending else chunk
        held_cr = False
        if b"\r" in buffer:
            # A CR at the very end may be the first half of a CRLF split across chunks.
            held_cr = buffer.endswith(b"\r")
            if held_cr:
                buffer = buffer[:-1]
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buffer.split(b"\n")
        self.pending = lines.pop() + (b"\r" if held_cr else b"")
        if len(self.pending) > MAX_PENDING_BYTES:
            raise BackendProtocolError(
                f"{self.label} sent over {MAX_PENDING_BYTES // 1024 // 1024} MB without a "
                "line break; that is not a stream this backend understands."
            )
        return lines


class NdjsonDecoder(_LineSplitter):
    """Newline-delimited JSON: one record per non-blank line."""

    def feed(self, chunk: bytes) -> list[bytes]:
        """The records this chunk completes."""
        return [line for line in self.lines(chunk) if line.strip()]

    def finish(self) -> list[bytes]:
        """The last record, if the body ended without a final line break."""
        last, self.pending = self.pending.strip(), b""
        return [last] if last else []

    async def records(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Every record of a streamed body, including a last one without a line break."""
        async for chunk in chunks:
            for record in self.feed(chunk):
                yield record
        for record in self.finish():
            yield record


class EventStreamDecoder(_LineSplitter):
    """``text/event-stream``: the ``data`` of each event (other fields are ignored)."""

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self.data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        """The data of each event this chunk completes (multi-line data joined by LF)."""
        events: list[bytes] = []
        for line in self.lines(chunk):
            if not line:
                if self.data:
                    events.append(b"\n".join(self.data))
                    self.data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                self.data.append(value[1:] if value.startswith(b" ") else value)
        return events
