"""Reads for a burst of turns: each turn gets its own chat, history and books."""

from __future__ import annotations

import uuid

import pytest

from chat.models import Chat, Message
from chat.ownership import Owner
from chat.selectors import chats_for_turns, chats_lorebooks, prompt_histories
from chat.services import chat_create
from personas.models import Lorebook, Persona

pytestmark = pytest.mark.django_db
ME, SOMEONE = Owner(session_key="m" * 32), Owner(session_key="s" * 32)


def names(books: list[Lorebook]) -> list[str]:
    return [book.name for book in books]


@pytest.fixture
def no_books(personas: list[Persona]) -> None:
    """Start from no books at all (the seeded ones are each persona's own)."""
    Lorebook.objects.all().delete()


def test_each_chat_reads_its_own_books_and_never_another_personas(
    personas: list[Persona], no_books: None
) -> None:
    kaladin, shallan = (Persona.objects.get(slug=slug) for slug in ("kaladin", "shallan"))
    Lorebook.objects.create(name="Roshar", is_global=True)
    Lorebook.objects.create(name="Unused", is_global=True, is_active=False)
    kaladin.own_lorebook = Lorebook.objects.create(name="Bridge Four")
    kaladin.save()
    shallan.lorebooks.add(Lorebook.objects.create(name="Ghostbloods"))
    mine, hers = chat_create(owner=ME, persona=kaladin), chat_create(owner=ME, persona=shallan)
    mine.lorebooks.add(Lorebook.objects.create(name="Shattered Plains"))

    books = chats_lorebooks([mine, hers, mine])

    assert [names(b) for b in books] == [
        ["Roshar", "Bridge Four", "Shattered Plains"],
        ["Roshar", "Ghostbloods"],
        ["Roshar", "Bridge Four", "Shattered Plains"],
    ]


def test_each_chat_gets_its_own_usable_history_newest_last(kaladin: Persona) -> None:
    first, second = chat_create(owner=ME, persona=kaladin), chat_create(owner=ME, persona=kaladin)
    for position, text in enumerate(["One", "Two", "Three"], start=2):
        Message.objects.create(chat=first, role="user", content=text, position=position)
    Message.objects.create(chat=second, role="user", content="Other", position=2)
    Message.objects.create(chat=second, role="assistant", status="streaming", position=3)

    older, latest, other = prompt_histories([(first, 4), (first, 9), (second, 9)], limit=2)

    assert [m.content for m in older] == ["One", "Two"]
    assert [m.content for m in latest] == ["Two", "Three"]
    assert [m.content for m in other][-1] == "Other"
    assert all(m.chat_id == second.pk for m in other)


def test_a_burst_of_any_size_reads_its_histories(kaladin: Persona) -> None:
    # SQLite refuses a union of more than 500 queries: a flood of turns must still read.
    chat = chat_create(owner=ME, persona=kaladin)
    Message.objects.create(chat=chat, role="user", content="Hello", position=2)

    histories = prompt_histories([(chat, 3)] * 501)

    assert len(histories) == 501
    assert all([m.content for m in history][-1] == "Hello" for history in histories)


def test_turn_chats_are_the_owners_only_in_the_order_asked(kaladin: Persona) -> None:
    mine, theirs = (
        chat_create(owner=ME, persona=kaladin),
        chat_create(owner=SOMEONE, persona=kaladin),
    )

    found = chats_for_turns(
        [(mine.pk, ME), (theirs.pk, ME), ("not-a-uuid", ME), (uuid.uuid4(), ME), (mine.pk, ME)]
    )

    assert [chat.pk if chat else None for chat in found] == [mine.pk, None, None, None, mine.pk]
    assert found[0] is not found[4]  # a turn changes its own copy
    assert isinstance(found[0], Chat)
    assert found[0].persona.slug == "kaladin"
