"""Persona fidelity on the embedded model: the 8 shipped personas by 5 prompts.

Each reply is written on the path a turn takes (``build_prompt`` over the persona's
greeting and one user message, then the local backend's ``stream``), twice: with the
persona's shipped sampling, and with the penalties that keep a small model in voice
(``repeat_penalty``, ``min_p``) taken out. Two figures per pass:

- the distinct 4-gram ratio of each reply (distinct word 4-grams / all word 4-grams; 1.0
  never repeats a phrase, a loop drives it toward 0), as the mean, the lowest and the share
  of replies at 0.9 or better;
- the share of replies with at least one word of the persona's own name or epithet (from
  ``personas/seed/personas.toml``).

The seed is fixed per prompt, so a run repeats. ``python -m bench.fidelity`` prints JSON
(about 7 minutes on one core); ``FIDELITY_MAX_TOKENS`` (default 200) bounds each reply.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import sys
import time
from dataclasses import replace
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stormchat.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from chat.backends.base import GenerationOptions  # noqa: E402
from chat.backends.registry import backend_for_persona  # noqa: E402
from chat.models import Message  # noqa: E402
from chat.prompting import build_prompt  # noqa: E402
from personas.models import Persona  # noqa: E402
from personas.services import seed_definitions  # noqa: E402

PROMPTS = (
    "Who are you, and what do you carry with you?",
    "Tell me about the worst day of your life.",
    "What do you think of the Alethi highprinces?",
    "Describe the last highstorm you lived through.",
    "What would you say to someone who is afraid to go on?",
)
MAX_TOKENS = int(os.environ.get("FIDELITY_MAX_TOKENS", "200"))
WORD = re.compile(r"[\w']+")
# Words of an epithet that say nothing of the persona ("of", "the").
FILLER = {"of", "the", "and", "in", "to", "a", "an"}


def distinct_4gram_ratio(text: str) -> float:
    """Distinct word 4-grams over all of them (1.0 for a reply too short to repeat one)."""
    words = WORD.findall(text.lower())
    grams = [tuple(words[i : i + 4]) for i in range(len(words) - 3)]
    return len(set(grams)) / len(grams) if grams else 1.0


def own_words(definition: dict[str, Any]) -> set[str]:
    """The words of a persona's name and epithet that would show it speaking as itself."""
    words = WORD.findall(f"{definition['name']} {definition.get('epithet', '')}".lower())
    return {word for word in words if word not in FILLER and len(word) > 2}


def names_itself(text: str, words: set[str]) -> bool:
    return bool(words & set(WORD.findall(text.lower())))


async def reply(persona: Persona, prompt: str, options: GenerationOptions) -> str:
    backend, _ = backend_for_persona(persona, override="local")
    history = [
        Message(role=Message.Role.ASSISTANT, content=persona.greeting, position=1),
        Message(role=Message.Role.USER, content=prompt, position=2),
    ]
    built = build_prompt(persona=persona, history=history, backend=backend, options=options)
    stream = backend.stream(built.messages, options)
    return "".join([item async for item in stream if isinstance(item, str)])


async def one_pass(personas: list[tuple[Persona, set[str]]], *, shipped: bool) -> dict[str, Any]:
    ratios: list[float] = []
    named = 0
    started = time.perf_counter()
    for persona, words in personas:
        _, options = backend_for_persona(persona, override="local")
        options = replace(options, max_tokens=MAX_TOKENS)
        if not shipped:
            options = replace(options, repeat_penalty=None, min_p=None)
        for seed, prompt in enumerate(PROMPTS, start=1):
            text = await reply(persona, prompt, replace(options, seed=seed))
            ratios.append(distinct_4gram_ratio(text))
            named += names_itself(text, words)
    return {
        "replies": len(ratios),
        "distinct_4gram_ratio_mean": round(statistics.fmean(ratios), 3),
        "distinct_4gram_ratio_min": round(min(ratios), 3),
        "share_at_or_above_0_9": round(sum(r >= 0.9 for r in ratios) / len(ratios), 3),
        "share_naming_itself": round(named / len(ratios), 3),
        "seconds": round(time.perf_counter() - started, 1),
    }


async def main() -> None:
    personas = [(Persona(**definition), own_words(definition)) for definition in seed_definitions()]
    shipped = await one_pass(personas, shipped=True)
    plain = await one_pass(personas, shipped=False)
    print(json.dumps({
        "personas": len(personas), "prompts": len(PROMPTS), "max_tokens": MAX_TOKENS,
        **shipped,
        "without_penalties": plain,
    }))  # fmt: skip


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
