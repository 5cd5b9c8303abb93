"""The prompt for a reply: persona first, then as many of the newest turns as fit.

Budget: the backend's context window minus the reply's max_tokens and a safety margin.
The persona's system prompt is never cut; if even the full persona text doesn't fit, the
example dialogue goes first, then the scenario. Tokens are counted with the backend's
tokenizer where there is one (the embedded model), otherwise estimated at one token per
four characters plus a few tokens of per-message overhead.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

from chat.backends.base import Backend, ChatMessage, GenerationOptions
from chat.models import Message
from personas.models import Persona
from personas.prompts import (
    DEFAULT_USER_NAME,
    persona_post_history,
    persona_system_text,
    render_macros,
)

PER_MESSAGE_OVERHEAD = 4
SAFETY_MARGIN = 32


def build_prompt(
    *,
    persona: Persona,
    history: Sequence[Message],
    backend: Backend,
    options: GenerationOptions,
    user_name: str = DEFAULT_USER_NAME,
) -> list[ChatMessage]:
    """The messages to send: system text, the newest turns that fit the budget, then the
    persona's post-history instructions (if any)."""
    reserve = (options.max_tokens or 512) + SAFETY_MARGIN
    budget = max(backend.context_window - reserve, 0)

    def cost(text: str) -> int:
        return backend.count_tokens(text) + PER_MESSAGE_OVERHEAD

    system = _fitting_system_text(persona, budget, cost, user_name)
    after = persona_post_history(persona, user=user_name)
    remaining = budget - cost(system) - (cost(after) if after else 0)
    turns: list[ChatMessage] = []
    for message in reversed(history):
        content = render_macros(message.content, char=persona.name, user=user_name)
        needed = cost(content)
        if needed > remaining and turns:
            break
        turns.append({"role": message.role, "content": content})
        remaining -= needed
    closing: list[ChatMessage] = [{"role": "system", "content": after}] if after else []
    return [{"role": "system", "content": system}, *reversed(turns), *closing]


def _fitting_system_text(
    persona: Persona, budget: int, cost: Callable[[str], int], user_name: str
) -> str:
    """The fullest persona text that fits: drop examples, then scenario, never the prompt."""
    variants = [
        persona_system_text(persona, user=user_name),
        persona_system_text(_without(persona, "example_dialogue"), user=user_name),
        persona_system_text(_without(persona, "example_dialogue", "scenario"), user=user_name),
    ]
    for text in variants[:-1]:
        if cost(text) <= budget:
            return text
    return variants[-1]


def _without(persona: Persona, *blank: str) -> Persona:
    """A copy of the persona with these text fields blanked (never saved)."""
    trimmed = copy.copy(persona)
    for name in blank:
        setattr(trimmed, name, "")
    return trimmed
