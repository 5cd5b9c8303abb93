"""The HTTP JSON API. Same session cookie as the site; CSRF on every write."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_http_methods

from chat.errors import ChatError
from chat.notify import chat_cleared_sync
from chat.ownership import Owner
from chat.presenters import chat_data, message_data, persona_data
from chat.selectors import chat_get_for_owner, chat_list_for_owner, chat_messages_window
from chat.services import chat_choose_greeting, chat_create, chat_delete, chat_rename
from personas.selectors import persona_get_active, persona_list_active


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


@require_http_methods(["GET", "POST"])
def chats(request: HttpRequest) -> JsonResponse:
    """``GET``: the caller's chats, newest first, paginated. ``POST``: start a chat."""
    owner = Owner.from_request(request)
    if request.method == "POST":
        data = json_body(request)
        slug = data.get("persona") if data else None
        persona = persona_get_active(slug=slug) if isinstance(slug, str) else None
        if persona is None:
            return error_response(400, "unknown_persona", 'Send {"persona": "<slug>"}.')
        greeting = data.get("greeting", 0) if data else 0
        if isinstance(greeting, bool) or not isinstance(greeting, int):
            return error_response(400, "bad_request", '"greeting" must be a number.')
        try:
            chat = chat_create(owner=owner, persona=persona, greeting=greeting)
        except ChatError as error:
            return refused(error)
        return JsonResponse(chat_detail(chat), status=201)
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
    found = chat_get_for_owner(chat_id=chat_id, owner=Owner.from_request(request))
    if found is None:
        return not_found()
    if request.method == "DELETE":
        chat_delete(chat=found)
        return JsonResponse({"deleted": str(chat_id)})
    if request.method == "PATCH":
        data = json_body(request)
        if data is None or not ({"title", "greeting"} & data.keys()):
            return error_response(400, "bad_request", 'Send {"title": "..."} or {"greeting": n}.')
        try:
            if "title" in data:
                chat_rename(chat=found, title=data["title"])
            if "greeting" in data:
                chat_cleared_sync(chat_choose_greeting(chat=found, index=data["greeting"]))
        except ChatError as error:
            return refused(error)
        return JsonResponse(chat_data(found))
    before = request.GET.get("before")
    return JsonResponse(
        chat_detail(
            found,
            before=int(before) if before and before.isdigit() else None,
            limit=int_param(request, "limit", 100, low=1, high=500),
        )
    )


def chat_detail(
    found: Any, *, before: int | None = None, limit: int | None = None
) -> dict[str, Any]:
    """A chat with a window of its messages (the newest, or those before a position)."""
    window = chat_messages_window(
        chat=found, limit=limit or settings.SNAPSHOT_MESSAGES, before=before
    )
    return {
        **chat_data(found),
        "messages": [message_data(m) for m in window.messages],
        "has_more": window.has_more,
    }
