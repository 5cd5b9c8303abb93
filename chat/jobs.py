"""What a run needs to write one reply, read once when its turn is saved."""

from __future__ import annotations

from dataclasses import dataclass

from chat.backends.base import Backend, GenerationOptions
from chat.models import Chat, Message
from chat.ownership import Owner
from chat.prompting import AuthorsNote, BuiltPrompt, LoreSources, SceneView, build_prompt
from chat.selectors import PromptUser
from chat.services import Turn
from personas.models import Persona


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
    user: PromptUser
    continued: bool = False
    regenerated: bool = False
    lore: LoreSources | None = None
    authors_note: AuthorsNote | None = None
    # What this turn asks beyond a plain reply (continue), last in the prompt.
    instruction: str = ""
    # The first exchange of an untitled chat gets a title once the reply completes.
    wants_title: bool = False
    # Whether the model sees pictures (they go with their turns) or gets their names.
    vision: bool = False
    # Who writes the reply (the chat's only member, or one of a scene's), the scene as
    # they see it, and who speaks after them: the rest of the queue, then ``auto`` more
    # replies chosen as the members talk among themselves.
    speaker: Persona | None = None
    scene: SceneView | None = None
    queue: tuple[str, ...] = ()
    auto: int = 0

    @property
    def persona(self) -> Persona:
        """The persona writing this reply."""
        return self.speaker or self.chat.persona

    def prompt(self) -> BuiltPrompt:
        """The messages to send the model, and the lore in them (blocking: counts tokens)."""
        return build_prompt(
            persona=self.persona,
            history=self.history,
            backend=self.backend,
            options=self.options,
            user_name=self.user.name,
            user_description=self.user.description,
            lore=self.lore,
            authors_note=self.authors_note,
            instruction=self.instruction,
            vision=self.vision,
            scene=self.scene,
        )


@dataclass(frozen=True)
class Draft:
    """What an impersonation's prompt is built from: the chat as it stands (no lore: the
    model writes as the person, who brings their own knowledge)."""

    chat: Chat
    backend: Backend
    options: GenerationOptions
    history: list[Message]
    user: PromptUser
    authors_note: AuthorsNote | None = None

    def prompt(self, instruction: str) -> BuiltPrompt:
        """The messages to send, ending with ``instruction`` (blocking: counts tokens)."""
        return build_prompt(
            persona=self.chat.persona,
            history=self.history,
            backend=self.backend,
            options=self.options,
            user_name=self.user.name,
            user_description=self.user.description,
            authors_note=self.authors_note,
            instruction=instruction,
        )
