"""Macros in persona and lore text (Character Card V3's curly-braced syntax), any case:

- ``{{char}}`` (and the old ``<BOT>``) is the persona's name, ``{{user}}`` (``<USER>``) the
  person's;
- ``{{random:a,b,c}}`` is one of the choices, drawn anew each time;
- ``{{pick:a,b,c}}`` is one of the choices, the same one everywhere in one prompt;
- ``{{roll:d6}}`` (or ``{{roll:6}}``) is a number from 1 to 6;
- ``{{// a comment}}`` disappears.

In choices, ``\\,`` is a comma that doesn't separate.
"""

from __future__ import annotations

import random
import re

from stormchat.chance import CHANCE

DEFAULT_USER_NAME = "User"
_CHAR = re.compile(r"\{\{char\}\}|<BOT>", re.IGNORECASE)
_USER = re.compile(r"\{\{user\}\}|<USER>", re.IGNORECASE)
# A comment may hold other macros ({{// about {{char}} }}): one level of nesting.
_COMMENT = re.compile(r"\{\{//(?:[^{}]|\{\{[^{}]*\}\}|\{(?!\{)|\}(?!\}))*\}\}")
_CHOICE = re.compile(r"\{\{(random|pick|roll)\s*:(.*?)\}\}", re.IGNORECASE | re.DOTALL)
_SEPARATOR = re.compile(r"(?<!\\),")
MAX_SIDES = 1_000_000


class Dice:
    """The randomness of one prompt: ``pick`` answers the same within it."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or CHANCE
        self.picked: dict[str, str] = {}

    def choose(self, kind: str, body: str) -> str | None:
        if kind == "roll":
            sides = body.strip().lower().removeprefix("d")
            if not sides.isdigit() or not 0 < int(sides) <= MAX_SIDES:
                return None
            return str(self.rng.randint(1, int(sides)))
        choices = [part.replace("\\,", ",").strip() for part in _SEPARATOR.split(body.lstrip(":"))]
        if kind == "random":
            return self.rng.choice(choices)
        key = body.strip()
        if key not in self.picked:
            self.picked[key] = self.rng.choice(choices)
        return self.picked[key]


def render_macros(
    text: str, *, char: str, user: str = DEFAULT_USER_NAME, dice: Dice | None = None
) -> str:
    """``text`` with its macros filled in (``dice``: the prompt's, so picks agree)."""
    if "{" not in text and "<" not in text:
        return text
    text = _COMMENT.sub("", text)
    if "{{" in text:
        chosen = dice or Dice()

        def replace(match: re.Match[str]) -> str:
            value = chosen.choose(match.group(1).lower(), match.group(2))
            return match.group(0) if value is None else value

        text = _CHOICE.sub(replace, text)
    return _USER.sub(lambda _: user, _CHAR.sub(lambda _: char, text))
