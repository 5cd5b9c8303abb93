"""Automatic chat titles: a small separate prompt after the first exchange.

The backend is asked for a title of at most six words. If it fails, times out or answers
with nothing usable, the title falls back to the first words of the user's message.
"""

from __future__ import annotations

import asyncio
import copy
import re
from contextlib import aclosing

from channels.db import database_sync_to_async

from chat import events
from chat.backends.base import Backend, GenerationOptions, GenerationSummary
from chat.errors import BackendError
from chat.models import Chat
from chat.ownership import Owner
from chat.services import chat_set_title_if_untitled

MAX_WORDS = 6
MAX_TITLE_CHARS = 120
# Straight and typographic quotes, and Markdown emphasis, that models wrap titles in.
QUOTES = "\"'*#`\u201c\u201d\u2018\u2019"
TITLE_TIMEOUT_SECONDS = 20


def fallback_title(user_text: str) -> str:
    """The first words of the user's message."""
    words = re.sub(r"[*_`#>\[\]]", "", user_text).split()
    return " ".join(words[:MAX_WORDS]) or "New chat"


def clean_title(raw: str) -> str:
    """The model's answer as a title: first line, no quotes or labels, at most six words."""
    line = next((part for part in raw.strip().splitlines() if part.strip()), "")
    line = re.sub(r"^\s*(title\s*:)\s*", "", line, flags=re.IGNORECASE)
    line = line.strip().strip(QUOTES).rstrip(".!?:;,")
    return " ".join(line.split()[:MAX_WORDS])


async def ask_for_title(backend: Backend, model: str, user_text: str, reply_text: str) -> str:
    """Ask the backend for a short title; empty if it gives nothing usable."""
    prompt = [
        {"role": "system", "content": "You name conversations. Answer with the title only."},
        {
            "role": "user",
            "content": (
                f"Write a title of at most {MAX_WORDS} words for this conversation.\n\n"
                f"User: {user_text[:1000]}\nAssistant: {reply_text[:1000]}\n\nTitle:"
            ),
        },
    ]
    options = GenerationOptions(model=model, temperature=0.2, max_tokens=20)
    parts: list[str] = []
    async with aclosing(backend.stream(prompt, options)) as stream:
        async for item in stream:
            if not isinstance(item, GenerationSummary):
                parts.append(item)
                # A title is one short line: stop reading (and close upstream) once it is
                # written, even if the backend ignores max_tokens.
                if "\n" in "".join(parts).strip() or sum(map(len, parts)) > MAX_TITLE_CHARS:
                    break
    return clean_title("".join(parts))


async def title_chat(
    *,
    chat: Chat,
    owner: Owner,
    backend: Backend,
    model: str,
    user_text: str,
    reply_text: str,
) -> str:
    """Title an untitled chat and tell its pages; returns the title it chose."""
    try:
        title = await asyncio.wait_for(
            ask_for_title(backend, model, user_text, reply_text), TITLE_TIMEOUT_SECONDS
        )
    except (BackendError, TimeoutError):
        title = ""
    if len(title) < 2:
        title = fallback_title(user_text)
    if await database_sync_to_async(chat_set_title_if_untitled)(chat_id=chat.pk, title=title):
        titled = copy.copy(chat)
        titled.title = title
        await events.publish(
            events.chat_group(chat.pk), events.title_event(chat_id=chat.pk, title=title)
        )
        await events.publish(events.owner_group(owner), events.listed_event(titled))
    return title
