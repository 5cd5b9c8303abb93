"""Impersonation: the model writes the person's next message, for them to edit and send.

A draft belongs to the connection that asked for it: its text streams back to that one
connection only, and nothing is saved. It counts against the same rate limits as a turn,
and goes through the same backend (and the embedded model's line) as replies.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing

from channels.db import database_sync_to_async
from django.conf import settings

from chat.attempts import count_attempt
from chat.backends.base import GenerationSummary
from chat.backends.registry import backend_for_persona
from chat.errors import NotFound
from chat.jobs import Draft
from chat.ownership import Owner
from chat.prompting import IMPERSONATE_INSTRUCTION, AuthorsNote
from chat.selectors import chat_for_turn, chat_user, prompt_history
from stormchat.text import without_nul

EVERY_POSITION = 2**31  # past any message's position: the whole history


def _draft(owner: Owner, chat_id: str, address: str | None, count: bool) -> Draft:
    if count:
        count_attempt(owner, address)
    chat = chat_for_turn(chat_id=chat_id, owner=owner)
    if chat is None:
        raise NotFound("No such chat.")
    backend, options = backend_for_persona(chat.persona)
    return Draft(
        chat=chat,
        backend=backend,
        options=options,
        history=prompt_history(chat=chat, before_position=EVERY_POSITION),
        user=chat_user(chat),
        authors_note=AuthorsNote(chat.authors_note, chat.authors_note_depth),
    )


async def impersonation(
    *, owner: Owner, chat_id: str, address: str | None = None, rate_limited: bool = True
) -> AsyncIterator[str]:
    """The person's next message as the model writes it, delta by delta."""
    draft = await database_sync_to_async(_draft)(owner, chat_id, address, rate_limited)
    loop = asyncio.get_running_loop()
    prompt = await loop.run_in_executor(None, draft.prompt, IMPERSONATE_INSTRUCTION)
    room = settings.MAX_MESSAGE_CHARS
    stream = draft.backend.stream(prompt.messages, draft.options)
    async with aclosing(stream):
        async for item in stream:
            if isinstance(item, GenerationSummary):
                continue
            yield without_nul(item[:room])
            room -= len(item)
            if room <= 0:
                break
