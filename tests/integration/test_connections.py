"""A crowd of visitors leaves no database connections behind (real daphne, SQLite)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.llm_server import Reply, openai_sse, serve_in_thread

from .servers import stormchat_process_on_sqlite, visitor_makes_a_chat

pytestmark = pytest.mark.slow
VISITORS = 200
AT_ONCE = 20


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, int, Path]]:
    """Stormchat on its own SQLite file: its host, its process id and the file."""
    database = tmp_path / "db.sqlite3"
    limits = {"RATE_LIMIT_ANON_SESSIONS": "10000", "RATE_LIMIT_ANON_CHATS": "10000"}
    with (
        serve_in_thread(Reply(body=openai_sse(["Hi"]))) as upstream,
        stormchat_process_on_sqlite(database, f"{upstream.url}/v1", **limits) as (host, process),
    ):
        yield host, process.pid, database


def open_files(pid: int, database: Path) -> int:
    """How many of the process's file descriptors are the database or its journal."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        count += target.startswith(str(database))
    return count


async def test_each_request_closes_the_connection_it_opened(
    server: tuple[str, int, Path],
) -> None:
    # Every HTTP request runs its database work on a thread of its own, which opened a
    # connection and left it open (three files each, with the journal) for the garbage
    # collector to find. SQLite keeps a closed connection's files for the next one while
    # others in the process hold locks on them: what is open follows the requests in
    # flight, not the requests served.
    host, pid, database = server
    at_once = asyncio.Semaphore(AT_ONCE)

    async def visit() -> int:
        async with at_once:
            return await visitor_makes_a_chat(host)

    statuses = await asyncio.gather(*(visit() for _ in range(VISITORS)))

    assert statuses == [201] * VISITORS
    assert open_files(pid, database) <= 3 * AT_ONCE
