"""Files sent with a message: pictures travel in each vision wire format to a real
loopback server, text files are inlined, and bad ids or blind models are refused before
anything is saved."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from PIL import Image
from pytest_django.fixtures import Settings

from chat import actions
from chat.models import Attachment, Chat, Message
from chat.ownership import Owner
from tests.fakes.llm_server import FakeLLMServer, Reply, ollama_ndjson

from .conftest import Connect, new_session_key, sse_reply

pytestmark = pytest.mark.django_db(transaction=True)
TOKENS = ["A ", "red ", "square."]


def png(size: tuple[int, int] = (48, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (220, 30, 30)).save(out, "PNG")
    return out.getvalue()


async def uploaded(chat: Chat, key: str, name: str, data: bytes) -> Attachment:
    return await actions.attachment_upload(
        owner=Owner(session_key=key), chat_id=chat.pk, name=name, data=data
    )


def last_user_turn(server: FakeLLMServer) -> dict[str, Any]:
    messages = [r.json()["messages"] for r in server.requests]
    prompt = [m for m in messages if "name conversations" not in m[0]["content"]][-1]
    return [m for m in prompt if m["role"] == "user"][-1]


def decoded(data: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(data)))


async def test_a_picture_reaches_an_openai_compatible_model_as_an_image_url_part(
    owned_chat: tuple[Chat, str], connect: Connect, llm: Any, settings: Settings
) -> None:
    server = await llm(sse_reply(TOKENS))
    settings.LLM_VISION = True
    chat, key = owned_chat
    picture = await uploaded(chat, key, "square.png", png())
    client, other = await connect(chat.pk, key), await connect(chat.pk, key)
    await client.receive()
    await other.receive()
    await client.send(type="chat", content="What colour is this?", attachments=[str(picture.pk)])
    for tab in (client, other):  # every tab shows the message with its picture
        ack = (await tab.receive_until("ack"))[-1]
        [shown] = ack["message"]["attachments"]
        assert (shown["id"], shown["kind"], shown["name"]) == (
            str(picture.pk),
            "image",
            "square.jpg",  # no transparency: stored as a JPEG
        )
    await client.receive_until("complete")

    turn = last_user_turn(server)
    text, image = turn["content"]
    assert text == {"type": "text", "text": "What colour is this?"}
    assert image["type"] == "image_url"
    url = image["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    sent = decoded(url.split(",", 1)[1])
    assert sent.size == (48, 32)
    assert sent.getpixel((10, 10))[0] > 180  # the red picture, re-encoded
    stored = await Message.objects.aget(chat=chat, role="user", content="What colour is this?")
    assert stored.attachment_count == 1
    assert await Attachment.objects.filter(pk=picture.pk, message=stored).aexists()


async def test_a_picture_reaches_ollama_in_images(
    owned_chat: tuple[Chat, str], connect: Connect, settings: Settings
) -> None:
    server = await FakeLLMServer(
        Reply(content_type="application/x-ndjson", body=ollama_ndjson(TOKENS))
    ).start()
    try:
        settings.LLM_BACKEND, settings.LLM_BASE_URL = "ollama", server.url
        settings.LLM_MODEL, settings.LLM_VISION = "llava", True
        chat, key = owned_chat
        picture = await uploaded(chat, key, "square.png", png())
        client = await connect(chat.pk, key)
        await client.receive()
        await client.send(type="chat", content="", attachments=[str(picture.pk)])
        await client.receive_until("complete")
        turn = last_user_turn(server)
        assert turn["content"] == ""  # a picture needs no words
        [image] = turn["images"]
        assert decoded(image).size == (48, 32)
    finally:
        await server.close()


async def test_a_model_that_cannot_see_gets_vision_unsupported_and_nothing_is_saved(
    owned_chat: tuple[Chat, str], connect: Connect, llm: Any
) -> None:
    server = await llm(sse_reply(TOKENS))  # LLM_VISION is off by default
    chat, key = owned_chat
    picture = await uploaded(chat, key, "square.png", png())
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="Look!", attachments=[str(picture.pk)])
    error = await client.receive()
    assert error["type"] == "error"
    assert error["code"] == "vision_unsupported"
    assert not await Message.objects.filter(chat=chat, role="user").aexists()
    assert not server.requests
    assert await Attachment.objects.filter(pk=picture.pk, message=None).aexists()  # kept


async def test_text_files_are_inlined_after_the_message(
    owned_chat: tuple[Chat, str], connect: Connect, llm: Any
) -> None:
    server = await llm(sse_reply(TOKENS))
    chat, key = owned_chat
    notes = await uploaded(chat, key, "notes.md", b"# Plans\nFind the Oathgates.")
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="Read my notes.", attachments=[str(notes.pk)])
    await client.receive_until("complete")
    content = last_user_turn(server)["content"]
    assert content == "Read my notes.\n\nContent of notes.md:\n# Plans\nFind the Oathgates."

    # Later turns still carry the file, and a picture to a blind model is named instead.
    await client.send(type="chat", content="And again?")
    await client.receive_until("complete")
    prompt = [r.json()["messages"] for r in server.requests][-1]
    assert any("Content of notes.md:" in m["content"] for m in prompt if m["role"] == "user")


async def test_someone_elses_attachment_is_not_found_and_nothing_is_saved(
    owned_chat: tuple[Chat, str], connect: Connect, llm: Any
) -> None:
    await llm(sse_reply(TOKENS))
    chat, key = owned_chat
    other_key = await sync_to_async(new_session_key)()
    other_chat = await actions_chat(other_key)
    theirs = await uploaded(other_chat, other_key, "secret.txt", b"their diary")
    client = await connect(chat.pk, key)
    await client.receive()
    for ids in ([str(theirs.pk)], ["not-an-id"], [str(theirs.pk)] * 2):
        await client.send(type="chat", content="Hi", attachments=ids)
        error = await client.receive()
        assert error["code"] in ("not_found", "bad_request"), error
    assert not await Message.objects.filter(chat=chat, role="user").aexists()
    assert await Attachment.objects.filter(pk=theirs.pk, message=None).aexists()


async def test_the_json_api_sends_attachments_too(
    owned_chat: tuple[Chat, str], llm: Any, settings: Settings
) -> None:
    from django.test import AsyncClient

    server = await llm(sse_reply(TOKENS))
    settings.LLM_VISION = True
    chat, key = owned_chat
    picture = await uploaded(chat, key, "square.png", png())
    client = AsyncClient()
    client.cookies["sessionid"] = key
    response = await client.post(
        f"/api/chats/{chat.pk}/messages/",
        {"content": "See?", "attachments": [str(picture.pk)]},
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    assert response.json()["message"]["attachments"][0]["id"] == str(picture.pk)
    await wait_for(lambda: bool(server.requests))
    assert last_user_turn(server)["content"][1]["type"] == "image_url"


async def actions_chat(key: str) -> Chat:
    from chat.services import chat_create
    from personas.models import Persona

    persona = await Persona.objects.aget(slug="kaladin")
    return await sync_to_async(chat_create)(owner=Owner(session_key=key), persona=persona)


async def wait_for(condition: Any, seconds: float = 5) -> None:
    import asyncio

    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.02)


async def test_a_fork_keeps_its_own_copies_of_the_files(
    owned_chat: tuple[Chat, str], connect: Connect, llm: Any
) -> None:
    from django.test import AsyncClient

    await llm(sse_reply(TOKENS))
    chat, key = owned_chat
    notes = await uploaded(chat, key, "notes.md", b"Find the Oathgates.")
    client = await connect(chat.pk, key)
    await client.receive()
    await client.send(type="chat", content="Read this.", attachments=[str(notes.pk)])
    reply = (await client.receive_until("complete"))[-1]["message"]
    visitor = AsyncClient()
    visitor.cookies["sessionid"] = key
    forked = await visitor.post(
        f"/api/chats/{chat.pk}/fork/", {"message_id": reply["id"]}, content_type="application/json"
    )
    assert forked.status_code == 201, forked.content
    fork_id = forked.json()["id"]
    copy = await Attachment.objects.select_related("message").aget(chat_id=fork_id)
    assert copy.pk != notes.pk
    assert (copy.name, copy.text, copy.message.content) == ("notes.md", notes.text, "Read this.")
    assert copy.file.name != notes.file.name
    await visitor.delete(f"/api/chats/{chat.pk}/")
    detail = (await visitor.get(f"/api/chats/{fork_id}/")).json()
    [user] = [m for m in detail["messages"] if m["role"] == "user"]
    [listed] = user["attachments"]
    download = await visitor.get(listed["url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"Find the Oathgates."  # type: ignore[arg-type]
