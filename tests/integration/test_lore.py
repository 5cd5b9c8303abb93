"""Lore in real turns: what the model receives, what the reply records, what a reader sees.

The backend is a loopback OpenAI-compatible server; the turns go through the consumer.
"""

from __future__ import annotations

import html
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from chat import actions
from chat.errors import BadRequest
from chat.models import Chat
from chat.ownership import Owner
from personas.lore.seeding import lore_seed
from personas.models import Lorebook, LoreEntry, Persona
from personas.services import personas_seed, seed_definitions
from tests.integration.conftest import new_session_key, sse_reply

pytestmark = pytest.mark.django_db(transaction=True)

SPOILER = "Kaladin speaks the Fourth Ideal above Urithiru."


@pytest.fixture
async def kaladin_lore(owned_chat: tuple[Chat, str]) -> Lorebook:
    chat, _ = owned_chat

    def make() -> Lorebook:
        book = Lorebook.objects.create(name="Kaladin's oaths", token_budget=400)
        LoreEntry.objects.create(
            book=book, name="Fourth Ideal", keys=["ideal"], content=SPOILER,
            reveal="wind-and-truth",
        )  # fmt: skip
        LoreEntry.objects.create(
            book=book, name="Bridge Four", keys=["bridge"], content="Bridge Four is his crew.",
        )  # fmt: skip
        chat.persona.lorebooks.add(book)
        return book

    return await sync_to_async(make)()


async def turn(connect: Any, chat: Chat, key: str, text: str) -> dict[str, Any]:
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content=text)
    *_, complete = await client.receive_until("complete")
    return complete["message"]


def prompt_text(server: Any) -> str:
    """The reply's prompt: the server's first request (a title may be asked for after)."""
    return "\n".join(m["content"] for m in server.requests[0].json()["messages"])


async def test_a_later_books_fact_never_reaches_an_early_reader_whatever_they_type(
    owned_chat: tuple[Chat, str], connect: Any, llm: Any, kaladin_lore: Lorebook
) -> None:
    server = await llm(sse_reply(["Aye."]))
    chat, key = owned_chat
    reply = await turn(connect, chat, key, "Tell me your next Ideal, on the bridge.")

    sent = prompt_text(server)
    assert SPOILER not in sent
    assert "Bridge Four is his crew." in sent
    assert "through The Way of Kings" in sent  # the persona is told where the reader is
    assert [(r["entry"], r["key"]) for r in reply["lore"]] == [("Bridge Four", "bridge")]


async def test_once_the_reader_is_that_far_the_fact_joins_when_its_key_comes_up(
    owned_chat: tuple[Chat, str], connect: Any, llm: Any, kaladin_lore: Lorebook
) -> None:
    server = await llm(sse_reply(["Aye."]))
    chat, key = owned_chat
    await sync_to_async(actions.chat_set_read_through)(
        owner=chat.owner, chat_id=chat.pk, read_through="wind-and-truth"
    )
    reply = await turn(connect, chat, key, "What was your Fourth Ideal?")

    assert SPOILER in prompt_text(server)
    assert "through Wind and Truth" in prompt_text(server)
    assert [r["entry"] for r in reply["lore"]] == ["Fourth Ideal"]
    assert reply["lore"][0]["key"] == "ideal"


async def test_the_budget_drops_are_recorded_beside_what_joined(
    owned_chat: tuple[Chat, str], connect: Any, llm: Any, kaladin_lore: Lorebook
) -> None:
    await llm(sse_reply(["Aye."]))
    chat, key = owned_chat

    def shrink() -> None:
        kaladin_lore.token_budget = 1
        kaladin_lore.save()

    await sync_to_async(shrink)()
    reply = await turn(connect, chat, key, "The bridge crews again.")
    assert reply["lore"] == []
    assert [r["entry"] for r in reply["lore_dropped"]] == ["Bridge Four"]


async def test_staff_see_the_replys_lore_in_the_admin(
    owned_chat: tuple[Chat, str], connect: Any, llm: Any, kaladin_lore: Lorebook, admin_client: Any
) -> None:
    await llm(sse_reply(["Aye."]))
    chat, key = owned_chat
    reply = await turn(connect, chat, key, "Back to the bridge.")

    page = await sync_to_async(admin_client.get)(f"/admin/chat/message/{reply['id']}/change/")
    shown = html.unescape(page.content.decode())
    assert "Kaladin's oaths: Bridge Four \u2014 key \u201cbridge\u201d" in shown


LATER_WORDS = [
    "I will protect even those I hate",  # Kaladin's Third Ideal
    "I accept that there will be those I cannot protect",  # his Fourth
    "Windrunner",
    "Rathalas",  # Dalinar, Oathbringer
    "Nightwatcher",
    "Bondsmith",
    "Lightweaver",
    "Skybreaker",
    "Elsecaller",
    "Queen of Alethkar",
    "Nightblood",
    "Hoid",
]


@pytest.mark.parametrize("slug", [p["slug"] for p in seed_definitions()])
async def test_a_shipped_persona_at_the_default_setting_sends_nothing_from_a_later_book(
    slug: str, connect: Any, llm: Any, transactional_db: None
) -> None:
    server = await llm(sse_reply(["..."]))

    def start() -> tuple[Chat, str, list[str]]:
        personas_seed()
        lore_seed()
        key = new_session_key()
        chat = actions.chat_create(
            owner=Owner(session_key=key), persona=Persona.objects.get(slug=slug)
        )
        later = list(LoreEntry.objects.exclude(reveal__in=["", "the-way-of-kings"]))
        return chat, key, later

    chat, key, later = await sync_to_async(start)()
    assert chat.read_through == "the-way-of-kings"
    # The user names every key of every entry in every shipped book.
    everything = await sync_to_async(
        lambda: sorted({k for e in LoreEntry.objects.all() for k in e.keys})
    )()
    await turn(connect, chat, key, "Tell me about " + ", ".join(everything) + ".")

    sent = prompt_text(server)
    assert sent.count("Tell me about") == 1  # the message itself went
    for words in LATER_WORDS:
        leaked = words in sent.replace("Tell me about " + ", ".join(everything), "")
        assert not leaked, words
    for entry in later:
        assert entry.content not in sent, entry.name


def test_the_gallery_shows_the_epithets_of_how_far_the_reader_has_read(
    client: Any, django_user_model: Any, transactional_db: None
) -> None:
    personas_seed()
    lore_seed()
    early = client.get("/").content.decode()
    assert "Stormblessed, of Bridge Four" in early
    assert "Bondsmith" not in early
    assert "Windrunner" not in early

    user = django_user_model.objects.create_user("reader", password="pw-long-enough-1")
    client.force_login(user)
    kaladin = Persona.objects.get(slug="kaladin")
    chat = actions.chat_create(owner=Owner(user_id=user.pk), persona=kaladin)
    actions.chat_set_read_through(owner=Owner(user_id=user.pk), chat_id=chat.pk,
                                  read_through="oathbringer")  # fmt: skip
    later = client.get("/").content.decode()
    assert "Stormblessed, Windrunner" in later
    assert "The Blackthorn, Bondsmith" in later
    assert "Scholar, Artifabrian, Bondsmith" not in later  # Navani's is Rhythm of War
    page = client.get(f"/chats/{chat.pk}/").content.decode()
    assert "Stormblessed, Windrunner" in page


async def test_a_chats_own_book_joins_its_prompt_and_a_global_one_cannot_be_added(
    owned_chat: tuple[Chat, str], connect: Any, llm: Any
) -> None:
    server = await llm(sse_reply(["Aye."]))
    chat, key = owned_chat

    def make() -> tuple[Lorebook, Lorebook]:
        own = Lorebook.objects.create(name="Herdaz")
        LoreEntry.objects.create(book=own, keys=["cousin"], content="The Lopen has cousins.")
        return own, Lorebook.objects.create(name="Everywhere", is_global=True)

    own, everywhere = await sync_to_async(make)()
    with pytest.raises(BadRequest, match=str(everywhere.pk)):
        await sync_to_async(actions.chat_set_lorebooks)(
            owner=chat.owner, chat_id=chat.pk, book_ids=[everywhere.pk]
        )
    await sync_to_async(actions.chat_set_lorebooks)(
        owner=chat.owner, chat_id=chat.pk, book_ids=[own.pk]
    )
    reply = await turn(connect, chat, key, "How many cousins?")
    assert "The Lopen has cousins." in prompt_text(server)
    assert [r["book"] for r in reply["lore"]] == ["Herdaz"]


def test_a_reader_says_how_far_they_have_read_from_the_gallery_or_the_api(
    client: Any, transactional_db: None
) -> None:
    personas_seed()
    lore_seed()
    assert client.get("/api/reader/").json()["read_through"] == "the-way-of-kings"

    client.post("/reading/", {"read_through": "oathbringer"})  # an anonymous visitor
    assert "The Blackthorn, Bondsmith" in client.get("/").content.decode()
    kaladin = Persona.objects.get(slug="kaladin")
    created = client.post("/api/chats/", {"persona": kaladin.slug}, content_type="application/json")
    assert created.json()["read_through"] == "oathbringer"  # new chats start there

    patched = client.patch(
        "/api/reader/", {"read_through": "words-of-radiance"}, content_type="application/json"
    )
    assert patched.json()["read_through"] == "words-of-radiance"
    refused = client.patch(
        "/api/reader/", {"read_through": "mistborn"}, content_type="application/json"
    )
    assert refused.status_code == 400
    assert "read_through must be one of" in refused.json()["error"]["message"]
