"""Writes for replies being written: periodic flushes, the final save, reaping."""

from __future__ import annotations

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


def reply_finish(
    *,
    message_id: int,
    content: str,
    status: Message.Status,
    summary: GenerationSummary | None = None,
    error: str = "",
) -> Message | None:
    """Save the reply's final text, status, usage and timings; None if it was deleted."""
    fields: dict[str, object] = {"content": content, "status": status, "error": error}
    if summary is not None:
        fields |= {
            "model": summary.model,
            "prompt_tokens": summary.prompt_tokens,
            "completion_tokens": summary.completion_tokens,
            "ttft_ms": summary.ttft_ms,
            "duration_ms": summary.duration_ms,
        }
    Message.objects.filter(pk=message_id).update(**fields)
    return Message.objects.filter(pk=message_id).first()


def messages_reap_interrupted() -> int:
    """Mark replies left ``streaming`` by a process that died as ``interrupted``.

    A reply whose run still refreshes its live state (in Redis, or in this process) is
    alive and kept. Partial text is kept. Returns how many were marked.
    """
    streaming = list(Message.objects.filter(status=Status.STREAMING).values_list("pk", flat=True))
    orphans = set(streaming) - live_ids(streaming)
    return Message.objects.filter(pk__in=orphans, status=Status.STREAMING).update(
        status=Status.INTERRUPTED,
        error="The server stopped while this reply was being written.",
    )


# --- helpers -----------------------------------------------------------------------------
