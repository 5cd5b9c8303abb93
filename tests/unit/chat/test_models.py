from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from chat.models import Chat, Message
from chat.ownership import Owner
from personas.models import Persona


@pytest.mark.django_db
def test_chat_id_is_a_random_uuid(kaladin: Persona, alice: User) -> None:
    first = Chat.objects.create(user=alice, persona=kaladin)
    second = Chat.objects.create(user=alice, persona=kaladin)
    assert isinstance(first.id, uuid.UUID)
    assert first.id.version == 4
    assert first.id != second.id


@pytest.mark.django_db
@pytest.mark.parametrize("owner", ["both", "neither"])
def test_chat_has_exactly_one_owner(kaladin: Persona, alice: User, owner: str) -> None:
    fields = {"user": alice, "session_key": "abc"} if owner == "both" else {}
    with pytest.raises(IntegrityError), transaction.atomic():
        Chat.objects.create(persona=kaladin, **fields)


@pytest.mark.django_db
def test_message_positions_are_unique_within_a_chat(kaladin: Persona, alice: User) -> None:
    chat = Chat.objects.create(user=alice, persona=kaladin)
    other = Chat.objects.create(user=alice, persona=kaladin)
    Message.objects.create(chat=chat, role="user", content="hi", position=1)
    Message.objects.create(chat=other, role="user", content="hi", position=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(chat=chat, role="user", content="again", position=1)


@pytest.mark.django_db
def test_messages_are_ordered_by_position(kaladin: Persona, alice: User) -> None:
    chat = Chat.objects.create(user=alice, persona=kaladin)
    for position in (3, 1, 2):
        Message.objects.create(chat=chat, role="user", content=str(position), position=position)
    assert [m.content for m in chat.messages.all()] == ["1", "2", "3"]


@pytest.mark.django_db
def test_persona_in_use_cannot_be_deleted(kaladin: Persona, alice: User) -> None:
    Chat.objects.create(user=alice, persona=kaladin)
    with pytest.raises(IntegrityError), transaction.atomic():
        Persona.objects.filter(pk=kaladin.pk).delete()


@pytest.mark.django_db
def test_owned_by_separates_users_sessions_and_nobody(kaladin: Persona, alice: User) -> None:
    bob = User.objects.create_user("bob")
    mine = Chat.objects.create(user=alice, persona=kaladin)
    Chat.objects.create(user=bob, persona=kaladin)
    anon = Chat.objects.create(session_key="s1", persona=kaladin)
    Chat.objects.create(session_key="s2", persona=kaladin)

    assert list(Chat.objects.owned_by(Owner(user_id=alice.pk))) == [mine]
    assert list(Chat.objects.owned_by(Owner(session_key="s1"))) == [anon]
    assert not Chat.objects.owned_by(Owner()).exists()
    assert mine.owner == Owner(user_id=alice.pk)
    assert anon.owner == Owner(session_key="s1")


@pytest.mark.django_db
def test_recent_first_orders_by_last_activity(kaladin: Persona, alice: User) -> None:
    older = Chat.objects.create(user=alice, persona=kaladin, title="older")
    newer = Chat.objects.create(user=alice, persona=kaladin, title="newer")
    assert list(Chat.objects.owned_by(Owner(user_id=alice.pk)).recent_first()) == [newer, older]
    older.title = "touched"
    older.save()
    assert list(Chat.objects.owned_by(Owner(user_id=alice.pk)).recent_first()) == [older, newer]
