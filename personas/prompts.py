"""How a persona's fields become the text the model reads."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from personas.models import Persona

DEFAULT_USER_NAME = "User"


def render_macros(text: str, *, char: str, user: str = DEFAULT_USER_NAME) -> str:
    """Substitute the ``{{char}}`` and ``{{user}}`` macros used by character cards."""
    return text.replace("{{char}}", char).replace("{{user}}", user)


def persona_system_text(persona: Persona, *, user: str = DEFAULT_USER_NAME) -> str:
    """The persona's full system message: instructions, then scenario and example dialogue."""
    parts = [persona.system_prompt.strip()]
    if persona.scenario.strip():
        parts.append(f"Scenario:\n{persona.scenario.strip()}")
    if persona.example_dialogue.strip():
        parts.append(
            "Example dialogue (shows the voice; do not repeat it):\n"
            f"{persona.example_dialogue.strip()}"
        )
    return render_macros("\n\n".join(parts), char=persona.name, user=user)


def persona_greeting(persona: Persona, *, user: str = DEFAULT_USER_NAME) -> str:
    """The persona's opening message, with macros filled in."""
    return render_macros(persona.greeting.strip(), char=persona.name, user=user)
