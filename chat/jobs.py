"""What a run needs to write one reply, read once when its turn is saved."""

from __future__ import annotations

from dataclasses import dataclass

from chat.backends.base import Backend, GenerationOptions
from chat.models import Chat, Message
from chat.ownership import Owner
from chat.prompting import BuiltPrompt, LoreSources, build_prompt
from chat.services import Turn


@dataclass(frozen=True)
class ReplyJob:
    """A saved turn, ready to be written: the reply, the backend and what the prompt is
    built from (read in the same trip to the database as the turn was saved)."""

    chat: Chat
    owner: Owner
    turn: Turn
    edited: bool
    backend: Backend
    options: GenerationOptions
    history: list[Message]
    user_name: str
    lore: LoreSources | None = None
    # The first exchange of an untitled chat gets a title once the reply completes.
    wants_title: bool = False

    def prompt(self) -> BuiltPrompt:
        """The messages to send the model, and the lore in them (blocking: counts tokens)."""
        return build_prompt(
            persona=self.chat.persona,
            history=self.history,
            backend=self.backend,
            options=self.options,
            user_name=self.user_name,
            lore=self.lore,
        )
