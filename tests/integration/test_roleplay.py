"""Roleplay controls over the socket and the JSON API: swipes, continue, impersonate,
delete, edit a reply, forks, the author's note and user personas."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client as HttpClient

from chat.models import Chat, Message, UserPersona
from personas.models import Persona, PersonaAsset
from tests.fakes.llm_server import FakeLLMServer

from .conftest import Connect, chat_socket, sse_reply
from .views import HtmlView

pytestmark = pytest.mark.django_db(transaction=True)
TOKENS = ["Life", " before", " death", "."]


def prompts(server: FakeLLMServer) -> list[list[dict[str, Any]]]:
    """The reply prompts the backend was sent (titles left out)."""
    sent = [request.json()["messages"] for request in server.requests]
    return [m for m in sent if "You name conversations" not in m[0]["content"]]


async def first_exchange(client: Any) -> dict[str, Any]:
    await client.receive()  # welcome
    await client.send(type="chat", content="Who are you?")
    reply = (await client.receive_until("complete"))[-1]["message"]
    await client.receive_until("title")
    return reply


async def test_swipes_keep_every_alternative_and_the_prompt_uses_the_one_shown(
    owned_chat: tuple[Chat, str], connect: Connect, llm: Any
) -> None:
    server = await llm(sse_reply(TOKENS))
    chat, key = owned_chat
    client, other = await connect(chat.pk, key), await connect(chat.pk, key)
    await other.receive()
    reply = await first_exchange(client)
    await client.send(type="regenerate")
    await client.receive_until("complete")
    await Message.objects.filter(pk=reply["id"]).aupdate(content="Second take.")

    await client.send(type="swipe", message_id=reply["id"], index=0)
    for tab in (client, other):
        swiped = (await tab.receive_until("swiped"))[-1]["message"]
        shown = (swiped["swipe"], swiped["swipes"], swiped["content"])
        assert shown == (0, 2, "Life before death.")
    stored = await Message.objects.aget(pk=reply["id"])
    assert stored.alternative_texts() == ["Life before death.", "Second take."]

    await client.send(type="swipe", message_id=reply["id"], index=5)
    error = (await client.receive_until("error"))[-1]
    assert error["code"] == "no_such_swipe"

    await client.send(type="chat", content="And then?")
    await client.receive_until("complete")
    last_prompt = prompts(server)[-1]
    assert {"role": "assistant", "content": "Life before death."} in last_prompt
    assert all("Second take." not in m["content"] for m in last_prompt)


async def test_continue_extends_the_last_reply_in_place(
    owned_chat: tuple[Chat, str], connect: Connect, llm: Any
) -> None:
    server = await llm(sse_reply([" The", " Words", "."]))
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    reply = await first_exchange(client)
    await client.send(type="continue")
    events = await client.receive_until("complete")
    ack = events[0]
    assert (ack["type"], ack["continued"], ack["reply"]["id"]) == ("ack", True, reply["id"])
    assert {e["message_id"] for e in events if e["type"] == "stream"} == {reply["id"]}
    assert events[-1]["message"]["content"] == reply["content"] + " The Words."
    # The prompt ends with the reply so far, then the instruction to continue it.
    prompt = prompts(server)[-1]
    assert prompt[-2] == {"role": "assistant", "content": reply["content"]}
    assert "Continue" in prompt[-1]["content"]
    assert await Message.objects.filter(chat=chat).acount() == 3


async def test_continue_needs_a_reply_at_the_end(
    owned_chat: tuple[Chat, str], connect: Connect, llm: Any
) -> None:
    await llm(sse_reply(TOKENS))
    chat, key = owned_chat
    await Message.objects.acreate(chat=chat, role="user", content="Hello?", position=2)
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="continue")
    assert (await client.receive_until("error"))[-1]["code"] == "nothing_to_continue"


async def test_impersonate_drafts_to_the_asking_connection_only_and_saves_nothing(
    owned_chat: tuple[Chat, str], connect: Connect, llm: Any
) -> None:
    server = await llm(sse_reply(["I", " am", " Lopen", "."]))
    chat, key = owned_chat
    client, other = await connect(chat.pk, key), await connect(chat.pk, key)
    await client.receive()
    await other.receive()
    await client.send(type="impersonate")
    events = await client.receive_until("draft_complete")
    assert "".join(e["content"] for e in events if e["type"] == "draft") == "I am Lopen."
    assert events[-1]["content"] == "I am Lopen."
    assert "Lopen" not in "".join(str(e) for e in await other.receive_nothing(0.3))
    assert await Message.objects.filter(chat=chat).acount() == 1
    assert "Write User's next message" in server.requests[-1].json()["messages"][-1]["content"]


async def test_the_page_gets_the_draft_where_its_script_reads_it(
    owned_chat: tuple[Chat, str], llm: Any
) -> None:
    await llm(sse_reply(["I", " am", " Lopen", "."]))
    chat, key = owned_chat
    page = HttpClient()
    page.cookies["sessionid"] = key
    view = HtmlView((await sync_to_async(page.get)(f"/chats/{chat.pk}/")).content.decode())
    socket = chat_socket(chat.pk, key, html=True)
    assert (await socket.connect())[0]
    view.apply(await socket.receive_from(timeout=10))
    await socket.send_json_to({"type": "impersonate"})
    while 'data-event="draft_complete"' not in (frame := await socket.receive_from(timeout=10)):
        view.apply(frame)
    view.apply(frame)
    await socket.disconnect()
    draft = view.by_id("ws-draft")
    assert draft is not None
    assert draft.text_content() == "I am Lopen."


async def test_delete_removes_one_message_for_every_connection(
    owned_chat: tuple[Chat, str], connect: Connect, llm: Any
) -> None:
    await llm(sse_reply(TOKENS))
    chat, key = owned_chat
    client, other = await connect(chat.pk, key), await connect(chat.pk, key)
    await other.receive()
    reply = await first_exchange(client)
    await client.send(type="delete", message_id=reply["id"])
    for tab in (client, other):
        assert (await tab.receive_until("removed"))[-1]["ids"] == [reply["id"]]
    assert not await Message.objects.filter(pk=reply["id"]).aexists()
    # The greeting stays while it is alone.
    user = await Message.objects.aget(chat=chat, role="user")
    await client.send(type="delete", message_id=user.pk)
    await client.receive_until("removed")
    greeting = await Message.objects.aget(chat=chat)
    await client.send(type="delete", message_id=greeting.pk)
    assert (await client.receive_until("error"))[-1]["code"] == "not_deletable"


async def test_editing_a_reply_changes_it_in_place_without_a_new_run(
    owned_chat: tuple[Chat, str], connect: Connect, llm: Any
) -> None:
    server = await llm(sse_reply(TOKENS))
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    reply = await first_exchange(client)
    asked = len(server.requests)
    await client.send(type="edit", message_id=reply["id"], content="Journey before destination.")
    edited = (await client.receive_until("edited"))[-1]["message"]
    assert (edited["id"], edited["content"]) == (reply["id"], "Journey before destination.")
    assert len(server.requests) == asked


async def test_authors_note_and_user_persona_shape_the_prompt(
    owned_chat: tuple[Chat, str], connect: Connect, llm: Any
) -> None:
    server = await llm(sse_reply(TOKENS))
    chat, key = owned_chat
    played = await UserPersona.objects.acreate(
        session_key=key, name="Lopen", description="A one-armed Herdazian who loves jokes."
    )
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="user_persona", user_persona=played.pk)
    await client.receive_until("settings")
    await client.send(type="authors_note", authors_note="Keep it grim.", authors_note_depth=0)
    settings_event = (await client.receive_until("settings"))[-1]["chat"]
    assert (settings_event["authors_note"], settings_event["user_persona"]) == (
        "Keep it grim.",
        played.pk,
    )
    await client.send(type="chat", content="Hello, {{char}}.")
    await client.receive_until("complete")
    prompt = prompts(server)[-1]
    system = prompt[0]["content"]
    assert "About Lopen:\nA one-armed Herdazian who loves jokes." in system
    assert system.index("About Lopen") > system.index("Kaladin")
    # Depth 0: the note follows the newest message.
    assert prompt[-1] == {"role": "system", "content": "Keep it grim."}
    assert prompt[-2]["content"] == "Hello, Kaladin."

    # A card that brings its own user icon turns the user persona off.
    await PersonaAsset.objects.acreate(
        persona_id=chat.persona_id, type="user_icon", name="you", ext="png", uri="https://x/y.png"
    )
    await client.send(type="chat", content="Again.")
    await client.receive_until("complete")
    assert "About Lopen" not in prompts(server)[-1][0]["content"]


async def test_someone_elses_user_persona_is_not_found(
    owned_chat: tuple[Chat, str], connect: Connect, llm: Any
) -> None:
    chat, key = owned_chat
    theirs = await UserPersona.objects.acreate(session_key="z" * 32, name="Moash")
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="user_persona", user_persona=theirs.pk)
    assert (await client.receive_until("error"))[-1]["code"] == "not_found"
    assert (await Chat.objects.aget(pk=chat.pk)).user_persona_id is None


async def test_fork_copies_the_chat_up_to_a_message(
    owned_chat: tuple[Chat, str], connect: Connect, llm: Any
) -> None:
    await llm(sse_reply(TOKENS))
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    reply = await first_exchange(client)
    await client.send(type="regenerate")
    await client.receive_until("complete")
    await client.send(type="chat", content="Later message")
    await client.receive_until("complete")

    def fork_over_http() -> Any:
        http = HttpClient()
        http.cookies["sessionid"] = key
        return http.post(
            f"/api/chats/{chat.pk}/fork/",
            {"message_id": reply["id"]},
            content_type="application/json",
        )

    response = await sync_to_async(fork_over_http)()
    assert response.status_code == 201
    fork = response.json()
    assert fork["title"].endswith("(fork)")
    assert [m["role"] for m in fork["messages"]] == ["assistant", "user", "assistant"]
    assert (fork["messages"][-1]["swipes"], fork["messages"][-1]["swipe"]) == (2, 1)
    assert fork["id"] != str(chat.pk)


async def test_a_persona_edited_between_turns_speaks_as_edited_from_the_next_turn(
    owned_chat: tuple[Chat, str], connect: Connect, llm: Any
) -> None:
    """Turns read the persona from the process's copy of its saved revision: a save (the
    admin's) is a new revision, so the very next turn uses it."""
    server = await llm(sse_reply(TOKENS))
    chat, key = owned_chat
    client = await connect(chat.pk, key)
    await first_exchange(client)
    persona = await Persona.objects.aget(pk=chat.persona_id)
    persona.system_prompt = "You are Kaladin Stormblessed, now bonded to Syl for years."
    await sync_to_async(persona.save)()

    await client.send(type="chat", content="What changed?")
    await client.receive_until("complete")
    before, after = prompts(server)[-2:]
    assert "bonded to Syl for years" not in before[0]["content"]
    assert "bonded to Syl for years" in after[0]["content"]
