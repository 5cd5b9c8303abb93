"""Starting a turn: save the messages and build the prompt, in one trip to the database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from chat.backends.base import Backend, ChatMessage, GenerationOptions
from chat.backends.registry import backend_for_persona
from chat.models import Chat
from chat.ownership import Owner
from chat.prompting import build_prompt
from chat.selectors import prompt_history
from chat.services import Turn, turn_edit, turn_regenerate, turn_start

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


def prepare_turn(
    *,
    kind: TurnKind,
    chat_id: uuid.UUID,
    content: object = None,
    message_id: object = None,
) -> PreparedTurn:
    """Save the turn (raising ChatError subclasses), then build its prompt. Blocking."""
    chat = Chat.objects.select_related("persona").get(pk=chat_id)
    persona = chat.persona
    backend, options = backend_for_persona(persona)
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
    prompt = build_prompt(persona=persona, history=history, backend=backend, options=options)
    first_exchange = turn.user is not None and not chat.title and len(history) <= 2
    return PreparedTurn(chat_id, chat.owner, turn, backend, options, prompt, first_exchange)
