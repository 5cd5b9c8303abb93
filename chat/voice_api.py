"""``POST /api/transcriptions/``: a recording (multipart, field ``file``) becomes
``{"text"}`` for the composer, when the site transcribes on the server
(``STT_BACKEND=openai``)."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

from chat import actions
from chat.api import refused
from chat.errors import ChatError, UnsupportedAudio
from chat.ownership import Owner
from stormchat.limits import client_ip


@require_POST
async def transcriptions(request: HttpRequest) -> JsonResponse:
    """The words in one recording; nothing is kept."""
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise UnsupportedAudio('Send the recording as multipart form data, in "file".')
        data = await sync_to_async(upload.read, thread_sensitive=False)()
        owner = await sync_to_async(Owner.from_request)(request)
        text = await actions.transcription_create(
            owner=owner, data=data, address=client_ip(request)
        )
    except ChatError as error:
        return refused(error)
    return JsonResponse({"text": text})
