"""Group scenes end to end: who answers, what each member witnessed, the queue, auto."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from chat import actions
from chat.models import Chat, Message
from chat.ownership import Owner
from personas.models import Lorebook, LoreEntry, Persona
from personas.services import personas_seed
from tests.fakes.llm_server import FakeLLMServer, Reply, Request

from .conftest import Client, Connect, chat_socket, new_session_key, sse_reply

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "The password is Honorspren-forty-two."


def reply_by_speaker(request: Request) -> Reply:
    """Each member answers "I am <name>." (a title request gets a short title)."""
    messages = request.json()["messages"]
    system = messages[0]["content"]
    if "You name conversations" in system:
        return sse_reply(["A", " scene"])
    name = system.split("You are ", 1)[-1].split()[0].strip(".,")
    return sse_reply([f"I am {name}", "."], delay=0.01)


def prompts(server: FakeLLMServer) -> list[list[dict[str, Any]]]:
    """The reply prompts the upstream received, in order (not the titling ones)."""
    sent = [request.json()["messages"] for request in server.requests]
    return [m for m in sent if "You name conversations" not in m[0]["content"]]


def text_of(prompt: list[dict[str, Any]]) -> str:
    return "\n".join(str(message["content"]) for message in prompt)


class Scene:
    """A scene owned by a fresh session, watched by one socket."""

    def __init__(self, chat: Chat, key: str, socket: Client) -> None:
        self.chat, self.key, self.socket = chat, key, socket

    @property
    def owner(self) -> Owner:
        return Owner(session_key=self.key)

    async def completes(self, count: int) -> list[dict[str, Any]]:
        """Every event until ``count`` replies have completed."""
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(20):
            while sum(e["type"] == "complete" for e in seen) < count:
                seen.append(await self.socket.receive(15))
        return seen


@pytest.fixture
async def upstream(llm: Any) -> FakeLLMServer:
    """The fake upstream every member's replies come from."""
    return await llm(reply_by_speaker)


@pytest.fixture
async def scene(connect: Connect, upstream: FakeLLMServer) -> Callable[..., Any]:
    async def make(*slugs: str, activation: str = "natural") -> Scene:
        def create() -> tuple[Chat, str]:
            personas_seed()
            key = new_session_key()
            cast = [Persona.objects.get(slug=slug) for slug in slugs]
            chat = actions.chat_create(owner=Owner(session_key=key), personas=cast)
            if activation != "natural":
                actions.chat_set_scene(
                    owner=Owner(session_key=key), chat_id=chat.pk, activation=activation
                )
            return chat, key

        chat, key = await sync_to_async(create)()
        return Scene(chat, key, await connect(chat.pk, key))

    return make


def replies(events: list[dict[str, Any]]) -> list[tuple[str | None, str]]:
    return [
        (e["message"]["persona"], e["message"]["content"])
        for e in events
        if e["type"] == "complete"
    ]


async def test_a_secret_said_before_shallan_joined_is_in_kaladins_prompt_not_hers(
    scene: Callable[..., Any], upstream: FakeLLMServer
) -> None:
    played = await scene("kaladin")
    await actions.turn_send(owner=played.owner, chat_id=played.chat.pk, content=SECRET)
    await played.completes(1)
    await sync_to_async(actions.chat_set_scene)(
        owner=played.owner, chat_id=played.chat.pk, personas=["kaladin", "shallan"]
    )

    await actions.turn_nudge(owner=played.owner, chat_id=played.chat.pk, persona="shallan")
    await played.completes(1)
    await actions.turn_nudge(owner=played.owner, chat_id=played.chat.pk, persona="kaladin")
    await played.completes(1)

    first, hers, his = prompts(upstream)
    assert SECRET in text_of(first)
    assert SECRET not in text_of(hers)
    assert "just arrived" in text_of(hers)
    assert "Also in this scene: Kaladin" in text_of(hers)
    assert SECRET in text_of(his)
    assert {"role": "user", "content": "Shallan: I am Shallan."} in his  # her line, labelled
    assert "just arrived" not in text_of(his)


async def test_in_a_list_scene_everyone_answers_in_turn_and_the_queue_is_announced(
    scene: Callable[..., Any],
) -> None:
    played = await scene("kaladin", "shallan", "adolin", activation="list")

    await actions.turn_send(owner=played.owner, chat_id=played.chat.pk, content="Report.")
    events = await played.completes(3)

    queued = [(e["persona"], e["position"]) for e in events if e["type"] == "queued"]
    assert queued[:2] == [("shallan", 1), ("adolin", 2)]
    assert replies(events) == [
        ("kaladin", "I am Kaladin."),
        ("shallan", "I am Shallan."),
        ("adolin", "I am Adolin."),
    ]
    acks = [e for e in events if e["type"] == "ack"]
    assert acks[0]["message"]["present"] == ["kaladin", "shallan", "adolin"]
    assert [a["message"] for a in acks[1:]] == [None, None]  # the others answer it too


async def test_a_named_member_answers_and_a_chosen_one_is_asked_directly(
    scene: Callable[..., Any],
) -> None:
    played = await scene("kaladin", "shallan", "adolin")

    await actions.turn_send(owner=played.owner, chat_id=played.chat.pk, content="Adolin, duel me.")
    named = replies(await played.completes(1))
    await actions.turn_send(
        owner=played.owner, chat_id=played.chat.pk, content="Adolin?", persona="shallan"
    )
    asked = replies(await played.completes(1))

    assert named == [("adolin", "I am Adolin.")]
    assert asked == [("shallan", "I am Shallan.")]


async def test_a_manual_scene_answers_only_when_asked(scene: Callable[..., Any]) -> None:
    played = await scene("kaladin", "shallan", activation="manual")

    posted = await actions.turn_send(owner=played.owner, chat_id=played.chat.pk, content="Hm.")
    ack = (await played.socket.receive_until("ack"))[-1]
    nothing = await played.socket.receive_nothing(0.3)
    await actions.turn_nudge(owner=played.owner, chat_id=played.chat.pk, persona="kaladin")
    answered = replies(await played.completes(1))

    assert isinstance(posted, actions.Posted)
    assert (ack["type"], ack["reply"], ack["message"]["content"]) == ("ack", None, "Hm.")
    assert [e for e in nothing if e["type"] in ("ack", "stream", "complete")] == []
    assert answered == [("kaladin", "I am Kaladin.")]


async def test_a_muted_member_neither_speaks_nor_hears(
    scene: Callable[..., Any], upstream: FakeLLMServer
) -> None:
    played = await scene("kaladin", "shallan")
    mute = sync_to_async(actions.chat_set_scene)
    await mute(owner=played.owner, chat_id=played.chat.pk, muted=["shallan"])

    await actions.turn_send(owner=played.owner, chat_id=played.chat.pk, content=SECRET)
    while_muted = replies(await played.completes(1))
    with pytest.raises(actions.NotAMember):
        await actions.turn_nudge(owner=played.owner, chat_id=played.chat.pk, persona="shallan")
    await mute(owner=played.owner, chat_id=played.chat.pk, muted=[])
    await actions.turn_nudge(owner=played.owner, chat_id=played.chat.pk, persona="shallan")
    await played.completes(1)

    assert while_muted == [("kaladin", "I am Kaladin.")]
    hers = prompts(upstream)[-1]
    assert SECRET not in text_of(hers)
    assert "Kaladin: I am Kaladin." not in text_of(hers)


async def test_auto_lets_the_members_talk_until_stopped(scene: Callable[..., Any]) -> None:
    played = await scene("kaladin", "shallan", "adolin")

    await actions.turn_auto(owner=played.owner, chat_id=played.chat.pk, turns=4)
    spoken = replies(await played.completes(4))
    later = await played.socket.receive_nothing(0.3)

    speakers = [persona for persona, _ in spoken]
    assert all(a != b for a, b in itertools.pairwise(speakers))  # never twice
    assert not [e for e in later if e["type"] == "ack"]
    with pytest.raises(actions.BadRequest):
        await actions.turn_auto(owner=played.owner, chat_id=played.chat.pk, turns=1000)


async def test_stop_ends_the_reply_and_the_rest_of_the_queue(
    scene: Callable[..., Any], llm: Any
) -> None:
    slow = sse_reply(["word "] * 200, delay=0.02)
    await llm(lambda request: slow)
    played = await scene("kaladin", "shallan", "adolin", activation="list")

    await actions.turn_send(owner=played.owner, chat_id=played.chat.pk, content="Go.")
    async with asyncio.timeout(10):
        while (await played.socket.receive())["type"] != "stream":
            pass
    await actions.turn_stop(owner=played.owner, chat_id=played.chat.pk)
    events = await played.completes(1)
    after = await played.socket.receive_nothing(0.5)

    assert [e["message"]["status"] for e in events if e["type"] == "complete"] == ["cancelled"]
    assert not [e for e in after if e["type"] in ("ack", "stream")]
    count = await sync_to_async(Message.objects.filter(chat=played.chat, role="assistant").count)()
    assert count == 2  # the greeting and the stopped reply: the queue went with it


async def test_the_api_makes_and_changes_a_scene(upstream: FakeLLMServer) -> None:
    key = await sync_to_async(new_session_key)()
    await sync_to_async(personas_seed)()
    client = AsyncClient(headers={"cookie": f"sessionid={key}"})

    made = await client.post(
        "/api/chats/",
        {"personas": ["shallan", "kaladin", "adolin"]},
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    chat = made.json()
    assert [m["slug"] for m in chat["members"]] == ["shallan", "kaladin", "adolin"]
    assert chat["persona"]["slug"] == "shallan"
    assert chat["messages"][0]["persona"] == "shallan"
    assert chat["messages"][0]["present"] == ["shallan", "kaladin", "adolin"]

    changed = await client.patch(
        f"/api/chats/{chat['id']}/",
        {"personas": ["kaladin", "adolin"], "muted": ["adolin"], "activation": "list"},
        content_type="application/json",
    )
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert [(m["slug"], m["muted"]) for m in body["members"]] == [
        ("kaladin", False),
        ("adolin", True),
    ]
    assert body["activation"] == "list"

    sent = await client.post(
        f"/api/chats/{chat['id']}/messages/",
        {"content": "Who's there?"},
        content_type="application/json",
    )
    assert sent.status_code == 202
    assert sent.json()["reply"]["persona"] == "kaladin"
    assert sent.json()["message"]["present"] == ["kaladin"]  # Adolin is muted


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"personas": ["kaladin", "nobody"]}, "unknown_persona"),
        ({"personas": ["kaladin", "kaladin"]}, "bad_request"),
        ({"personas": []}, "bad_request"),
        ({"personas": [1, 2]}, "bad_request"),
        ({"personas": {"kaladin": 1}}, "bad_request"),
        ({"personas": ["kaladin"] * 30}, "bad_request"),
    ],
)
async def test_a_bad_scene_is_refused_clearly(body: dict[str, Any], code: str) -> None:
    key = await sync_to_async(new_session_key)()
    await sync_to_async(personas_seed)()
    client = AsyncClient(headers={"cookie": f"sessionid={key}"})

    refused = await client.post("/api/chats/", body, content_type="application/json")

    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == code
    assert not await sync_to_async(Chat.objects.filter(session_key=key).exists)()


async def test_the_page_shows_each_speaker_and_who_is_next(scene: Callable[..., Any]) -> None:
    played = await scene("kaladin", "shallan", activation="list")
    page = chat_socket(played.chat.pk, played.key, html=True)
    assert (await page.connect())[0]
    await page.receive_from(5)  # the welcome

    await actions.turn_send(owner=played.owner, chat_id=played.chat.pk, content="Report.")
    frames = []
    async with asyncio.timeout(15):
        while sum('data-event="complete"' in f for f in frames) < 2:
            frames.append(await page.receive_from(10))
    await page.disconnect()

    html = "".join(frames)
    assert "Shallan speaks next" in html
    shallans = [f for f in frames if 'data-event="ack"' in f and 'data-persona="shallan"' in f]
    assert shallans  # her reply is a new message on the page, not one drawn in place
    assert 'hx-swap-oob="beforeend:#messages"' in shallans[0]
    assert '<p class="speaker">Kaladin</p>' in html
    assert '<p class="speaker">Shallan</p>' in html


async def test_each_speaker_reads_their_own_lorebook_never_anothers(
    scene: Callable[..., Any], upstream: FakeLLMServer
) -> None:
    played = await scene("kaladin", "shallan")

    def own_books() -> None:
        for slug, lore in (("kaladin", "KALADIN-LORE"), ("shallan", "SHALLAN-LORE")):
            persona = Persona.objects.get(slug=slug)
            book = persona.own_lorebook or Lorebook.objects.create(name=f"{slug}'s")
            LoreEntry.objects.create(book=book, keys=["highstorm"], content=lore)
            persona.own_lorebook = book
            persona.save()

    await sync_to_async(own_books)()
    for slug in ("shallan", "kaladin"):
        await actions.turn_send(
            owner=played.owner, chat_id=played.chat.pk, content="A highstorm!", persona=slug
        )
        await played.completes(1)

    hers, his = (text_of(prompt) for prompt in prompts(upstream)[-2:])
    assert "SHALLAN-LORE" in hers
    assert "KALADIN-LORE" not in hers
    assert "KALADIN-LORE" in his
    assert "SHALLAN-LORE" not in his


async def test_the_socket_frames_nudge_auto_and_scene(scene: Callable[..., Any]) -> None:
    played = await scene("kaladin", "shallan")
    socket = played.socket

    await socket.send(type="nudge", persona="shallan")
    nudged = replies(await played.completes(1))
    await socket.send(type="auto", turns=2)
    talked = replies(await played.completes(2))
    await socket.send(type="scene", muted=["kaladin"], activation="list")
    settings = (await socket.receive_until("settings"))[-1]["chat"]
    refusals = []
    for frame in (
        {"type": "nudge", "persona": "kaladin"},  # muted now
        {"type": "nudge"},
        {"type": "auto", "turns": 0},
        {"type": "scene", "activation": "shouting"},
        {"type": "scene", "personas": ["kaladin", "nobody"]},
        {"type": "chat", "content": "Hi", "persona": ["shallan"]},
    ):
        await socket.send(**frame)
        refusals.append((await socket.receive_until("error"))[-1]["code"])

    assert nudged == [("shallan", "I am Shallan.")]
    assert [persona for persona, _ in talked] == ["kaladin", "shallan"]
    assert [(m["slug"], m["muted"]) for m in settings["members"]] == [
        ("kaladin", True),
        ("shallan", False),
    ]
    assert settings["activation"] == "list"
    assert refusals == [
        "not_a_member",
        "bad_request",
        "bad_request",
        "bad_request",
        "unknown_persona",
        "bad_request",
    ]


async def test_a_page_opened_mid_scene_sees_who_speaks_next(
    scene: Callable[..., Any], llm: Any, connect: Connect
) -> None:
    slow = sse_reply(["word "] * 200, delay=0.02)
    await llm(lambda request: slow)
    played = await scene("kaladin", "shallan", "adolin", activation="list")
    await actions.turn_send(owner=played.owner, chat_id=played.chat.pk, content="Go.")
    await played.socket.receive_until("stream")

    late = chat_socket(played.chat.pk, played.key)
    assert (await late.connect())[0]
    welcome = await late.receive_json_from(5)
    page = chat_socket(played.chat.pk, played.key, html=True)
    assert (await page.connect())[0]
    drawn = await page.receive_from(5)
    await actions.turn_stop(owner=played.owner, chat_id=played.chat.pk)
    await played.completes(1)
    await late.disconnect()
    await page.disconnect()

    writing = welcome["messages"][-1]
    assert (writing["status"], writing["persona"]) == ("streaming", "kaladin")
    assert writing["queued"] == ["shallan", "adolin"]
    assert "Shallan speaks next" in drawn
    assert "Adolin speaks next (2nd)" in drawn


async def test_a_scene_opens_and_starts_over_with_its_group_greetings(
    scene: Callable[..., Any],
) -> None:
    def group_greetings() -> None:
        Persona.objects.filter(slug="shallan").update(
            group_only_greetings=["*Shallan sketches you all.*", "*Shallan waves at everyone.*"]
        )

    await sync_to_async(personas_seed)()
    await sync_to_async(group_greetings)()
    played = await scene("shallan", "kaladin")

    def greetings() -> list[str]:
        chat = Chat.objects.get(pk=played.chat.pk)
        first = chat.messages.get().content
        swiped = actions.chat_choose_greeting(owner=played.owner, chat_id=chat.pk, index=1)
        cleared = actions.chat_clear(owner=played.owner, chat_id=chat.pk)
        return [first, swiped[0].content, cleared[0].content, cleared[0].speaker]

    first, swiped, cleared, speaker = await sync_to_async(greetings)()
    assert first == "*Shallan sketches you all.*"
    assert swiped == cleared == "*Shallan waves at everyone.*"
    assert speaker == "shallan"
