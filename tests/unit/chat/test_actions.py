"""Actions: each writes, then publishes its events only once the transaction commits."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from chat import actions
from chat.errors import NotFound
from chat.events import chat_group, owner_group
from chat.models import Chat
from chat.ownership import Owner
from personas.models import Persona

pytestmark = pytest.mark.django_db
ALICE = Owner(session_key="a" * 32)
MALLORY = Owner(session_key="m" * 32)


class Listener:
    """A channel in a chat's group and its owner's group, as an open page is."""

    def __init__(self, *groups: str) -> None:
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        for group in groups:
            async_to_sync(self.layer.group_add)(group, self.channel)

    def received(self) -> list[dict[str, Any]]:
        events = []
        queue = self.layer.channels.get(self.channel)
        while queue is not None and not queue.empty():
            events.append(queue.get_nowait()[1])
        return events

    def kinds(self) -> list[str]:
        return [e["type"] for e in self.received()]


@pytest.fixture(autouse=True)
def in_process_layer(settings: Any) -> None:
    """The events are what is tested here, whichever layer the deployment uses."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "stormchat.layers.LocalChannelLayer"}}


@pytest.fixture
def chat(kaladin: Persona) -> Chat:
    return actions.chat_create(owner=ALICE, persona=kaladin)


@pytest.fixture
def page(chat: Chat) -> Listener:
    return Listener(chat_group(chat.pk), owner_group(ALICE))


def test_events_wait_for_the_commit(
    chat: Chat, page: Listener, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        actions.chat_rename(owner=ALICE, chat_id=chat.pk, title="Bridge Four")
        assert page.kinds() == []  # nothing before the commit
    assert len(callbacks) == 2
    for callback in callbacks:
        callback()
    events = page.received()
    assert [e["type"] for e in events] == ["chat.title", "chat.listed"]
    assert events[0]["title"] == "Bridge Four"
    assert events[1]["chat"]["title"] == "Bridge Four"  # the row the list needs


def test_create_lists_the_chat_with_its_row(
    kaladin: Persona, django_capture_on_commit_callbacks: Any
) -> None:
    page = Listener(owner_group(ALICE))
    with django_capture_on_commit_callbacks(execute=True):
        chat = actions.chat_create(owner=ALICE, persona=kaladin)
    (event,) = page.received()
    assert event["type"] == "chat.listed"
    assert event["chat"]["id"] == str(chat.pk)
    assert event["chat"]["persona"]["name"] == "Kaladin"


def test_delete_tells_the_chat_and_the_list(
    chat: Chat, page: Listener, django_capture_on_commit_callbacks: Any
) -> None:
    page.received()
    with django_capture_on_commit_callbacks(execute=True):
        actions.chat_delete(owner=ALICE, chat_id=chat.pk)
    assert page.kinds() == ["chat.deleted", "chat.unlisted"]
    assert not Chat.objects.filter(pk=chat.pk).exists()


def test_clear_and_greeting_redraw_the_chat(
    chat: Chat, page: Listener, django_capture_on_commit_callbacks: Any
) -> None:
    page.received()
    with django_capture_on_commit_callbacks(execute=True):
        actions.chat_choose_greeting(owner=ALICE, chat_id=chat.pk, index=1)
    (event,) = page.received()
    assert (event["type"], event["greeting_index"]) == ("chat.cleared", 1)
    with django_capture_on_commit_callbacks(execute=True):
        actions.chat_clear(owner=ALICE, chat_id=chat.pk)
    assert page.kinds() == ["chat.cleared", "chat.listed"]


@pytest.mark.parametrize(
    "act",
    [
        lambda chat_id: actions.chat_rename(owner=MALLORY, chat_id=chat_id, title="mine"),
        lambda chat_id: actions.chat_delete(owner=MALLORY, chat_id=chat_id),
        lambda chat_id: actions.chat_clear(owner=MALLORY, chat_id=chat_id),
        lambda chat_id: actions.chat_choose_greeting(owner=MALLORY, chat_id=chat_id, index=1),
    ],
    ids=["rename", "delete", "clear", "greeting"],
)
def test_someone_elses_chat_is_not_found_and_nothing_happens(
    chat: Chat, page: Listener, act: Any, django_capture_on_commit_callbacks: Any
) -> None:
    page.received()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(NotFound):
        act(chat.pk)
    assert page.kinds() == []
    chat.refresh_from_db()
    assert (chat.title, chat.greeting_index) == ("", 0)


@pytest.mark.django_db(transaction=True)
def test_a_speaker_in_a_long_scene_reads_the_history_once(personas: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from chat.models import Message
    from chat.services import chat_create

    owner = Owner(session_key="s" * 32)
    cast = [Persona.objects.get(slug=slug) for slug in ("kaladin", "shallan", "adolin")]
    chat = chat_create(owner=owner, personas=cast)
    Message.objects.bulk_create(
        Message(
            chat=chat,
            role="user" if n % 2 else "assistant",
            content=f"line {n}",
            position=n,
            speaker="" if n % 2 else cast[n % 3].slug,
            present=["kaladin", "shallan", "adolin"],
        )
        for n in range(2, 502)
    )
    request = actions.TurnRequest(
        kind="speak", owner=owner, chat_id=chat.pk, backend_name=None, rate_limited=False,
        persona="shallan",
    )  # fmt: skip

    with CaptureQueriesContext(connection) as queries:
        (job,) = actions._save_turns([request])

    assert not isinstance(job, Exception)
    reads = [
        q["sql"]
        for q in queries
        if "content" in q["sql"] and "SELECT" in q["sql"] and "INSERT" not in q["sql"]
    ]
    assert len(reads) == 1, reads  # the history, once, however long the chat
    assert job.history[-1].content == "line 501"
    assert len(job.history) == 400  # the window a prompt is built from


@pytest.mark.django_db(transaction=True)
def test_a_turn_whose_session_ended_is_refused_in_the_turns_trip(kaladin: Persona) -> None:
    """Turns saved together: the one from an ended session saves nothing, the other is
    saved, and their sessions are read in one query of the same trip."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from chat.errors import SessionEnded
    from chat.sessions import SessionCheck

    live, gone = SessionStore(), SessionStore()
    live.create()
    gone.create()
    owners = [Owner(session_key=live.session_key), Owner(session_key=gone.session_key)]
    chats = [actions.chat_create(owner=owner, persona=kaladin) for owner in owners]
    gone.delete()
    requests = [
        actions.TurnRequest(
            kind="chat",
            owner=owner,
            chat_id=chat.pk,
            backend_name=None,
            rate_limited=False,
            content="Still here?",
            session=SessionCheck(owner.session_key, None),
        )
        for owner, chat in zip(owners, chats, strict=True)
    ]

    with CaptureQueriesContext(connection) as queries:
        saved, refused = actions._save_turns(requests)

    assert isinstance(refused, SessionEnded)
    assert not isinstance(saved, Exception)
    assert [m.content for m in chats[1].messages.filter(role="user")] == []
    assert [m.content for m in chats[0].messages.filter(role="user")] == ["Still here?"]
    sessions = [q for q in queries if "django_session" in q["sql"]]
    assert len(sessions) == 1
