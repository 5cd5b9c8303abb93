"""The context budget: the persona first and whole, then the newest turns that fit."""

from __future__ import annotations

import copy

import pytest

from chat.backends.base import BackendConfig, GenerationOptions
from chat.backends.openai_compat import OpenAICompatBackend
from chat.models import Message
from chat.prompting import PER_MESSAGE_OVERHEAD, SAFETY_MARGIN, build_prompt
from personas.models import Persona
from personas.prompts import persona_greeting_count, persona_greetings, persona_system_text


def backend(context_tokens: int) -> OpenAICompatBackend:
    return OpenAICompatBackend(BackendConfig(name="openai", context_tokens=context_tokens))


def turns(count: int, size: int = 400) -> list[Message]:
    return [
        Message(
            role="user" if i % 2 else "assistant", content=f"turn {i} " + "x" * size, position=i
        )
        for i in range(1, count + 1)
    ]


@pytest.mark.django_db
def test_everything_fits_in_a_large_window(kaladin: Persona) -> None:
    history = turns(6)
    prompt = build_prompt(
        persona=kaladin, history=history, backend=backend(100_000), options=GenerationOptions()
    ).messages
    assert prompt[0]["role"] == "system"
    assert "Scenario:" in prompt[0]["content"]
    assert "Example dialogue" in prompt[0]["content"]
    assert [m["content"] for m in prompt[1:]] == [m.content for m in history]


@pytest.mark.django_db
def test_only_the_newest_turns_that_fit_are_kept(kaladin: Persona) -> None:
    history = turns(40)
    options = GenerationOptions(max_tokens=200)
    prompt = build_prompt(
        persona=kaladin, history=history, backend=backend(3000), options=options
    ).messages
    kept = [m["content"] for m in prompt[1:]]
    assert 0 < len(kept) < 40
    assert kept == [m.content for m in history[-len(kept) :]]  # a contiguous newest suffix
    total = sum(len(m["content"]) // 4 + 5 for m in prompt)
    assert total <= 3000 - 200


@pytest.mark.django_db
def test_the_system_prompt_is_never_cut(kaladin: Persona) -> None:
    options = GenerationOptions(max_tokens=100)
    prompt = build_prompt(
        persona=kaladin, history=turns(3), backend=backend(500), options=options
    ).messages
    system = prompt[0]["content"]
    assert system.startswith(kaladin.system_prompt.strip()[:200])
    assert kaladin.system_prompt.strip().splitlines()[-1] in system
    assert "Example dialogue" not in system  # dropped before the prompt
    assert prompt[-1]["content"] == turns(3)[-1].content  # the newest turn always goes


@pytest.mark.django_db
def test_macros_in_history_are_filled(kaladin: Persona) -> None:
    history = [Message(role="user", content="Hello {{char}}", position=2)]
    prompt = build_prompt(
        persona=kaladin, history=history, backend=backend(10_000), options=GenerationOptions()
    ).messages
    assert prompt[-1]["content"] == "Hello Kaladin"


@pytest.mark.django_db
def test_examples_are_dropped_before_the_scenario(kaladin: Persona) -> None:
    without_examples = copy.copy(kaladin)
    without_examples.example_dialogue = ""
    text = persona_system_text(without_examples)
    options = GenerationOptions(max_tokens=100)
    # Room for exactly the persona without its examples.
    context = len(text) // 4 + 1 + PER_MESSAGE_OVERHEAD + 100 + SAFETY_MARGIN
    prompt = build_prompt(
        persona=kaladin, history=[], backend=backend(context), options=options
    ).messages
    assert prompt[0]["content"] == text
    assert "Scenario:" in text


def test_greetings_are_counted_as_they_are_offered() -> None:
    persona = Persona(
        name="Wit",
        greeting="Hello, {{user}}.",
        alternate_greetings=["  ", "A {{random:joke,song}}?", 7, "Goodbye."],
    )
    offered = persona_greetings(persona)
    assert offered[0] == "Hello, User."
    assert persona_greeting_count(persona) == len(offered) == 3
