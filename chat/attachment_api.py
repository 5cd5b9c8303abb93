"""The attachments API: upload a file for the next message, fetch or remove one.

``POST /api/chats/<id>/attachments/`` (multipart, field ``file``) answers 201 with
``{"id", "kind", "name", "size", "url"}`` (and a picture's ``width``, ``height`` and
``thumbnail_url``); send it with ``{"type": "chat", "content": ..., "attachments": [id]}``
on the chat's socket or ``POST /api/chats/<id>/messages/``. Files are served only to the
chat's owner.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chat import actions
from chat.api import error_response, refused, request_owner, uploaded
from chat.errors import ChatError, UnsupportedFile
from chat.models import Attachment
from chat.ownership import Owner
from chat.presenters import attachment_data
from chat.selectors import attachment_for_owner


@require_POST
async def chat_attachments(request: HttpRequest, chat_id: str) -> JsonResponse:
    """Upload one file (``file``) for the chat's next message."""
    try:
        missing = UnsupportedFile('Send the file as multipart form data, in a field "file".')
        name, data = await uploaded(request, missing)
        attachment = await actions.attachment_upload(
            owner=await request_owner(request), chat_id=chat_id, name=name, data=data
        )
    except ChatError as error:
        return refused(error)
    return JsonResponse(attachment_data(attachment), status=201)


@require_http_methods(["GET", "DELETE"])
async def chat_attachment(request: HttpRequest, chat_id: str, attachment_id: str) -> HttpResponse:
    """``GET``: the file, to the chat's owner. ``DELETE``: remove a file not yet sent."""
    owner = await request_owner(request)
    if request.method == "DELETE":
        try:
            await sync_to_async(actions.attachment_remove)(
                owner=owner, chat_id=chat_id, attachment_id=attachment_id
            )
        except ChatError as error:
            return refused(error)
        return HttpResponse(status=204)
    return await sync_to_async(_served)(owner, chat_id, attachment_id, thumbnail=False)


@require_GET
async def chat_attachment_thumbnail(
    request: HttpRequest, chat_id: str, attachment_id: str
) -> HttpResponse:
    """A picture's thumbnail, to the chat's owner."""
    owner = await request_owner(request)
    return await sync_to_async(_served)(owner, chat_id, attachment_id, thumbnail=True)


def _served(owner: Owner, chat_id: str, attachment_id: str, *, thumbnail: bool) -> HttpResponse:
    found = attachment_for_owner(owner=owner, chat_id=chat_id, attachment_id=attachment_id)
    stored = (found.thumbnail if thumbnail else found.file) if found is not None else None
    if found is None or not stored:
        return error_response(404, "not_found", "No such attachment.")
    picture = found.kind == Attachment.Kind.IMAGE
    response = FileResponse(
        stored.open("rb"),
        content_type=found.content_type if picture else f"{found.content_type}; charset=utf-8",
        as_attachment=not picture,  # text is downloaded, never shown as a page
        filename=found.name,
    )
    response["Cache-Control"] = "private, max-age=86400"
    return response
