"""How a persona's fields become the text the model reads.

The order follows SillyTavern's for Character Card V2 fields: the system prompt (or a
default when a card has none), then description, personality, scenario and example
dialogue; ``post_history_instructions`` go after the chat history. ``{{char}}`` and
``{{user}}`` (any case, and the legacy ``<BOT>`` / ``<USER>``) become the persona's and
the person's names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from personas.models import Persona

DEFAULT_USER_NAME = "User"
DEFAULT_SYSTEM_PROMPT = (
    "You are {{char}}. Write {{char}}'s next reply in a fictional chat with {{user}}. "
    "Stay in character: speak as {{char}} would, in their voice, and never mention being "
    "an AI."
)
_CHAR = re.compile(r"\{\{char\}\}|<BOT>", re.IGNORECASE)
_USER = re.compile(r"\{\{user\}\}|<USER>", re.IGNORECASE)


def render_macros(text: str, *, char: str, user: str = DEFAULT_USER_NAME) -> str:
    """Substitute the ``{{char}}`` and ``{{user}}`` macros used by character cards."""
    if "{" not in text and "<" not in text:
        return text
    return _USER.sub(lambda _: user, _CHAR.sub(lambda _: char, text))


def persona_system_text(
    persona: Persona,
    *,
    user: str = DEFAULT_USER_NAME,
    lore: Mapping[str, Sequence[str]] | None = None,
    closing: str = "",
) -> str:
    """The persona's full system message: instructions, character, scenario, examples.

    ``lore`` is lore text by slot: ``before_char`` and ``after_char`` (around the
    description), ``personality`` and ``scenario`` (after those sections). ``closing``
    ends the instructions (the reader's spoiler boundary).
    """
    slots = lore or {}
    parts = [persona.system_prompt.strip() or DEFAULT_SYSTEM_PROMPT]
    if closing:
        parts.append(closing)
    parts.extend(slots.get("before_char", ()))
    if persona.description.strip():
        parts.append(persona.description.strip())
    parts.extend(slots.get("after_char", ()))
    if persona.personality.strip():
        parts.append(f"{{{{char}}}}'s personality: {persona.personality.strip()}")
        parts.extend(slots.get("personality", ()))
    if persona.scenario.strip():
        parts.append(f"Scenario:\n{persona.scenario.strip()}")
        parts.extend(slots.get("scenario", ()))
    if persona.example_dialogue.strip():
        parts.append(
            "Example dialogue (shows the voice; do not repeat it):\n"
            f"{persona.example_dialogue.strip()}"
        )
    return render_macros("\n\n".join(parts), char=persona.name, user=user)


def persona_post_history(persona: Persona, *, user: str = DEFAULT_USER_NAME) -> str:
    """Instructions that follow the chat history, with macros filled in ("" if none)."""
    return render_macros(persona.post_history_instructions.strip(), char=persona.name, user=user)


def persona_greetings(persona: Persona, *, user: str = DEFAULT_USER_NAME) -> list[str]:
    """Every opening message: the greeting first, then the alternates, macros filled in."""
    texts = [persona.greeting, *(g for g in persona.alternate_greetings if isinstance(g, str))]
    return [render_macros(t.strip(), char=persona.name, user=user) for t in texts if t.strip()]


def persona_greeting(persona: Persona, *, user: str = DEFAULT_USER_NAME, index: int = 0) -> str:
    """One opening message (the main greeting unless ``index`` picks an alternate)."""
    greetings = persona_greetings(persona, user=user) or [f"*{persona.name} is here.*"]
    return greetings[index if 0 <= index < len(greetings) else 0]
