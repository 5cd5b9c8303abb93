"""Starting a turn: save the messages and build the prompt, in one trip to the database."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Literal

from chat.backends.base import Backend, ChatMessage, GenerationOptions
from chat.backends.registry import backend_for_persona
from chat.errors import RateLimited
from chat.models import Chat
from chat.ownership import Owner
from chat.prompting import build_prompt
from chat.selectors import prompt_history
from chat.services import Turn, turn_edit, turn_regenerate, turn_start
from personas.prompts import DEFAULT_USER_NAME
from stormchat.limits import attempt, limit_for

# Message text is logged only at DEBUG level: operators switch it on, never by default.
logger = logging.getLogger(__name__)

TurnKind = Literal["chat", "regenerate", "edit"]


@dataclass(frozen=True)
class PreparedTurn:
    """A saved turn, ready to generate: the reply to write and what to send the model."""

    chat_id: uuid.UUID
    owner: Owner
    turn: Turn
    backend: Backend
    options: GenerationOptions
    prompt: list[ChatMessage]
    # The first exchange of an untitled chat gets a title once the reply completes.
    wants_title: bool = False


def turn_attempt(*, owner: Owner) -> None:
    """Count one attempt to start a reply; RateLimited past RATE_LIMITS["messages"].

    Every attempt counts, including ones refused later (busy, too long), so retrying in a
    loop does not get around the limit.
    """
    limit = limit_for("messages")
    decision = attempt(limit, owner.identity)
    if not decision.allowed:
        raise RateLimited(
            f"That is more than {limit.count} messages in {limit.window:g} seconds. "
            f"Try again in {decision.retry_after} s.",
            retry_after=decision.retry_after,
        )


def prepare_turn(
    *,
    kind: TurnKind,
    chat_id: uuid.UUID,
    owner: Owner,
    content: object = None,
    message_id: object = None,
    backend_name: str | None = None,
    rate_limited: bool = True,
) -> PreparedTurn:
    """Count the attempt, save the turn (raising ChatError subclasses), then build its
    prompt. Blocking. ``backend_name`` overrides the persona's backend (the terminal chat
    uses it); operators' own commands pass ``rate_limited=False``."""
    if rate_limited:
        turn_attempt(owner=owner)
    if isinstance(content, str):
        logger.debug("%s in chat %s: %r", kind, chat_id, content)
    chat = Chat.objects.select_related("persona", "user").get(pk=chat_id)
    persona = chat.persona
    backend, options = backend_for_persona(persona, backend_name)
    target = {"backend": backend.name, "model": options.model}
    if kind == "chat":
        turn = turn_start(chat_id=chat_id, content=content, **target)
    elif kind == "regenerate":
        turn = turn_regenerate(chat_id=chat_id, **target)
    else:
        turn = turn_edit(
            chat_id=chat_id,
            message_id=message_id,
            content=content,
            **target,
        )
    history = prompt_history(chat=chat, before_position=turn.reply.position)
    user_name = chat.user.get_username() if chat.user else DEFAULT_USER_NAME
    prompt = build_prompt(
        persona=persona, history=history, backend=backend, options=options, user_name=user_name
    )
    first_exchange = turn.user is not None and not chat.title and len(history) <= 2
    return PreparedTurn(chat_id, chat.owner, turn, backend, options, prompt, first_exchange)
