"""Database connections opened for one HTTP request close when it finishes.

Under ASGI, Django runs each HTTP request's database work on a thread of its own, made for
that request and gone after it. A persistent connection (``CONN_MAX_AGE``) opened there is
never used again, but it stayed open until the garbage collector happened to find it: 200
visitors left 200 SQLite connections' files open (on PostgreSQL a pool now lends and takes
back the connections). The sockets' one database thread keeps its connection, as
``CONN_MAX_AGE`` intends: no request finishes there.
"""

from __future__ import annotations

from typing import Any

from django.db import connections


def close_request_connections(**kwargs: Any) -> None:
    """``request_finished``: close this thread's connections (a pool takes them back),
    except one inside a transaction that outlives the request (a test's)."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()
