"""The JSON API for user personas: who the caller plays in their chats.

``GET/POST /api/user-personas/`` lists and creates (JSON, or a multipart form with an
``avatar`` picture); ``PATCH/DELETE /api/user-personas/<id>/`` changes or removes one;
``GET/POST .../avatar/`` serves the avatar (to its owner only) or replaces it.
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_http_methods

from chat import actions
from chat.api import error_response, json_body, refused
from chat.errors import BadRequest, ChatError
from chat.inputs import flag_input, number_input, text_input
from chat.models import UserPersona
from chat.ownership import Owner
from chat.presenters import user_persona_data
from chat.selectors import user_persona_for_owner, user_personas_for_owner
from chat.visitors import owner_for_writing
from stormchat.images import MAX_UPLOAD_BYTES


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    """The fields a request sets, checked."""
    fields: dict[str, Any] = {}
    for key in ("name", "description"):
        if key in data:
            fields[key] = text_input(data[key], what=key)
    if "is_default" in data:
        fields["is_default"] = flag_input(data["is_default"], what="is_default")
    return fields


def _avatar(request: HttpRequest) -> bytes | None:
    upload = request.FILES.get("avatar")
    if upload is None:
        return None
    if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
        raise BadRequest(f"Pictures are limited to {MAX_UPLOAD_BYTES // 1024 // 1024} MB.")
    return upload.read(MAX_UPLOAD_BYTES + 1)


def _request_data(request: HttpRequest) -> dict[str, Any] | None:
    if request.content_type == "application/json":
        return json_body(request)
    return request.POST.dict()


def _owned(request: HttpRequest, pk: str) -> UserPersona | None:
    try:
        number = number_input(pk, what="id")
    except ChatError:
        return None
    return user_persona_for_owner(owner=Owner.from_request(request), user_persona_id=number)


def _not_found() -> JsonResponse:
    return error_response(404, "not_found", "No such user persona.")


@require_http_methods(["GET", "POST"])
def user_personas(request: HttpRequest) -> JsonResponse:
    """The caller's user personas; ``POST`` creates one (201)."""
    if request.method == "GET":
        owned = user_personas_for_owner(Owner.from_request(request))
        return JsonResponse({"user_personas": [user_persona_data(p) for p in owned]})
    data = _request_data(request)
    if data is None or "name" not in data:
        return error_response(400, "bad_request", 'Send {"name": "...", "description": "..."}.')
    try:
        played = actions.user_persona_create(
            owner=owner_for_writing(request), avatar=_avatar(request), **_fields(data)
        )
    except ChatError as error:
        return refused(error)
    return JsonResponse(user_persona_data(played), status=201)


@require_http_methods(["PATCH", "DELETE"])
def user_persona(request: HttpRequest, pk: str) -> JsonResponse:
    """Change (``PATCH`` name, description, is_default) or delete one of the caller's."""
    played = _owned(request, pk)
    if played is None:
        return _not_found()
    try:
        if request.method == "DELETE":
            actions.user_persona_delete(owner=played.owner, played=played)
            return JsonResponse({"deleted": played.pk or int(pk)})
        data = json_body(request)
        if data is None:
            return error_response(400, "bad_request", "Send a JSON object of the fields.")
        played = actions.user_persona_update(owner=played.owner, played=played, **_fields(data))
    except ChatError as error:
        return refused(error)
    return JsonResponse(user_persona_data(played))


@require_http_methods(["GET", "POST"])
def user_persona_avatar(request: HttpRequest, pk: str) -> HttpResponse:
    """The avatar, for its owner only; ``POST`` (multipart ``avatar``) replaces it."""
    played = _owned(request, pk)
    if played is None:
        return _not_found()
    if request.method == "POST":
        try:
            avatar = _avatar(request)
            if avatar is None:
                raise BadRequest("Send the picture as the form field 'avatar'.")
            played = actions.user_persona_update(owner=played.owner, played=played, avatar=avatar)
        except ChatError as error:
            return refused(error)
        return JsonResponse(user_persona_data(played))
    if not played.avatar:
        return _not_found()
    response = FileResponse(played.avatar.open("rb"), content_type="image/png")
    response["Cache-Control"] = "private, max-age=86400"
    return response
