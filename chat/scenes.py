"""Group scenes: who is in a chat, who speaks next, and what each member witnessed.

A chat has one or more members. A chat with one member is an ordinary chat: it goes
through exactly this code, and its member always answers. With several, the chat's
``activation`` decides who answers a message:

- ``natural``: a member named in the last message (the first named, in the order the
  text names them); otherwise a draw weighted by talkativeness among the unmuted members,
  never the one who just spoke unless they are alone;
- ``list``: every unmuted member, in the scene's order;
- ``manual``: nobody, until someone is asked.

Every message records the members present when it was written (joined and not muted);
a member's prompt holds only the messages they were present for, so a member who arrives
late, or was muted or away, never knows what was said without them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from chat.models import Activation
from personas.models import Persona
from stormchat.chance import CHANCE

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Member:
    """A persona in a chat, as a turn reads it."""

    persona: Persona
    muted: bool
    joined_at: datetime

    @property
    def slug(self) -> str:
        return self.persona.slug


def present(members: Sequence[Member]) -> list[str]:
    """The slugs of the members who hear what is said now: joined and not muted."""
    return [member.slug for member in members if not member.muted]


def _words(text: str) -> set[str]:
    return {word.casefold() for word in _WORD.findall(text)}


def named_in(text: str, members: Sequence[Member]) -> list[Member]:
    """The members the text names (by any word of their name or nickname, as SillyTavern
    matches them), in the order the text first names them."""
    words = [word.casefold() for word in _WORD.findall(text)]
    found: dict[str, tuple[int, Member]] = {}
    for member in members:
        names = _words(member.persona.name) | _words(member.persona.nickname)
        places = [index for index, word in enumerate(words) if word in names]
        if places:
            found[member.slug] = (places[0], member)
    return [member for _, member in sorted(found.values(), key=lambda item: item[0])]


def speakers(
    *,
    members: Sequence[Member],
    activation: str,
    last_text: str,
    last_speaker: str | None,
    chance: random.Random | None = None,
) -> list[Member]:
    """Who answers the last message (``last_text``, written by ``last_speaker``'s slug,
    or None for the person), in order: see the module's description."""
    awake = [member for member in members if not member.muted]
    if len(members) == 1 or not awake:
        return awake
    if activation == Activation.MANUAL:
        return []
    if activation == Activation.LIST:
        return awake
    others = [member for member in awake if member.slug != last_speaker] or awake
    named = named_in(last_text, others)
    if named:
        return named[:1]
    chance = chance or CHANCE
    weights = [max(member.persona.talkativeness, 0.0) for member in others]
    if not any(weights):
        return [chance.choice(others)]
    return chance.choices(others, weights=weights)
