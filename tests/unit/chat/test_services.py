"""Writes: chats, turns and the reaper."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat.backends.base import GenerationSummary
from chat.errors import ChatBusy, ContentTooLong, InvalidContent, NothingToRegenerate
from chat.live import LiveReply, live_delete, live_set
from chat.models import Chat, Message
from chat.ownership import Owner
from chat.runs import _save_ends
from chat.services import (
    ReplyEnd,
    TurnStart,
    chat_create,
    replies_finish,
    replies_flush,
    replies_interrupt,
    replies_orphaned,
    reply_finish,
    turn_regenerate,
    turn_start,
    turn_start_many,
)
from personas.models import Persona

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[3]
TARGET = {"backend": "openai", "model": "m"}


@pytest.fixture
def chat(kaladin: Persona) -> Chat:
    return chat_create(owner=Owner(session_key="s" * 32), persona=kaladin)


def test_a_turn_saves_the_user_message_and_a_streaming_reply(chat: Chat) -> None:
    turn = turn_start(chat_id=chat.pk, content="Hello", **TARGET)
    assert (turn.user.position, turn.reply.position) == (2, 3)
    assert turn.reply.status == "streaming"
    assert (turn.reply.backend, turn.reply.model) == ("openai", "m")
    assert list(chat.messages.values_list("role", flat=True)) == ["assistant", "user", "assistant"]


def test_flushing_saves_streaming_replies_but_never_a_finished_one(
    chat: Chat, kaladin: Persona
) -> None:
    streaming = turn_start(chat_id=chat.pk, content="One", **TARGET).reply
    other = chat_create(owner=Owner(session_key="t" * 32), persona=kaladin)
    finished = turn_start(chat_id=other.pk, content="Two", **TARGET).reply
    reply_finish(message_id=finished.pk, content="final", status=Message.Status.COMPLETE)

    saved = replies_flush(texts={streaming.pk: "so far", finished.pk: "stale"})

    assert saved == 1
    assert Message.objects.get(pk=streaming.pk).content == "so far"
    assert Message.objects.get(pk=finished.pk).content == "final"


def summary(**fields: Any) -> GenerationSummary:
    values: dict[str, Any] = {
        "backend": "openai",
        "model": "m",
        "prompt_tokens": None,
        "completion_tokens": None,
        "finish_reason": "stop",
        "ttft_ms": 5,
        "duration_ms": 9,
    }
    return GenerationSummary(**(values | fields))


def replies(kaladin: Persona, count: int) -> list[Message]:
    owner = Owner(session_key="e" * 32)
    return [
        turn_start(
            chat_id=chat_create(owner=owner, persona=kaladin).pk, content="Hi", **TARGET
        ).reply
        for _ in range(count)
    ]


def test_replies_that_end_together_are_saved_together(
    kaladin: Persona,
) -> None:
    first, second, deleted = replies(kaladin, 3)
    deleted.delete()
    usage = summary(model="m2", prompt_tokens=12, completion_tokens=3)
    ends = [
        ReplyEnd(
            first.pk,
            "Stay low.",
            Message.Status.COMPLETE,
            summary=usage,
            lore={"lore": [{"book": 1, "entry": 2}], "lore_dropped": []},
        ),
        ReplyEnd(second.pk, "Half", Message.Status.CANCELLED),
        ReplyEnd(deleted.pk, "Gone", Message.Status.COMPLETE),
    ]

    with CaptureQueriesContext(connection) as queries:
        saved = replies_finish(ends)

    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    statements = [s for s in statements if s not in ("SAVEPOINT", "RELEASE")]
    if connection.vendor == "postgresql":
        assert statements == ["WITH"]  # one UPDATE ... RETURNING for them all
    else:
        assert statements == ["UPDATE", "UPDATE", "UPDATE", "SELECT"]

    assert saved[2] is None
    assert saved[0] is not None
    assert saved[1] is not None
    assert (saved[0].content, saved[0].status, saved[0].model) == ("Stay low.", "complete", "m2")
    assert (saved[0].prompt_tokens, saved[0].completion_tokens) == (12, 3)
    assert saved[0].lore == [{"book": 1, "entry": 2}]
    assert (saved[1].content, saved[1].status) == ("Half", "cancelled")
    assert (saved[1].model, saved[1].prompt_tokens, saved[1].lore) == ("m", None, [])  # as was
    assert Message.objects.get(pk=second.pk).content == "Half"


def test_a_reply_end_that_cannot_be_saved_keeps_no_other_from_being_saved(
    kaladin: Persona,
) -> None:
    good, bad, other = replies(kaladin, 3)
    impossible = summary(prompt_tokens=-1)  # a positive column

    results = _save_ends(
        [
            ReplyEnd(good.pk, "One", Message.Status.COMPLETE),
            ReplyEnd(bad.pk, "Two", Message.Status.COMPLETE, summary=impossible),
            ReplyEnd(other.pk, "Three", Message.Status.COMPLETE),
        ]
    )

    assert isinstance(results[1], Exception)
    assert [m.content for m in (results[0], results[2]) if isinstance(m, Message)] == [
        "One",
        "Three",
    ]
    assert Message.objects.get(pk=bad.pk).status == "streaming"


def test_only_one_reply_streams_per_chat(chat: Chat) -> None:
    turn_start(chat_id=chat.pk, content="One", **TARGET)
    with pytest.raises(ChatBusy):
        turn_start(chat_id=chat.pk, content="Two", **TARGET)
    with pytest.raises(ChatBusy):
        turn_regenerate(chat_id=chat.pk, **TARGET)
    assert not chat.messages.filter(content="Two").exists()


def test_many_turns_are_saved_in_one_step_each_in_its_own_chat(
    chat: Chat, kaladin: Persona
) -> None:
    other = chat_create(owner=Owner(session_key="t" * 32), persona=kaladin)
    turn_start(chat_id=other.pk, content="Earlier", **TARGET)
    other.messages.filter(status="streaming").update(status="complete")

    turns = turn_start_many(
        [TurnStart(chat.pk, "First", "openai", "m"), TurnStart(other.pk, "Second", "ollama", "n")]
    )

    assert [(t.user.content, t.user.position, t.reply.position) for t in turns] == [
        ("First", 2, 3),
        ("Second", 4, 5),
    ]
    assert [(t.reply.backend, t.reply.model) for t in turns] == [("openai", "m"), ("ollama", "n")]
    for turn in turns:
        saved = Message.objects.get(pk=turn.reply.pk)
        assert (saved.chat_id, saved.status) == (turn.user.chat_id, "streaming")
        assert Message.objects.get(pk=turn.user.pk).content == turn.user.content


def test_one_busy_chat_saves_none_of_the_turns_started_with_it(
    chat: Chat, kaladin: Persona
) -> None:
    other = chat_create(owner=Owner(session_key="t" * 32), persona=kaladin)
    turn_start(chat_id=other.pk, content="Still answering", **TARGET)

    with pytest.raises(ChatBusy):
        turn_start_many(
            [TurnStart(chat.pk, "First", "openai", "m"), TurnStart(other.pk, "Two", "openai", "m")]
        )

    assert not Message.objects.filter(content__in=["First", "Two"]).exists()


def test_the_database_itself_forbids_two_streaming_replies(chat: Chat) -> None:
    from django.db import IntegrityError, transaction

    Message.objects.create(chat=chat, role="assistant", status="streaming", position=5)
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(chat=chat, role="assistant", status="streaming", position=6)


@pytest.mark.parametrize(("content", "error"), [("", InvalidContent), ("x" * 8001, ContentTooLong)])
def test_bad_content_is_refused_before_anything_is_saved(
    chat: Chat, content: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        turn_start(chat_id=chat.pk, content=content, **TARGET)
    assert chat.messages.count() == 1


def test_the_greeting_cannot_be_regenerated(chat: Chat) -> None:
    with pytest.raises(NothingToRegenerate):
        turn_regenerate(chat_id=chat.pk, **TARGET)


def test_positions_keep_increasing_after_regenerate(chat: Chat) -> None:
    turn = turn_start(chat_id=chat.pk, content="Hi", **TARGET)
    Message.objects.filter(pk=turn.reply.pk).update(status="complete")
    Message.objects.filter(pk=turn.reply.pk).update(content="First answer")
    again = turn_regenerate(chat_id=chat.pk, **TARGET)
    # The same reply streams again as its second alternative; the first is kept.
    assert (again.reply.pk, again.reply.position) == (turn.reply.pk, turn.reply.position)
    assert again.removed == []
    assert (again.reply.alternatives, again.reply.swipe) == (["First answer", ""], 1)
    assert (again.reply.status, again.reply.content) == ("streaming", "")


def test_the_reaper_interrupts_orphans_but_spares_live_replies(
    chat: Chat, kaladin: Persona
) -> None:
    other = chat_create(owner=Owner(session_key="t" * 32), persona=kaladin)
    orphan = turn_start(chat_id=chat.pk, content="Hi", **TARGET).reply
    alive = turn_start(chat_id=other.pk, content="Hi", **TARGET).reply
    Message.objects.filter(pk=orphan.pk).update(content="partial text")
    asyncio.run(live_set(LiveReply(alive.pk, "so far", 3)))

    orphans = replies_orphaned()
    assert orphans == [orphan.pk]
    assert [m.pk for m in replies_interrupt(message_ids=orphans, texts={})] == [orphan.pk]
    orphan.refresh_from_db()
    alive.refresh_from_db()
    assert (orphan.status, orphan.content) == ("interrupted", "partial text")
    assert "server stopped" in orphan.error
    assert alive.status == "streaming"
    asyncio.run(live_delete(alive.pk))


def test_interrupting_keeps_the_longer_of_the_saved_and_the_live_text(chat: Chat) -> None:
    reply = turn_start(chat_id=chat.pk, content="Hi", **TARGET).reply
    Message.objects.filter(pk=reply.pk).update(content="Life before")
    (marked,) = replies_interrupt(message_ids=[reply.pk], texts={reply.pk: "Life before death."})
    assert (marked.status, marked.content) == ("interrupted", "Life before death.")
    assert replies_interrupt(message_ids=[reply.pk], texts={}) == []  # only once
    shorter = turn_start(chat_id=chat.pk, content="Again", **TARGET).reply
    Message.objects.filter(pk=shorter.pk).update(content="saved is longer")
    (kept,) = replies_interrupt(message_ids=[shorter.pk], texts={shorter.pk: "saved"})
    assert kept.content == "saved is longer"


def test_reap_generations_command(chat: Chat) -> None:
    turn_start(chat_id=chat.pk, content="Hi", **TARGET)
    from io import StringIO

    out = StringIO()
    call_command("reap_generations", stdout=out)
    assert "Marked 1 interrupted" in out.getvalue()


def test_a_starting_server_reaps_orphans(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    run = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*run, "migrate", "-v0"], env=env, cwd=ROOT, check=True)
    subprocess.run([*run, "seed_personas"], env=env, cwd=ROOT, check=True, capture_output=True)
    setup = (
        "import django; django.setup();"
        "from chat.services import chat_create, turn_start; from chat.ownership import Owner;"
        "from personas.models import Persona;"
        "c = chat_create(owner=Owner(session_key='k'*32), persona=Persona.objects.first());"
        "turn_start(chat_id=c.pk, content='hi', backend='local', model='m')"
    )
    check = (
        "import stormchat.asgi; from chat.models import Message;"
        "print(Message.objects.get(role='assistant', position=3).status)"
    )
    env["DJANGO_SETTINGS_MODULE"] = "stormchat.settings"
    subprocess.run([sys.executable, "-c", setup], env=env, cwd=ROOT, check=True)
    result = subprocess.run(
        [sys.executable, "-c", check], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    )
    assert result.stdout.strip() == "interrupted"
