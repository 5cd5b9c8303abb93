"""Splitting streamed bodies into NDJSON records and Server-Sent Events."""

from __future__ import annotations

import pytest

from chat.backends.framing import MAX_PENDING_BYTES, EventStreamDecoder, NdjsonDecoder
from chat.errors import BackendProtocolError

STREAM = (
    b": a comment\r\n"
    b"event: message\r\n"
    b'data: {"a": 1}\r\n'
    b"\r\n"
    b"id: 7\n"
    b"data:first\n"
    b"data: second\n"
    b"\n"
    b"data: [DONE]\r\r\n"
)


def decode_in_pieces(body: bytes, size: int) -> list[bytes]:
    decoder = EventStreamDecoder("test")
    events: list[bytes] = []
    for start in range(0, len(body), size):
        events += decoder.feed(body[start : start + size])
    return events


@pytest.mark.parametrize("size", [1, 2, 3, 7, 50, len(STREAM)])
def test_events_survive_any_split_and_any_line_ending(size: int) -> None:
    assert decode_in_pieces(STREAM, size) == [b'{"a": 1}', b"first\nsecond", b"[DONE]"]


def test_an_unfinished_event_is_not_dispatched() -> None:
    assert EventStreamDecoder("test").feed(b"data: half") == []


@pytest.mark.parametrize("size", [1, 4, 100])
def test_ndjson_records_skip_blank_lines(size: int) -> None:
    body = b'{"a": 1}\n\n  \r\n{"b": 2}\r\n{"c": 3}'
    decoder = NdjsonDecoder("test")
    records: list[bytes] = []
    for start in range(0, len(body), size):
        records += decoder.feed(body[start : start + size])
    assert records == [b'{"a": 1}', b'{"b": 2}']
    assert decoder.finish() == [b'{"c": 3}']


def test_endless_bytes_without_a_line_break_are_refused() -> None:
    decoder = NdjsonDecoder("The test server")
    decoder.feed(b"x" * MAX_PENDING_BYTES)
    with pytest.raises(BackendProtocolError, match="without a line break"):
        decoder.feed(b"x")
