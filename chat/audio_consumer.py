"""``ws/audio/<chat_id>/``: speech both ways over one WebSocket (docs/protocol.md).

The client sends a recording as binary frames (any chunking: MediaRecorder's timeslices
are fine) and ends it with ``{"type": "end"}``; the server answers ``transcript`` with
the words (``STT_BACKEND=openai``). With ``"send": true`` the words also go to the chat
as a message, and the reply is spoken back as it is written: for each stretch of whole
sentences an ``audio`` event, then the audio itself as one binary frame, and
``audio_end`` when the reply is done. ``{"type": "speak", "message_id": n}`` reads an
existing reply the same way. Everything goes through the actions layer: the message is
the same turn the chat socket, the page and the API start, and every tab sees it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from channels.db import database_sync_to_async
from django.conf import settings

from chat import actions
from chat.errors import AttachmentTooLarge, BadRequest, as_chat_error
from chat.events import chat_group
from chat.inputs import number_input
from chat.ownership import Owner
from chat.selectors import chat_get_for_owner
from chat.sessions import CLOSE_SESSION_ENDED
from chat.socket_limits import CLOSE_TOO_MANY, FrameBudget, socket_admit, socket_release
from chat.sockets import ChatSocket
from chat.speech.text import next_sentences

CLOSE_NOT_FOUND = 4404


class AudioConsumer(ChatSocket):
    """One audio connection to one chat."""

    budget: FrameBudget | None = None
    admitted = False

    async def connect(self) -> None:
        self.owner = Owner.from_scope(self.scope)
        chat_id = self.scope["url_route"]["kwargs"]["chat_id"]
        chat = await database_sync_to_async(chat_get_for_owner)(chat_id=chat_id, owner=self.owner)
        await self.accept()
        if chat is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        if not socket_admit(self.owner.identity):
            await self._error("too_many_sockets", "Too many open sockets.")
            await self.close(code=CLOSE_TOO_MANY)
            return
        self.admitted = True
        self.chat_id = chat.pk
        self.budget = FrameBudget()
        self.recording = bytearray()
        # The reply this socket speaks: its id, its text so far and what has been read.
        self.speaking: int | None = None
        self.written = ""
        self.said = 0
        self.voice: asyncio.Queue[tuple[int, str | None]] = asyncio.Queue()
        self.speaker = asyncio.create_task(self._speak_in_order())
        await self.channel_layer.group_add(chat_group(chat.pk), self.channel_name)
        await self._send({"type": "ready", "chat_id": str(chat.pk)})

    async def disconnect(self, code: int) -> None:
        if self.admitted:
            socket_release(self.owner.identity)
            self.admitted = False
            self.speaker.cancel()
        if self.chat_id is not None:
            await self.channel_layer.group_discard(chat_group(self.chat_id), self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.chat_id is None or self.budget is None:
            return
        if not self.budget.take():
            await self._error("too_many_frames", "Too many frames a second.")
            await self.close(code=CLOSE_TOO_MANY)
            return
        try:
            if bytes_data is not None:
                self._record(bytes_data)
                return
            if not await self._session_is_current():  # a logout ends the socket too
                self.chat_id = None
                await self.close(code=CLOSE_SESSION_ENDED)
                return
            data = orjson.loads(text_data or "null")
            if not isinstance(data, dict) or not isinstance(data.get("type"), str):
                raise BadRequest('Frames are binary audio or JSON with a "type".')
            await self._control(data)
        except orjson.JSONDecodeError:
            await self._error("bad_json", "Control frames must be JSON objects.")
        except Exception as error:  # every failure is an error event; the socket stays
            failure = as_chat_error(error)
            await self._error(failure.code, failure.message, **failure.fields())

    def _record(self, chunk: bytes) -> None:
        if len(self.recording) + len(chunk) > settings.STT_MAX_BYTES:
            self.recording.clear()
            limit = settings.STT_MAX_BYTES // 1024 // 1024
            raise AttachmentTooLarge(f"Recordings are limited to {limit} MB; start again.")
        self.recording += chunk

    async def _control(self, data: dict[str, Any]) -> None:
        kind = data["type"]
        if kind == "start":
            self.recording.clear()
        elif kind == "end":
            await self._heard(send=data.get("send") is True)
        elif kind == "speak":
            message_id = number_input(data.get("message_id"), what="message_id")
            await self.voice.put((message_id, None))
        elif kind == "ping":
            await self._send({"type": "pong"})
        else:
            raise BadRequest(f"Unknown type {kind[:40]!r}.")

    async def _heard(self, *, send: bool) -> None:
        """The recording so far, transcribed; sent to the chat when asked."""
        recording, self.recording = bytes(self.recording), bytearray()
        text = await actions.transcription_create(
            owner=self.owner, data=recording, address=self._address()
        )
        await self._send({"type": "transcript", "text": text})
        if send and text:
            job = await actions.turn_send(
                owner=self.owner, chat_id=self._chat_id(), content=text, address=self._address()
            )
            if isinstance(job, actions.Posted):
                return  # a manual scene: nobody was asked to answer
            self.speaking, self.written, self.said = job.turn.reply.pk, "", 0

    # --- the reply, spoken as it is written ------------------------------------------

    async def chat_stream(self, event: dict[str, Any]) -> None:
        if event["message_id"] != self.speaking:
            return
        self.written += event["content"]
        part, self.said = next_sentences(self.written, self.said, final=False)
        if part:
            await self.voice.put((event["message_id"], part))

    async def chat_complete(self, event: dict[str, Any]) -> None:
        message = event["message"]
        if message["id"] != self.speaking:
            return
        self.speaking = None
        part, self.said = next_sentences(message["content"], self.said, final=True)
        if part.strip():
            await self.voice.put((message["id"], part))
        await self.voice.put((message["id"], ""))  # the end of this reply

    async def _speak_in_order(self) -> None:
        """Read each queued part (None: a whole reply; "": the end of one) in turn."""
        while True:
            message_id, part = await self.voice.get()
            if part == "":
                await self._send({"type": "audio_end", "message_id": message_id})
                continue
            try:
                audio = await actions.message_speech(
                    owner=self.owner, chat_id=self._chat_id(), message_id=message_id, part=part
                )
            except Exception as error:
                failure = as_chat_error(error)
                await self._error(failure.code, failure.message, message_id=message_id)
                continue
            await self._send(
                {
                    "type": "audio",
                    "message_id": message_id,
                    "content_type": audio.content_type,
                    "size": len(audio.data),
                }
            )
            await self.send(bytes_data=audio.data)
            if part is None:
                await self._send({"type": "audio_end", "message_id": message_id})

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Group events this socket has no use for (titles, lists...) are dropped."""
        kind = message["type"]
        if kind.startswith("chat.") and kind not in ("chat.stream", "chat.complete"):
            return
        await super().dispatch(message)

    # --- helpers ---------------------------------------------------------------------

    async def _send(self, payload: dict[str, Any]) -> None:
        await self.send(text_data=orjson.dumps(payload).decode())

    async def _error(self, code: str, message: str, **fields: Any) -> None:
        await self._send({"type": "error", "code": code, "message": message, **fields})
