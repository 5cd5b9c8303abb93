"""Writes for replies being written: periodic flushes, the final save, reaping."""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, TextField, Value, When

from chat.backends.base import GenerationSummary
from chat.live import live_ids
from chat.models import Message

Status = Message.Status
Role = Message.Role


def replies_flush(*, texts: dict[int, str]) -> int:
    """Save the text written so far of many streaming replies, in one statement.

    Replies that have finished meanwhile are left alone: their final text is already saved.
    """
    if not texts:
        return 0
    content = Case(
        *(When(pk=message_id, then=Value(text)) for message_id, text in texts.items()),
        output_field=TextField(),
    )
    return Message.objects.filter(pk__in=list(texts), status=Status.STREAMING).update(
        content=content
    )


@dataclass(frozen=True)
class ReplyEnd:
    """How a reply ended: its final text, status, usage, timings and the lore record of
    its prompt (``lore`` and ``lore_dropped``)."""

    message_id: int
    content: str
    status: Message.Status
    summary: GenerationSummary | None = None
    error: str = ""
    lore: dict[str, list[dict[str, Any]]] | None = None

    def fields(self) -> dict[str, object]:
        fields: dict[str, object] = {
            "content": self.content,
            "status": self.status,
            "error": self.error,
        }
        fields |= self.lore or {}
        summary = self.summary
        if summary is not None:
            fields |= {
                "model": summary.model,
                "prompt_tokens": summary.prompt_tokens,
                "completion_tokens": summary.completion_tokens,
                "ttft_ms": summary.ttft_ms,
                "duration_ms": summary.duration_ms,
            }
        return fields


def replies_finish(ends: Sequence[ReplyEnd]) -> list[Message | None]:
    """Save the ends of many replies at once: each saved reply, or None where it was
    deleted meanwhile. One statement on PostgreSQL (replies that stream at the same pace
    end together, while the event loop is busy with the rest); on SQLite, one transaction
    and one read back."""
    if not ends:
        return []
    if connection.vendor == "postgresql":
        return _replies_finish_one_statement(ends)
    with transaction.atomic():
        for end in ends:
            Message.objects.filter(pk=end.message_id).update(**end.fields())
        saved = Message.objects.in_bulk([end.message_id for end in ends])
    return [saved.get(end.message_id) for end in ends]


_REPLIES_FINISH_SQL = """
WITH ends AS (
    SELECT * FROM unnest(%(ids)s::bigint[], %(contents)s::text[], %(statuses)s::text[],
        %(errors)s::text[], %(lores)s::jsonb[], %(dropped)s::jsonb[], %(summed)s::boolean[],
        %(models)s::text[], %(prompt_tokens)s::integer[], %(completion_tokens)s::integer[],
        %(ttfts)s::integer[], %(durations)s::integer[])
        AS e(id, content, status, error, lore, lore_dropped, summed, model, prompt_tokens,
             completion_tokens, ttft_ms, duration_ms)
)
UPDATE {message} AS m SET
    content = e.content, status = e.status, error = e.error,
    lore = COALESCE(e.lore, m.lore), lore_dropped = COALESCE(e.lore_dropped, m.lore_dropped),
    model = CASE WHEN e.summed THEN e.model ELSE m.model END,
    prompt_tokens = CASE WHEN e.summed THEN e.prompt_tokens ELSE m.prompt_tokens END,
    completion_tokens = CASE WHEN e.summed THEN e.completion_tokens
        ELSE m.completion_tokens END,
    ttft_ms = CASE WHEN e.summed THEN e.ttft_ms ELSE m.ttft_ms END,
    duration_ms = CASE WHEN e.summed THEN e.duration_ms ELSE m.duration_ms END
FROM ends AS e WHERE m.id = e.id
RETURNING m.*
"""


def _replies_finish_one_statement(ends: Sequence[ReplyEnd]) -> list[Message | None]:
    """replies_finish as one PostgreSQL statement that returns the saved rows."""
    sql = _REPLIES_FINISH_SQL.format(message=connection.ops.quote_name(Message._meta.db_table))
    lore = [end.lore or {} for end in ends]
    sums = [end.summary for end in ends]
    params = {
        "ids": [end.message_id for end in ends],
        "contents": [end.content for end in ends],
        "statuses": [str(end.status) for end in ends],
        "errors": [end.error for end in ends],
        "lores": [_json_or_none(record.get("lore")) for record in lore],
        "dropped": [_json_or_none(record.get("lore_dropped")) for record in lore],
        "summed": [summary is not None for summary in sums],
        "models": [summary.model if summary else None for summary in sums],
        "prompt_tokens": [summary.prompt_tokens if summary else None for summary in sums],
        "completion_tokens": [summary.completion_tokens if summary else None for summary in sums],
        "ttfts": [summary.ttft_ms if summary else None for summary in sums],
        "durations": [summary.duration_ms if summary else None for summary in sums],
    }
    # Inside someone else's transaction (tests, admin actions), a savepoint keeps a failed
    # save from spoiling it; on its own, the statement needs no transaction block.
    guard = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with guard:
        saved = {message.pk: message for message in Message.objects.raw(sql, params)}
    return [saved.get(end.message_id) for end in ends]


def _json_or_none(value: object) -> str | None:
    return None if value is None else json.dumps(value)


def reply_finish(
    *,
    message_id: int,
    content: str,
    status: Message.Status,
    summary: GenerationSummary | None = None,
    error: str = "",
    lore: dict[str, list[dict[str, Any]]] | None = None,
) -> Message | None:
    """Save one reply's end (``ReplyEnd``); None if it was deleted."""
    end = ReplyEnd(message_id, content, status, summary, error, lore)
    return replies_finish([end])[0]


INTERRUPTED_NOTE = "The server stopped while this reply was being written."


def replies_interrupt(*, message_ids: list[int], texts: dict[int, str]) -> list[Message]:
    """Mark these replies ``interrupted`` if they are still ``streaming``, keeping the
    longer of their saved text and ``texts`` (what people saw). Returns those it marked.

    Each row is updated only while it is still streaming, so a run that finishes at the
    same moment wins and nothing is marked twice.
    """
    marked = []
    for message in Message.objects.filter(pk__in=message_ids, status=Status.STREAMING):
        fields: dict[str, object] = {"status": Status.INTERRUPTED, "error": INTERRUPTED_NOTE}
        live_text = texts.get(message.pk, "")
        if len(live_text) > len(message.content):
            fields["content"] = live_text
        if Message.objects.filter(pk=message.pk, status=Status.STREAMING).update(**fields):
            for name, value in fields.items():
                setattr(message, name, value)
            marked.append(message)
    return marked


def replies_orphaned() -> list[int]:
    """Streaming replies whose run has no heartbeat (in Redis, or in this process), for
    the start-up reap and ``reap_generations``."""
    streaming = list(Message.objects.filter(status=Status.STREAMING).values_list("pk", flat=True))
    return sorted(set(streaming) - live_ids(streaming))


# --- helpers -----------------------------------------------------------------------------
