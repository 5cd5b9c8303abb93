"""CCv3 macros: names, random and picked choices, rolls and comments, any case."""

from __future__ import annotations

import random

from personas.macros import Dice, render_macros


def render(text: str, dice: Dice | None = None) -> str:
    return render_macros(text, char="Kaladin", user="Lopen", dice=dice)


def test_names_in_any_case_and_the_old_forms() -> None:
    assert (
        render("{{CHAR}} and {{user}}; <BOT> and <user>") == "Kaladin and Lopen; Kaladin and Lopen"
    )


def test_comments_disappear() -> None:
    assert render("Hello{{// not for the model, even {{char}} }} there") == "Hello there"


def test_random_draws_from_the_choices_with_escaped_commas() -> None:
    seen = {render("{{Random:storm,spren\\, bright}}") for _ in range(200)}
    assert seen == {"storm", "spren, bright"}


def test_pick_is_the_same_everywhere_in_one_prompt() -> None:
    dice = Dice(random.Random(3))
    text = "{{pick:a,b,c,d,e,f}} {{pick:a,b,c,d,e,f}} {{PICK:a,b,c,d,e,f}}"
    first, second, third = render(text, dice).split()
    assert first == second == third
    drawn = {render("{{pick:a,b,c,d,e,f}}", Dice(random.Random(seed))) for seed in range(50)}
    assert len(drawn) > 1  # but differs between prompts


def test_rolls_stay_within_the_die_and_bad_ones_stay_as_written() -> None:
    rolls = {int(render("{{roll:d6}}")) for _ in range(300)}
    assert rolls == {1, 2, 3, 4, 5, 6}
    assert render("{{roll:6}}") in {"1", "2", "3", "4", "5", "6"}
    assert render("{{roll:dx}}") == "{{roll:dx}}"
