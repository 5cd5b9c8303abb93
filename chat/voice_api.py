"""``POST /api/transcriptions/``: a recording (multipart, field ``file``) becomes
``{"text"}`` for the composer, when the site transcribes on the server
(``STT_BACKEND=openai``)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

from chat import actions
from chat.api import refused, request_owner, uploaded
from chat.errors import ChatError, UnsupportedAudio
from stormchat.limits import client_ip


@require_POST
async def transcriptions(request: HttpRequest) -> JsonResponse:
    """The words in one recording; nothing is kept."""
    try:
        missing = UnsupportedAudio('Send the recording as multipart form data, in "file".')
        _, data = await uploaded(request, missing)
        text = await actions.transcription_create(
            owner=await request_owner(request), data=data, address=client_ip(request)
        )
    except ChatError as error:
        return refused(error)
    return JsonResponse({"text": text})
