"""Where each streaming reply stands on one connection, to keep its text whole.

A connection starts from its snapshot's ``seq`` for each streaming reply, then applies
only the next batch of each. An older batch (already in the snapshot) is dropped. A batch
that skips ahead, or one for a reply whose ``ack`` never came, means this connection
missed events (the channel layer restarted, or its queue overflowed): it is sent a fresh
snapshot instead, so no client shows a gap.
"""

from __future__ import annotations

from typing import Any, Literal

Verdict = Literal["apply", "stale", "missed"]


class StreamPositions:
    """The ``seq`` each streaming reply has reached on one connection."""

    def __init__(self) -> None:
        self.seq: dict[int, int] = {}

    def snapshot(self, messages: list[dict[str, Any]]) -> None:
        """Start again from a snapshot's messages."""
        self.seq = {m["id"]: m.get("seq", 0) for m in messages if m["status"] == "streaming"}

    def started(self, message_id: int) -> None:
        """A reply's ``ack``: its batches start at 1."""
        self.seq[message_id] = 0

    def finished(self, message_id: int) -> None:
        """A reply's ``complete``."""
        self.seq.pop(message_id, None)

    def check(self, message_id: int, seq: int) -> Verdict:
        """What to do with this batch: apply it, drop it, or resync (events were missed)."""
        last = self.seq.get(message_id)
        if last is None or seq > last + 1:
            return "missed"
        if seq <= last:
            return "stale"
        self.seq[message_id] = seq
        return "apply"
