"""Every action, started from every interface, reaches every open client the same way.

In the spirit of Zulip's ``verify_action``: a client's snapshot taken before the action,
plus the events it receives, must equal a fresh snapshot taken after it. Two clients
watch each action: a JSON socket (the protocol) and the browser page (its page load, then
its HTML socket's out-of-band fragments applied as htmx applies them). The action is
started from the socket, the page, the JSON API and, where it has the action, the
terminal (``manage.py chat``'s engine).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import AsyncClient, Client

from chat import actions
from chat.errors import ChatBusy, NotFound
from chat.models import Chat, Message
from chat.ownership import Owner
from chat.terminal import TerminalChat
from personas.models import Lorebook

from .conftest import Connect, chat_socket, sse_reply
from .views import HtmlView, JsonView

pytestmark = pytest.mark.django_db(transaction=True)
NOTE = "[Kaladin is weary; the storm is near.]"
TOKENS = ["Life", " before", " death", ".", " Strength", " before", " weakness", "."]


@dataclass
class Scene:
    """A titled chat with one exchange, watched by a JSON socket and by the page."""

    chat: Chat
    key: str
    connect: Connect
    json_view: JsonView
    json_socket: Any
    html_view: HtmlView
    html_socket: WebsocketCommunicator
    actors: list[WebsocketCommunicator] = field(default_factory=list)

    @property
    def owner(self) -> Owner:
        return Owner(session_key=self.key)

    async def settle(self, final: str) -> None:
        """Apply every event up to the action's last (``final``) to both watchers."""
        async with asyncio.timeout(15):
            while True:
                event = await self.json_socket.receive()
                self.json_view.apply(event)
                if event["type"] == final:
                    break
            while True:
                frame = await self.html_socket.receive_from(timeout=15)
                self.html_view.apply(frame)
                if f'data-event="{final}"' in frame:
                    break

    async def fresh_json(self) -> dict[str, Any]:
        socket = chat_socket(self.chat.pk, self.key)
        await socket.connect()
        first = await socket.receive_output(5)
        await socket.disconnect()
        if first["type"] == "websocket.close":
            assert first["code"] == 4404
            return {"deleted": True}
        return JsonView.from_welcome(orjson.loads(first["text"])).shown()

    async def fresh_html(self) -> dict[str, Any]:
        response = await sync_to_async(page_client(self.key).get)(f"/chats/{self.chat.pk}/")
        if response.status_code == 404:
            return {"deleted": True}
        return HtmlView(response.content.decode()).shown()


def page_client(key: str) -> Client:
    client = Client()
    client.cookies["sessionid"] = key
    return client


def api_client(key: str) -> AsyncClient:
    client = AsyncClient()
    client.cookies["sessionid"] = key
    return client


@pytest.fixture
async def scene(owned_chat: tuple[Chat, str], connect: Connect, llm: Any) -> AsyncIterator[Scene]:
    await llm(sse_reply(TOKENS, delay=0.02))
    chat, key = owned_chat
    owner = Owner(session_key=key)
    # Titled, so no automatic title arrives in the middle of an action.
    await sync_to_async(actions.chat_rename)(owner=owner, chat_id=chat.pk, title="Setup")
    scene = await watch(chat, key, connect)
    yield scene
    for socket in [scene.html_socket, *scene.actors]:
        await socket.disconnect()


async def watch(chat: Chat, key: str, connect: Connect) -> Scene:
    json_socket = await connect(chat.pk, key)
    json_view = JsonView.from_welcome(await json_socket.receive())
    page = await sync_to_async(page_client(key).get)(f"/chats/{chat.pk}/")
    html_view = HtmlView(page.content.decode())
    html_socket = chat_socket(chat.pk, key, html=True)
    assert (await html_socket.connect())[0]
    html_view.apply(await html_socket.receive_from(timeout=10))
    return Scene(chat, key, connect, json_view, json_socket, html_view, html_socket)


async def exchange(scene: Scene, text: str = "Hello, Captain") -> None:
    """One finished exchange, seen by both watchers."""
    await actions.turn_send(owner=scene.owner, chat_id=scene.chat.pk, content=text)
    await scene.settle("complete")


# --- each interface ----------------------------------------------------------------------


async def by_socket(scene: Scene, frame: dict[str, Any], *, html: bool = False) -> None:
    socket = chat_socket(scene.chat.pk, scene.key, html=html)
    assert (await socket.connect())[0]
    await socket.receive_from(timeout=10)  # welcome
    await socket.send_json_to(frame)
    scene.actors.append(socket)


def terminal(scene: Scene) -> TerminalChat:
    return TerminalChat(
        persona=scene.chat.persona,
        owner=scene.owner,
        stdin=io.StringIO(),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        interactive=False,
        chat_id=scene.chat.pk,
    )


async def last_user_id(scene: Scene) -> int:
    message = await Message.objects.filter(chat=scene.chat, role="user").alast()
    assert message is not None
    return message.pk


Do = Callable[[Scene], Awaitable[Any]]


def send(interface: str) -> Do:
    async def do(scene: Scene) -> Any:
        frame = {"type": "chat", "content": "What do you carry?"}
        if interface in ("socket", "page"):
            return await by_socket(scene, frame, html=interface == "page")
        if interface == "api":
            url = f"/api/chats/{scene.chat.pk}/messages/"
            response = await api_client(scene.key).post(url, frame, content_type="application/json")
            assert response.status_code == 202, response.content
            return None
        return asyncio.ensure_future(terminal(scene).turn(content=frame["content"]))

    return do


def regenerate(interface: str) -> Do:
    async def do(scene: Scene) -> Any:
        if interface in ("socket", "page"):
            return await by_socket(scene, {"type": "regenerate"}, html=interface == "page")
        if interface == "api":
            response = await api_client(scene.key).post(f"/api/chats/{scene.chat.pk}/regenerate/")
            assert response.status_code == 202, response.content
            return None
        return asyncio.ensure_future(terminal(scene).turn(kind="regenerate"))

    return do


def edit(interface: str) -> Do:
    async def do(scene: Scene) -> Any:
        user_id = await last_user_id(scene)
        if interface in ("socket", "page"):
            frame = {"type": "edit", "message_id": user_id, "content": "A better question"}
            return await by_socket(scene, frame, html=interface == "page")
        url = f"/api/chats/{scene.chat.pk}/messages/{user_id}/"
        body = {"content": "A better question"}
        response = await api_client(scene.key).patch(url, body, content_type="application/json")
        assert response.status_code == 202, response.content
        return None

    return do


async def last_reply_id(scene: Scene) -> int:
    message = await Message.objects.filter(chat=scene.chat, role="assistant").alast()
    assert message is not None
    return message.pk


def continue_reply(interface: str) -> Do:
    async def do(scene: Scene) -> Any:
        if interface in ("socket", "page"):
            return await by_socket(scene, {"type": "continue"}, html=interface == "page")
        if interface == "api":
            response = await api_client(scene.key).post(f"/api/chats/{scene.chat.pk}/continue/")
            assert response.status_code == 202, response.content
            return None
        return asyncio.ensure_future(terminal(scene).turn(kind="continue"))

    return do


def swipe(interface: str) -> Do:
    async def do(scene: Scene) -> Any:
        reply_id = await last_reply_id(scene)
        if interface in ("socket", "page"):
            frame = {"type": "swipe", "message_id": reply_id, "index": 0}
            return await by_socket(scene, frame, html=interface == "page")
        if interface == "api":
            url = f"/api/chats/{scene.chat.pk}/messages/{reply_id}/"
            response = await api_client(scene.key).patch(
                url, {"swipe": 0}, content_type="application/json"
            )
            assert response.status_code == 200, response.content
            return None
        return await terminal(scene).swipe("1")

    return do


def edit_reply(interface: str) -> Do:
    async def do(scene: Scene) -> Any:
        reply_id = await last_reply_id(scene)
        text = "Honor is not dead so long as he lives in the hearts of men."
        if interface in ("socket", "page"):
            frame = {"type": "edit", "message_id": reply_id, "content": text}
            return await by_socket(scene, frame, html=interface == "page")
        url = f"/api/chats/{scene.chat.pk}/messages/{reply_id}/"
        response = await api_client(scene.key).patch(
            url, {"content": text}, content_type="application/json"
        )
        assert response.status_code == 200, response.content

    return do


def delete_message(interface: str) -> Do:
    async def do(scene: Scene) -> Any:
        user_id = await last_user_id(scene)
        if interface in ("socket", "page"):
            frame = {"type": "delete", "message_id": user_id}
            return await by_socket(scene, frame, html=interface == "page")
        url = f"/api/chats/{scene.chat.pk}/messages/{user_id}/"
        response = await api_client(scene.key).delete(url)
        assert response.status_code == 200, response.content

    return do


def authors_note(interface: str) -> Do:
    async def do(scene: Scene) -> Any:
        if interface == "socket":
            frame = {"type": "authors_note", "authors_note": NOTE, "authors_note_depth": 2}
            return await by_socket(scene, frame)
        if interface == "page":
            url = f"/chats/{scene.chat.pk}/settings/"
            form = {"authors_note": NOTE, "authors_note_depth": "2", "user_persona": ""}
            response = await sync_to_async(page_client(scene.key).post)(url, form)
            assert response.status_code == 200, response.content
            return None
        body = {"authors_note": NOTE, "authors_note_depth": 2}
        response = await api_client(scene.key).patch(
            f"/api/chats/{scene.chat.pk}/", body, content_type="application/json"
        )
        assert response.status_code == 200, response.content

    return do


def user_persona(interface: str) -> Do:
    async def do(scene: Scene) -> Any:
        played = await sync_to_async(actions.user_persona_create)(
            owner=scene.owner, name="Lopen", description="A one-armed Herdazian."
        )
        if interface == "socket":
            return await by_socket(scene, {"type": "user_persona", "user_persona": played.pk})
        if interface == "page":
            url = f"/chats/{scene.chat.pk}/settings/"
            form = {"authors_note": "", "authors_note_depth": "4", "user_persona": played.pk}
            response = await sync_to_async(page_client(scene.key).post)(url, form)
            assert response.status_code == 200, response.content
            return None
        response = await api_client(scene.key).patch(
            f"/api/chats/{scene.chat.pk}/",
            {"user_persona": played.pk},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content

    return do


def clear(interface: str) -> Do:
    async def do(scene: Scene) -> Any:
        if interface in ("socket", "page"):
            return await by_socket(scene, {"type": "clear"}, html=interface == "page")
        response = await api_client(scene.key).post(f"/api/chats/{scene.chat.pk}/clear/")
        assert response.status_code == 200, response.content

    return do


def rename(interface: str) -> Do:
    async def do(scene: Scene) -> Any:
        title = "Oaths and storms"
        if interface == "socket":
            return await by_socket(scene, {"type": "rename", "title": title})
        if interface == "page":
            url = f"/chats/{scene.chat.pk}/rename/"
            response = await sync_to_async(page_client(scene.key).post)(url, {"title": title})
            assert response.status_code == 200, response.content
            return None
        response = await api_client(scene.key).patch(
            f"/api/chats/{scene.chat.pk}/", {"title": title}, content_type="application/json"
        )
        assert response.status_code == 200, response.content

    return do


def greeting(interface: str) -> Do:
    async def do(scene: Scene) -> Any:
        if interface == "socket":
            return await by_socket(scene, {"type": "greeting", "index": 1})
        if interface == "page":
            url = f"/chats/{scene.chat.pk}/greeting/"
            response = await sync_to_async(page_client(scene.key).post)(url, {"index": "1"})
            assert response.status_code == 200, response.content
            return None
        response = await api_client(scene.key).patch(
            f"/api/chats/{scene.chat.pk}/", {"greeting": 1}, content_type="application/json"
        )
        assert response.status_code == 200, response.content

    return do


def read_through(interface: str) -> Do:
    async def do(scene: Scene) -> Any:
        slug = "oathbringer"
        if interface == "socket":
            return await by_socket(scene, {"type": "read_through", "read_through": slug})
        if interface == "page":
            url = f"/chats/{scene.chat.pk}/read-through/"
            response = await sync_to_async(page_client(scene.key).post)(url, {"read_through": slug})
            assert response.status_code == 200, response.content
            return None
        response = await api_client(scene.key).patch(
            f"/api/chats/{scene.chat.pk}/", {"read_through": slug}, content_type="application/json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["read_through"] == slug

    return do


def lorebooks(interface: str) -> Do:
    async def do(scene: Scene) -> Any:
        book = await sync_to_async(Lorebook.objects.create)(name="Shardplate lore")
        if interface == "socket":
            return await by_socket(scene, {"type": "lorebooks", "ids": [book.pk]})
        if interface == "page":
            url = f"/chats/{scene.chat.pk}/lorebooks/"
            response = await sync_to_async(page_client(scene.key).post)(url, {"lorebook": book.pk})
            assert response.status_code == 200, response.content
            return None
        response = await api_client(scene.key).patch(
            f"/api/chats/{scene.chat.pk}/",
            {"lorebooks": [book.pk]},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content

    return do


def delete(interface: str) -> Do:
    async def do(scene: Scene) -> Any:
        if interface == "socket":
            return await by_socket(scene, {"type": "delete"})
        if interface == "page":
            url = f"/chats/{scene.chat.pk}/delete/"
            response = await sync_to_async(page_client(scene.key).post)(url)
            assert response.status_code == 200, response.content
            return None
        response = await api_client(scene.key).delete(f"/api/chats/{scene.chat.pk}/")
        assert response.status_code == 200, response.content

    return do


def stop(interface: str) -> Do:
    async def do(scene: Scene) -> Any:
        if interface in ("socket", "page"):
            return await by_socket(scene, {"type": "stop"}, html=interface == "page")
        if interface == "api":
            response = await api_client(scene.key).post(f"/api/chats/{scene.chat.pk}/stop/")
            assert response.status_code == 202, response.content
            return None
        return await terminal(scene).stop()

    return do


# (action, how to start it, what must happen first, the last event it publishes)
CASES = [
    *[("send", send(i), "none", "complete") for i in ("socket", "page", "api", "terminal")],
    *[
        ("regenerate", regenerate(i), "exchange", "complete")
        for i in ("socket", "page", "api", "terminal")
    ],
    *[("edit", edit(i), "exchange", "complete") for i in ("socket", "page", "api")],
    *[("stop", stop(i), "streaming", "complete") for i in ("socket", "page", "api", "terminal")],
    *[("clear", clear(i), "exchange", "cleared") for i in ("socket", "page", "api")],
    *[("greeting", greeting(i), "none", "cleared") for i in ("socket", "page", "api")],
    *[("rename", rename(i), "exchange", "title") for i in ("socket", "page", "api")],
    *[("read_through", read_through(i), "exchange", "reading") for i in ("socket", "page", "api")],
    *[("lorebooks", lorebooks(i), "exchange", "lorebooks") for i in ("socket", "page", "api")],
    *[("delete", delete(i), "exchange", "deleted") for i in ("socket", "page", "api")],
    *[
        ("continue", continue_reply(i), "exchange", "complete")
        for i in ("socket", "page", "api", "terminal")
    ],
    *[("swipe", swipe(i), "swipes", "swiped") for i in ("socket", "page", "api", "terminal")],
    *[("edit_reply", edit_reply(i), "exchange", "edited") for i in ("socket", "page", "api")],
    *[
        ("delete_message", delete_message(i), "exchange", "removed")
        for i in ("socket", "page", "api")
    ],
    *[("authors_note", authors_note(i), "exchange", "settings") for i in ("socket", "page", "api")],
    *[("user_persona", user_persona(i), "exchange", "settings") for i in ("socket", "page", "api")],
]
IDS = [
    f"{name}-{interface}"
    for name, interfaces in [
        ("send", "socket page api terminal"),
        ("regenerate", "socket page api terminal"),
        ("edit", "socket page api"),
        ("stop", "socket page api terminal"),
        ("clear", "socket page api"),
        ("greeting", "socket page api"),
        ("rename", "socket page api"),
        ("read_through", "socket page api"),
        ("lorebooks", "socket page api"),
        ("delete", "socket page api"),
        ("continue", "socket page api terminal"),
        ("swipe", "socket page api terminal"),
        ("edit_reply", "socket page api"),
        ("delete_message", "socket page api"),
        ("authors_note", "socket page api"),
        ("user_persona", "socket page api"),
    ]
    for interface in interfaces.split()
]


@pytest.mark.parametrize(("name", "do", "before", "final"), CASES, ids=IDS)
async def test_snapshot_plus_events_equals_a_fresh_snapshot(
    scene: Scene, name: str, do: Do, before: str, final: str
) -> None:
    if before == "exchange":
        await exchange(scene)
    elif before == "swipes":  # a reply with two alternatives, the second shown
        await exchange(scene)
        await actions.turn_regenerate(owner=scene.owner, chat_id=scene.chat.pk)
        await scene.settle("complete")
    elif before == "streaming":
        await actions.turn_send(owner=scene.owner, chat_id=scene.chat.pk, content="Go on")
        async with asyncio.timeout(10):
            while (event := await scene.json_socket.receive())["type"] != "stream":
                scene.json_view.apply(event)
        scene.json_view.apply(event)

    pending = await do(scene)
    await scene.settle(final)
    if isinstance(pending, asyncio.Future):
        await pending

    assert scene.json_view.shown() == await scene.fresh_json()
    assert scene.html_view.shown() == await scene.fresh_html()
    if name == "stop":
        assert scene.json_view.shown()["messages"][-1][2] == "cancelled"
    if name == "read_through":
        assert scene.json_view.shown()["read_through"] == "oathbringer"
    if name == "lorebooks":
        assert len(scene.json_view.shown()["lorebooks"]) == 1
    if name == "continue":  # the same reply, longer
        reply = scene.json_view.shown()["messages"][-1]
        assert reply[3] == "".join(TOKENS) * 2
    if name == "swipe":
        assert scene.json_view.shown()["messages"][-1][4:] == (0, 2)
    if name == "delete_message":
        assert [m[1] for m in scene.json_view.shown()["messages"]] == ["assistant", "assistant"]
    if name == "authors_note":
        settings = scene.json_view.shown()["settings"]
        assert (settings["authors_note"], settings["authors_note_depth"]) == (NOTE, 2)
    if name == "user_persona":
        assert scene.json_view.shown()["settings"]["user_persona"] is not None
    if name == "delete":  # told, then closed as a missing chat is
        closed = await scene.json_socket.ws.receive_output(5)
        assert closed == {"type": "websocket.close", "code": 4404}


async def test_stop_through_the_api_reaches_the_run_however_the_id_is_written(
    scene: Scene,
) -> None:
    await actions.turn_send(owner=scene.owner, chat_id=scene.chat.pk, content="Go on")
    async with asyncio.timeout(10):
        while (await scene.json_socket.receive())["type"] != "stream":
            pass
    spelled = scene.chat.pk.hex.upper()  # the same chat, as a UUID without hyphens
    response = await api_client(scene.key).post(f"/api/chats/{spelled}/stop/")
    assert response.status_code == 202, response.content
    events = await scene.json_socket.receive_until("complete")
    assert events[-1]["message"]["status"] == "cancelled"


async def test_turns_sent_at_once_are_each_saved_answered_or_refused_alone(
    owned_chat: tuple[Chat, str], connect: Connect, llm: Any
) -> None:
    """A burst of turns is saved in one trip to the database; each still gets its own
    outcome: a busy chat or someone else's fails alone, the rest are answered."""
    await llm(sse_reply(TOKENS, delay=0.01))
    chat, key = owned_chat

    def more_chats() -> list[Chat]:
        persona = chat.persona
        mine = [Chat.objects.create(session_key=key, persona=persona) for _ in range(3)]
        theirs = Chat.objects.create(session_key="x" * 32, persona=persona)
        Message.objects.create(chat=mine[1], role="assistant", status="streaming", position=9)
        return [*mine, theirs]

    first, busy, last, theirs = await sync_to_async(more_chats)()
    sockets = [await connect(c.pk, key) for c in (first, last)]
    owner = Owner(session_key=key)

    results = await asyncio.gather(
        *(
            actions.turn_send(owner=owner, chat_id=c.pk, content=f"To {n}")
            for n, c in enumerate((first, busy, theirs, last))
        ),
        return_exceptions=True,
    )

    assert isinstance(results[1], ChatBusy)
    assert isinstance(results[2], NotFound)
    for socket, job, n in zip(sockets, (results[0], results[3]), (0, 3), strict=True):
        events = await socket.receive_until("complete")
        assert events[-1]["message"]["content"] == "".join(TOKENS)
        assert events[-1]["message"]["id"] == job.turn.reply.pk
        assert job.history[-1].content == f"To {n}"
    saved = await sync_to_async(list)(
        Message.objects.filter(role="user", content__startswith="To ").values_list("content")
    )
    assert sorted(saved) == [("To 0",), ("To 3",)]
