"""What of a reply is spoken, and in which voice.

Markdown is read as text: emphasis markers, links' addresses and headings' hashes go,
code blocks become "(code)" and inline code its words. Roleplay ``*actions*`` (single
asterisks or underscores, the convention SillyTavern and RisuAI share) are the narrator's:
read in the narrator's voice (``narrate``) or left out (``skip``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FENCE = re.compile(r"```.*?(```|$)|~~~.*?(~~~|$)", re.S)
INLINE_CODE = re.compile(r"`([^`]*)`")
IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
HTML_TAG = re.compile(r"<[^>]{1,200}>")
HEADING = re.compile(r"^\s{0,3}#{1,6}\s*", re.M)
QUOTE_OR_BULLET = re.compile(r"^\s*(?:>+|[-+*]|\d+[.)])\s+", re.M)
STRONG = re.compile(r"(\*\*|__)(.+?)\1", re.S)
# A roleplay action: *text* or _text_ that starts and ends beside a word.
ACTION = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])", re.S)


@dataclass(frozen=True)
class Spoken:
    """A stretch of text and whether the narrator reads it (an action)."""

    text: str
    narrator: bool = False


def speakable(markdown: str, *, actions: str = "narrate", limit: int = 4000) -> list[Spoken]:
    """The reply as stretches to speak, in order; empty when nothing is left to say."""
    text = FENCE.sub(" (code) ", markdown[: limit * 2])
    text = IMAGE.sub(r"\1", text)
    text = LINK.sub(r"\1", text)
    text = INLINE_CODE.sub(r"\1", text)
    text = HTML_TAG.sub(" ", text)
    text = HEADING.sub("", text)
    text = QUOTE_OR_BULLET.sub("", text)
    text = STRONG.sub(r"\2", text)
    parts: list[Spoken] = []
    at = 0
    for match in ACTION.finditer(text):
        parts.append(Spoken(text[at : match.start()]))
        if actions == "narrate":
            parts.append(Spoken(match.group(2), narrator=True))
        at = match.end()
    parts.append(Spoken(text[at:]))
    spoken, used = [], 0
    for part in parts:
        words = " ".join(part.text.replace("*", " ").replace("_", " ").split())
        if not any(c.isalnum() for c in words):
            continue
        words = words[: max(limit - used, 0)]
        if not words:
            break
        used += len(words)
        if spoken and spoken[-1].narrator == part.narrator:
            spoken[-1] = Spoken(f"{spoken[-1].text} {words}", part.narrator)
        else:
            spoken.append(Spoken(words, part.narrator))
    return spoken


SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019*_)\]]*\s+")


def next_sentences(text: str, start: int, *, final: bool, least: int = 40) -> tuple[str, int]:
    """The whole sentences written since ``start`` once there are ``least`` characters
    of them (at the end, whatever is left), and where the next part starts; ``("",
    start)`` while there is not enough yet. Speaking a reply as it streams reads these."""
    rest = text[start:]
    end = len(rest) if final else -1
    if not final:
        for match in SENTENCE_END.finditer(rest):
            end = match.end()
    if end > 0 and (final or len(rest[:end].strip()) >= least) and rest[:end].strip():
        return rest[:end], start + end
    return "", start
