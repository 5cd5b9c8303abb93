"""How a persona's fields become the text the model reads.

The order follows SillyTavern's for Character Card V2 fields: the system prompt (or a
default when a card has none), then description, personality, scenario and example
dialogue; ``post_history_instructions`` go after the chat history. Macros are filled in
(``personas.macros``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from personas.macros import DEFAULT_USER_NAME, Dice, render_macros

if TYPE_CHECKING:
    from personas.models import Persona

DEFAULT_SYSTEM_PROMPT = (
    "You are {{char}}. Write {{char}}'s next reply in a fictional chat with {{user}}. "
    "Stay in character: speak as {{char}} would, in their voice, and never mention being "
    "an AI."
)


def persona_system_text(
    persona: Persona,
    *,
    user: str = DEFAULT_USER_NAME,
    lore: Mapping[str, Sequence[str]] | None = None,
    closing: str = "",
    dice: Dice | None = None,
    user_description: str = "",
) -> str:
    """The persona's full system message: instructions, character, scenario, examples.

    ``lore`` is lore text by slot: ``before_char`` and ``after_char`` (around the
    description), ``personality`` and ``scenario`` (after those sections). ``closing``
    ends the instructions (the reader's spoiler boundary). ``user_description`` (who the
    person plays) follows the character's description.
    """
    slots = lore or {}
    parts = [persona.system_prompt.strip() or DEFAULT_SYSTEM_PROMPT]
    if closing:
        parts.append(closing)
    parts.extend(slots.get("before_char", ()))
    if persona.description.strip():
        parts.append(persona.description.strip())
    parts.extend(slots.get("after_char", ()))
    if user_description.strip():
        parts.append(f"About {{{{user}}}}:\n{user_description.strip()}")
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
    return render_macros("\n\n".join(parts), char=persona.char_name, user=user, dice=dice)


def persona_post_history(
    persona: Persona, *, user: str = DEFAULT_USER_NAME, dice: Dice | None = None
) -> str:
    """Instructions that follow the chat history, with macros filled in ("" if none)."""
    text = persona.post_history_instructions.strip()
    return render_macros(text, char=persona.char_name, user=user, dice=dice)


def persona_greetings(
    persona: Persona, *, user: str = DEFAULT_USER_NAME, group: bool = False
) -> list[str]:
    """Every opening message: the greeting first, then the alternates, macros filled in.
    A group scene opens with the card's group-only greetings when it has some."""
    return [
        render_macros(text, char=persona.char_name, user=user)
        for text in _greeting_texts(persona, group=group)
    ]


def persona_greeting_count(persona: Persona) -> int:
    """How many opening messages the persona has (without filling in their macros)."""
    return len(_greeting_texts(persona, group=False))


def _greeting_texts(persona: Persona, *, group: bool) -> list[str]:
    texts = [persona.greeting, *(g for g in persona.alternate_greetings if isinstance(g, str))]
    if group:
        texts = [g for g in persona.group_only_greetings if isinstance(g, str)] or texts
    return [text.strip() for text in texts if text.strip()]


def persona_greeting(
    persona: Persona, *, user: str = DEFAULT_USER_NAME, index: int = 0, group: bool = False
) -> str:
    """One opening message (the main greeting unless ``index`` picks an alternate)."""
    greetings = persona_greetings(persona, user=user, group=group)
    greetings = greetings or [f"*{persona.name} is here.*"]
    return greetings[index if 0 <= index < len(greetings) else 0]
