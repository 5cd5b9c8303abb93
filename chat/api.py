"""The HTTP JSON API. Same session cookie as the site; CSRF on every write.

Thin: input is parsed into typed values (chat/inputs.py), changes go through the actions
(chat/actions.py), so every open socket sees them; reads come from the selectors. The turn
endpoints are async: the reply they start runs on, and streams to every socket, after the
request has been answered.
"""

from __future__ import annotations

import json
from contextlib import aclosing
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chat import actions, selectors
from chat.errors import ChatError, UnknownPersona
from chat.inputs import (
    attachment_ids,
    number_input,
    number_list,
    optional_number,
    scene_input,
    settings_input,
    slug_input,
    slug_list,
    text_input,
)
from chat.jobs import ReplyJob
from chat.ownership import Owner
from chat.presenters import books_data, chat_data, message_data, persona_data
from chat.selectors import (
    chat_get_for_owner,
    chat_list_for_owner,
    chat_messages_window,
    chat_own_lorebooks,
    lorebooks_available,
    message_in_chat,
)
from chat.visitors import owner_for_writing
from personas.lore import series
from personas.selectors import persona_get_active, persona_list_active
from stormchat.limits import client_ip


def error_response(status: int, code: str, message: str, **fields: object) -> JsonResponse:
    """The API's error shape: ``{"error": {"code": ..., "message": ..., ...}}``."""
    response = JsonResponse({"error": {"code": code, "message": message, **fields}}, status=status)
    if "retry_after" in fields:
        response["Retry-After"] = str(fields["retry_after"])
    return response


def refused(error: ChatError) -> JsonResponse:
    """A ChatError as an API error response."""
    return error_response(error.http_status, error.code, error.message, **error.fields())


def not_found() -> JsonResponse:
    return error_response(404, "not_found", "No such chat.")


def json_body(request: HttpRequest) -> dict[str, Any] | None:
    """The request's JSON object, or None if it isn't one."""
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def int_param(request: HttpRequest, name: str, default: int, *, low: int, high: int) -> int:
    """An integer query parameter clamped to [low, high]; junk gives the default."""
    try:
        return min(max(int(request.GET.get(name, default)), low), high)
    except ValueError:
        return default


@require_GET
def personas(request: HttpRequest) -> JsonResponse:
    """``GET /api/personas/``: the active personas."""
    return JsonResponse({"personas": [persona_data(p) for p in persona_list_active()]})


@require_http_methods(["GET", "PATCH"])
def reader(request: HttpRequest) -> JsonResponse:
    """How far the caller has read (``{"read_through": slug}``): ``PATCH`` to change it."""
    if request.method == "PATCH":
        data = json_body(request)
        if data is None or "read_through" not in data:
            return error_response(400, "bad_request", 'Send {"read_through": "<book slug>"}.')
        try:
            slug = text_input(data["read_through"], what="read_through")
            actions.reader_set_read_through(owner=owner_for_writing(request), read_through=slug)
        except ChatError as error:
            return refused(error)
    read = selectors.reader_read_through(Owner.from_request(request))
    return JsonResponse({"read_through": read, "books": [b.slug for b in series.BOOKS]})


@require_GET
def lorebooks(request: HttpRequest) -> JsonResponse:
    """The lorebooks a chat can add on top of its persona's."""
    return JsonResponse({"lorebooks": books_data(lorebooks_available())})


@require_http_methods(["GET", "POST"])
def chats(request: HttpRequest) -> JsonResponse:
    """``GET``: the caller's chats, newest first, paginated. ``POST``: start a chat."""
    if request.method == "POST":
        data = json_body(request) or {}
        try:
            if "personas" in data:  # a group scene
                slugs = slug_list(data["personas"], what="personas")
                cast = actions.personas_for_scene(slugs)
            else:
                slug = data.get("persona")
                persona = persona_get_active(slug=slug) if isinstance(slug, str) else None
                if persona is None:
                    raise UnknownPersona('Send {"persona": "<slug>"} or {"personas": [...]}.')
                cast = [persona]
            greeting = number_input(data.get("greeting", 0), what="greeting", low=-(10**6))
            read_through = text_input(data.get("read_through") or "", what="read_through")
            chat = actions.chat_create(
                owner=owner_for_writing(request),
                personas=cast,
                greeting=greeting,
                read_through=read_through,
                address=client_ip(request),
            )
        except ChatError as error:
            return refused(error)
        return JsonResponse(chat_detail(chat), status=201)
    owner = Owner.from_request(request)
    offset = int_param(request, "offset", 0, low=0, high=10**9)
    limit = int_param(request, "limit", 20, low=1, high=100)
    page = chat_list_for_owner(
        owner=owner, offset=offset, limit=limit, query=request.GET.get("q", "")
    )
    return JsonResponse(
        {"chats": [chat_data(c) for c in page.chats], "next_offset": page.next_offset}
    )


@require_http_methods(["GET", "PATCH", "DELETE"])
def chat(request: HttpRequest, chat_id: str) -> JsonResponse:
    """One of the caller's chats: read it with its messages, rename it or delete it."""
    owner = Owner.from_request(request)
    try:
        if request.method == "DELETE":
            actions.chat_delete(owner=owner, chat_id=chat_id)
            return JsonResponse({"deleted": str(chat_id)})
        if request.method == "PATCH":
            return _chat_patch(request, owner, chat_id)
        found = chat_get_for_owner(chat_id=chat_id, owner=owner)
        if found is None:
            return not_found()
        before = optional_number(request.GET.get("before"), what="before")
    except ChatError as error:
        return refused(error)
    limit = int_param(request, "limit", 100, low=1, high=500)
    return JsonResponse(chat_detail(found, before=before, limit=limit))


def _chat_patch(request: HttpRequest, owner: Owner, chat_id: str) -> JsonResponse:
    data = json_body(request)
    fields = {"title", "greeting", "read_through", "lorebooks", "user_persona", "authors_note",
              "authors_note_depth", "auto_read", "personas", "muted", "activation"}  # fmt: skip
    if data is None or not (fields & data.keys()):
        return error_response(
            400,
            "bad_request",
            'Send {"title": "..."}, {"greeting": n}, {"read_through": "<book slug>"}, '
            '{"lorebooks": [id, ...]}, {"user_persona": id or null} or '
            '{"authors_note": "...", "authors_note_depth": n}, {"auto_read": true} or a '
            'scene\'s {"personas": [slug, ...], "muted": [slug, ...], "activation": "natural"}.',
        )
    if "title" in data:
        title = text_input(data["title"], what="A title")
        actions.chat_rename(owner=owner, chat_id=chat_id, title=title)
    if "greeting" in data:
        index = number_input(data["greeting"], what="greeting", low=-(10**6))
        actions.chat_choose_greeting(owner=owner, chat_id=chat_id, index=index)
    if "read_through" in data:
        slug = text_input(data["read_through"], what="read_through")
        actions.chat_set_read_through(owner=owner, chat_id=chat_id, read_through=slug)
    if "lorebooks" in data:
        ids = number_list(data["lorebooks"], what="lorebooks")
        actions.chat_set_lorebooks(owner=owner, chat_id=chat_id, book_ids=ids)
    if changed := settings_input(data):
        actions.chat_set_settings(owner=owner, chat_id=chat_id, **changed)
    if scene := scene_input(data):
        actions.chat_set_scene(owner=owner, chat_id=chat_id, **scene)
    found = chat_get_for_owner(chat_id=chat_id, owner=owner)
    return JsonResponse(chat_data(found)) if found else not_found()


@require_POST
def chat_clear(request: HttpRequest, chat_id: str) -> JsonResponse:
    """``POST /api/chats/<id>/clear/``: back to the persona's greeting."""
    try:
        messages = actions.chat_clear(owner=Owner.from_request(request), chat_id=chat_id)
    except ChatError as error:
        return refused(error)
    return JsonResponse({"messages": [message_data(m) for m in messages]})


# --- turns (async: the reply streams on after the answer) -------------------------------


def accepted(job: ReplyJob | actions.Posted) -> JsonResponse:
    """202: the turn was saved; its reply streams to the chat's sockets (a message nobody
    is asked to answer, in a manual scene, has none)."""
    if isinstance(job, actions.Posted):
        body = {"message": message_data(job.message), "reply": None, "removed": []}
        return JsonResponse(body, status=202)
    turn = job.turn
    body = {
        "message": message_data(turn.user) if turn.user else None,
        "reply": message_data(turn.reply),
        "removed": turn.removed,
    }
    return JsonResponse(body, status=202)


async def request_owner(request: HttpRequest) -> Owner:
    """The owner behind a request, from an async view."""
    return await sync_to_async(Owner.from_request)(request)


async def uploaded(request: HttpRequest, missing: ChatError) -> tuple[str, bytes]:
    """The name and bytes of the multipart field ``file``; ``missing`` when there is none."""
    upload = request.FILES.get("file")
    if upload is None:
        raise missing
    return upload.name or "", await sync_to_async(upload.read, thread_sensitive=False)()


@require_POST
async def chat_messages(request: HttpRequest, chat_id: str) -> JsonResponse:
    """``POST /api/chats/<id>/messages/ {"content": ..., "attachments": [id, ...]}``:
    send a message (with files uploaded to ``/api/chats/<id>/attachments/``); in a scene,
    ``"persona": slug`` chooses who answers."""
    data = json_body(request) or {}
    try:
        content = text_input(data.get("content", ""))
        job = await actions.turn_send(
            owner=await request_owner(request),
            chat_id=chat_id,
            content=content,
            attachments=attachment_ids(data.get("attachments")),
            address=client_ip(request),
            persona=slug_input(data.get("persona"), required=False),
        )
    except ChatError as error:
        return refused(error)
    return accepted(job)


@require_POST
async def chat_nudge(request: HttpRequest, chat_id: str) -> JsonResponse:
    """``POST /api/chats/<id>/nudge/ {"persona": slug}``: a scene member speaks without a
    new message."""
    data = json_body(request) or {}
    try:
        job = await actions.turn_nudge(
            owner=await request_owner(request),
            chat_id=chat_id,
            persona=slug_input(data.get("persona")) or "",
            address=client_ip(request),
        )
    except ChatError as error:
        return refused(error)
    return accepted(job)


@require_POST
async def chat_auto(request: HttpRequest, chat_id: str) -> JsonResponse:
    """``POST /api/chats/<id>/auto/ {"turns": N}``: the scene's members talk among
    themselves for up to N replies (``stop`` ends it)."""
    data = json_body(request) or {}
    try:
        job = await actions.turn_auto(
            owner=await request_owner(request),
            chat_id=chat_id,
            turns=number_input(data.get("turns"), what="turns"),
            address=client_ip(request),
        )
    except ChatError as error:
        return refused(error)
    return accepted(job)


@require_http_methods(["GET", "PATCH", "DELETE"])
async def chat_message(request: HttpRequest, chat_id: str, message_id: str) -> JsonResponse:
    """``GET /api/chats/<id>/messages/<message_id>/``: one message in full (long ones are
    previews elsewhere). ``PATCH`` with ``{"content": ...}``: edit it (the owner's message
    is answered again; a reply changes in place), or with ``{"swipe": i}``: show another
    alternative of a reply. ``DELETE``: remove it."""
    if request.method == "GET":
        return await sync_to_async(_message_in_full)(request, chat_id, message_id)
    data = json_body(request) or {}
    owner = await request_owner(request)
    try:
        number = number_input(message_id, what="message_id")
        if request.method == "DELETE":
            ids = await sync_to_async(actions.message_delete)(
                owner=owner, chat_id=chat_id, message_id=number
            )
            return JsonResponse({"removed": ids})
        if "swipe" in data:
            index = number_input(data["swipe"], what="swipe", low=0)
            swiped = await sync_to_async(actions.message_swipe)(
                owner=owner, chat_id=chat_id, message_id=number, index=index
            )
            return JsonResponse(message_data(swiped))
        content = text_input(data.get("content"))
        edited = await actions.message_edit(
            owner=owner,
            chat_id=chat_id,
            message_id=number,
            content=content,
            address=client_ip(request),
        )
    except ChatError as error:
        return refused(error)
    return accepted(edited) if isinstance(edited, ReplyJob) else JsonResponse(message_data(edited))


def _message_in_full(request: HttpRequest, chat_id: str, message_id: str) -> JsonResponse:
    found = chat_get_for_owner(chat_id=chat_id, owner=Owner.from_request(request))
    try:
        number = number_input(message_id, what="message_id")
    except ChatError as error:
        return refused(error)
    message = message_in_chat(chat=found, message_id=number) if found else None
    if message is None:
        return error_response(404, "not_found", "No such message.")
    return JsonResponse(message_data(message, full=True))


@require_POST
async def chat_regenerate(request: HttpRequest, chat_id: str) -> JsonResponse:
    """``POST /api/chats/<id>/regenerate/``: write the last reply again."""
    try:
        job = await actions.turn_regenerate(
            owner=await request_owner(request), chat_id=chat_id, address=client_ip(request)
        )
    except ChatError as error:
        return refused(error)
    return accepted(job)


@require_POST
async def chat_continue(request: HttpRequest, chat_id: str) -> JsonResponse:
    """``POST /api/chats/<id>/continue/``: extend the last reply."""
    try:
        job = await actions.turn_continue(
            owner=await request_owner(request), chat_id=chat_id, address=client_ip(request)
        )
    except ChatError as error:
        return refused(error)
    return accepted(job)


@require_POST
async def chat_impersonate(request: HttpRequest, chat_id: str) -> JsonResponse:
    """``POST /api/chats/<id>/impersonate/``: the model drafts the caller's next message
    (``{"content"}``); nothing is saved or sent."""
    parts: list[str] = []
    try:
        deltas = actions.impersonate(
            owner=await request_owner(request), chat_id=chat_id, address=client_ip(request)
        )
        async with aclosing(deltas):
            async for delta in deltas:
                parts.append(delta)
    except ChatError as error:
        return refused(error)
    return JsonResponse({"content": "".join(parts)})


@require_POST
def chat_fork(request: HttpRequest, chat_id: str) -> JsonResponse:
    """``POST /api/chats/<id>/fork/ {"message_id": N}``: a new chat from this one's
    messages up to and including N (201, the new chat)."""
    data = json_body(request) or {}
    try:
        number = number_input(data.get("message_id"), what="message_id")
        fork = actions.chat_fork(
            owner=Owner.from_request(request), chat_id=chat_id, message_id=number
        )
    except ChatError as error:
        return refused(error)
    return JsonResponse(chat_detail(fork), status=201)


@require_POST
async def chat_stop(request: HttpRequest, chat_id: str) -> JsonResponse:
    """``POST /api/chats/<id>/stop/``: stop the reply being written (it keeps its text)."""
    try:
        await actions.turn_stop(owner=await request_owner(request), chat_id=chat_id)
    except ChatError as error:
        return refused(error)
    return JsonResponse({"stopping": True}, status=202)


def chat_detail(
    found: Any, *, before: int | None = None, limit: int | None = None
) -> dict[str, Any]:
    """A chat with its own lorebooks and a window of its messages (the newest, or those
    before a position)."""
    window = chat_messages_window(
        chat=found, limit=limit or settings.SNAPSHOT_MESSAGES, before=before
    )
    return {
        **chat_data(found),
        "lorebooks": books_data(chat_own_lorebooks(chat=found)),
        "messages": [message_data(m) for m in window.messages],
        "has_more": window.has_more,
    }


@require_GET
async def chat_message_speech(request: HttpRequest, chat_id: str, message_id: str) -> HttpResponse:
    """``GET /api/chats/<id>/messages/<message_id>/speech/``: the reply read aloud in its
    persona's voice (``audio/wav`` from the local engine; ``audio/mpeg`` or the configured
    format from an OpenAI-compatible server), for the chat's owner only. ``?text=`` reads
    only that part of it, even while it is being written (sentence by sentence)."""
    try:
        number = number_input(message_id, what="message_id")
        part = request.GET.get("text")
        audio = await actions.message_speech(
            owner=await request_owner(request), chat_id=chat_id, message_id=number, part=part
        )
    except ChatError as error:
        return refused(error)
    response = HttpResponse(audio.data, content_type=audio.content_type)
    response["Cache-Control"] = "private, max-age=86400"
    return response
